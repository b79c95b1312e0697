package labs_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/nslab/nslab/labs"
	"github.com/rogpeppe/go-internal/txtar"
)

// TestIndex checks that README.md, the index of the labs, matches their
// headers. NSLAB_UPDATE=1 rewrites it.
func TestIndex(t *testing.T) {
	want := labs.Index()
	if os.Getenv("NSLAB_UPDATE") != "" {
		if err := os.WriteFile("README.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("README.md")
	if err != nil || string(got) != want {
		t.Fatalf("labs/README.md is stale: run `NSLAB_UPDATE=1 go test ./labs -run TestIndex` and commit it")
	}
	for _, l := range labs.All() {
		if l.Title == "" || l.Teaches == "" {
			t.Errorf("%s.txtar: its header needs a \"# Lab: TITLE\" line and a line or more on what it teaches", l.Name)
		}
	}
}

// TestLabList checks that `nslab lab list` names every lab with its title.
func TestLabList(t *testing.T) {
	out, err := exec.Command("nslab", "lab", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("nslab lab list: %v\n%s", err, out)
	}
	for _, l := range labs.All() {
		if !strings.Contains(string(out), l.Name) || !strings.Contains(string(out), l.Title) {
			t.Errorf("nslab lab list does not show %s (%q):\n%s", l.Name, l.Title, out)
		}
	}
}

// TestNoCommandsInFileSections fails when a script command sits inside a
// lab's "-- FILE --" section: testscript never runs it there, so a check
// that lands in a file section is a silent no-op. It flags checks
// (stdout, stderr, cmp stdout, ! exec) and exec of docker or nslab, which a
// shell script in a file section has no reason to write: it runs them
// without exec.
func TestNoCommandsInFileSections(t *testing.T) {
	for _, l := range labs.All() {
		for _, f := range txtar.Parse([]byte(l.Script)).Files {
			for i, line := range strings.Split(string(f.Data), "\n") {
				if scriptCommand(line) {
					t.Errorf("%s.txtar, file %s, line %d: %q is a script command inside a file section, where it never runs; move it above the first \"-- FILE --\" line", l.Name, f.Name, i+1, line)
				}
			}
		}
	}
}

// scriptCommand reports whether line reads as a testscript command that
// only makes sense in a script.
func scriptCommand(line string) bool {
	w := labs.ScriptWords(line)
	neg := len(w) > 0 && w[0] == "!"
	if neg {
		w = w[1:]
	}
	if len(w) < 2 {
		return false
	}
	switch w[0] {
	case "stdout", "stderr":
		return true
	case "cmp", "cmpenv":
		return w[1] == "stdout" || w[1] == "stderr"
	case "exec":
		return neg || w[1] == "docker" || w[1] == "nslab"
	}
	return false
}

// TestScriptCommandSpotted checks the detector on lines a file section may
// hold and lines it must not.
func TestScriptCommandSpotted(t *testing.T) {
	for line, want := range map[string]bool{
		"stdout '^ptmx$'":                   true,
		"! stdout '^[0-9]'":                 true,
		"exec docker run --rm busybox ls":   true,
		"[exec:dot] exec nslab topology":    true,
		"! exec docker inspect x":           true,
		"cmp stdout want":                   true,
		"exec nsenter -t 1 -n sh":           false,
		"docker run --rm busybox ls":        false,
		"# stdout is where the output goes": false,
		"echo stdout":                       false,
		"cmp a b":                           false,
		"":                                  false,
	} {
		if got := scriptCommand(line); got != want {
			t.Errorf("scriptCommand(%q) = %v, want %v", line, got, want)
		}
	}
}

// TestSuccessPathsCheckStderr fails when an exec that must succeed is not
// followed by a check of its stderr (`! stderr .` where it should print no
// error): a command that succeeds while printing an error would otherwise
// go unnoticed.
func TestSuccessPathsCheckStderr(t *testing.T) {
	for _, l := range labs.All() {
		lines := strings.Split(string(txtar.Parse([]byte(l.Script)).Comment), "\n")
		for i, line := range lines {
			w := labs.ScriptWords(line)
			if len(w) < 2 || w[0] != "exec" || strings.HasPrefix(w[len(w)-1], "&") {
				continue
			}
			checked := false
			for _, next := range lines[i+1:] {
				n := labs.ScriptWords(next)
				if len(n) > 0 && n[0] == "!" {
					n = n[1:]
				}
				if len(n) == 0 || !(n[0] == "stdout" || n[0] == "stderr" || (len(n) > 1 && (n[0] == "cmp" || n[0] == "cp") && n[1] == "stdout")) {
					break
				}
				checked = checked || n[0] == "stderr"
			}
			if !checked {
				t.Errorf("%s.txtar:%d: %q must succeed but nothing checks its stderr: add `! stderr .` after its checks (or a stderr check)", l.Name, i+1, line)
			}
		}
	}
}
