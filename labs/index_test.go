package labs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

// TestNotes checks NOTES.md, the map from the notes' commands and outputs
// (labs.NotesItems) to the labs' phases that replay and check them, and
// fails when an output has no phase, when a command is typed word for word
// neither in a lab nor in the shell test, or when a lab's "# notes:" lines
// disagree. NSLAB_UPDATE=1 rewrites NOTES.md.
func TestNotes(t *testing.T) {
	want := labs.NotesTable()
	if os.Getenv("NSLAB_UPDATE") != "" {
		if err := os.WriteFile("NOTES.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := os.ReadFile("NOTES.md"); err != nil || string(got) != want {
		t.Errorf("labs/NOTES.md is stale: run `NSLAB_UPDATE=1 go test ./labs -run TestNotes` and commit it")
	}
	all := labs.All()
	for _, l := range all {
		if l.NotesErr != nil {
			t.Errorf("%s.txtar: %v", l.Name, l.NotesErr)
		}
		if len(l.Tags) > 0 && len(l.NotesLines) == 0 {
			t.Errorf("%s.txtar: its phases name notes lines, so its header needs a \"# notes: NNN lines A-B\" line too", l.Name)
		}
		for _, tag := range l.Tags {
			for _, r := range tag.Ranges {
				if !anyContains(l.NotesLines, r) {
					t.Errorf("%s.txtar:%d: phase's notes lines %s are outside the header's (%s)", l.Name, tag.Line, r, labs.FormatNotesRanges(l.NotesLines))
				}
			}
		}
		for _, r := range l.NotesLines {
			if len(l.Tags) == 0 {
				break
			}
			touched := false
			for _, tag := range l.Tags {
				for _, tr := range tag.Ranges {
					touched = touched || r.Contains(tr)
				}
			}
			if !touched {
				t.Errorf("%s.txtar: the header names notes lines %s, but no phase reproduces any of them", l.Name, r)
			}
		}
	}
	cov := labs.NotesCoverage(all)
	ids := map[string]bool{}
	for _, it := range labs.NotesItems {
		if ids[it.ID] {
			t.Errorf("notes item %s is listed twice", it.ID)
		}
		ids[it.ID] = true
		if !it.Command() {
			if len(cov[it.ID]) == 0 {
				t.Errorf("notes output %s (%s: %s) has no lab: give the lab phase that checks it a \"# notes: %s lines %d-%d\" line", it.ID, it.Range, it.Text, it.Range.Note, it.Range.From, it.Range.To)
			}
			continue
		}
		typed := typedIn(all, it.Typed())
		switch {
		case it.Pending != "":
			if len(typed) > 0 {
				t.Errorf("notes command %s (%q) waits for branch %s, yet %s types it: drop its pending mark", it.ID, it.Text, it.Pending, strings.Join(typed, ", "))
			}
			if !inComment(all, it.Typed()) {
				t.Errorf("notes command %s (%q) waits for branch %s: a lab must hold it in a comment until then", it.ID, it.Text, it.Pending)
			}
			// Once the branch has landed, the CLI knows the command: the
			// lab must then type it, and the mark must go.
			if args, ok := strings.CutPrefix(it.Typed(), "docker "); ok {
				if err := exec.Command("nslab", append(strings.Fields(args), "--help")...).Run(); err == nil {
					t.Errorf("notes command %s (%q) waits for branch %s, but the CLI knows it now: type it in the lab that holds it in a comment, and drop its pending mark in notes.go", it.ID, it.Text, it.Pending)
				}
			}
		case len(typed) == 0:
			t.Errorf("notes command %s (%s: %q) is typed word for word in no lab and not in the shell test", it.ID, it.Range, it.Typed())
		}
	}
}

func anyContains(rs []labs.NotesRange, r labs.NotesRange) bool {
	for _, h := range rs {
		if h.Contains(r) {
			return true
		}
	}
	return false
}

// typedIn says where command is typed word for word: a lab's script line
// (after its conditions, "!", "exec" and "nslab host"), a line of a lab's
// file section (a shell script or a terminal session's input), either maybe
// followed by a redirection, or, for a command of several lines, a file
// section holding them all; or a line the shell test types.
func typedIn(all []labs.Lab, command string) []string {
	var where []string
	same := func(line string) bool {
		line = strings.TrimSpace(line)
		if line == command {
			return true
		}
		rest, ok := strings.CutPrefix(line, command+" ")
		return ok && rest != "" && strings.ContainsAny(rest[:1], "<>&|2")
	}
	for _, l := range all {
		a := txtar.Parse([]byte(l.Script))
		found := false
		for _, line := range strings.Split(string(a.Comment), "\n") {
			w := labs.ScriptWords(line)
			if len(w) == 0 || strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			s := strings.TrimSpace(line)
			for strings.HasPrefix(s, "[") {
				_, s, _ = strings.Cut(s, "] ")
			}
			s = strings.TrimPrefix(s, "! ")
			s = strings.TrimPrefix(s, "exec ")
			s = strings.TrimPrefix(s, "nslab host ")
			found = found || same(s)
		}
		for _, f := range a.Files {
			if strings.Contains(command, "\n") {
				found = found || strings.Contains(string(f.Data), command)
				continue
			}
			for _, line := range strings.Split(string(f.Data), "\n") {
				found = found || same(line)
			}
		}
		if found {
			where = append(where, l.Name)
		}
	}
	for _, line := range notesShellLines() {
		if line == command {
			where = append(where, "the shell test")
			break
		}
	}
	return where
}

// inComment reports whether a lab holds command in a comment line.
func inComment(all []labs.Lab, command string) bool {
	for _, l := range all {
		for _, line := range strings.Split(string(txtar.Parse([]byte(l.Script)).Comment), "\n") {
			if t, ok := strings.CutPrefix(strings.TrimSpace(line), "#"); ok && strings.Contains(t, command) {
				return true
			}
		}
	}
	return false
}

// TestNotesCatalog checks labs.NotesItems against the notes themselves,
// where they are (NSLAB_NOTES, else /work/shared/seeds): each command is
// at its lines, word for word (after the prompt), and each range is in the
// note.
func TestNotesCatalog(t *testing.T) {
	dir := os.Getenv("NSLAB_NOTES")
	if dir == "" {
		dir = "/work/shared/seeds"
	}
	notes := map[string][]string{}
	for _, it := range labs.NotesItems {
		n := it.Range.Note
		if _, ok := notes[n]; !ok {
			m, _ := filepath.Glob(filepath.Join(dir, n+"_*.txt"))
			if len(m) != 1 {
				t.Skipf("the notes are not in %s (NSLAB_NOTES names their directory)", dir)
			}
			b, err := os.ReadFile(m[0])
			if err != nil {
				t.Fatal(err)
			}
			notes[n] = strings.Split(string(b), "\n")
		}
		lines := notes[n]
		if it.Range.To > len(lines) {
			t.Errorf("%s: lines %s are past the end of note %s (%d lines)", it.ID, it.Range, n, len(lines))
			continue
		}
		if !it.Command() {
			continue
		}
		var got []string
		for _, line := range lines[it.Range.From-1 : it.Range.To] {
			got = append(got, notesPrompt.ReplaceAllString(line, ""))
		}
		if !strings.Contains(strings.Join(got, "\n"), it.Text) {
			t.Errorf("%s: note %s lines %d-%d hold %q, not the command %q", it.ID, n, it.Range.From, it.Range.To, strings.Join(got, "\n"), it.Text)
		}
	}
}

// notesPrompt is a prompt the notes write before a command: the host's $,
// busybox's "/ #", bash's "ID:/#".
var notesPrompt = regexp.MustCompile(`^\s*(\$ |/ # |[0-9a-f]{12}:/# )`)

// TestParseNotesRef checks the "# notes:" line's reader on good and bad
// values: a bad one is refused with a message naming it.
func TestParseNotesRef(t *testing.T) {
	rs, err := labs.ParseNotesRef("000 lines 39-116, 134; 004 line 9")
	if err != nil {
		t.Fatal(err)
	}
	if got := labs.FormatNotesRanges(rs); got != "000 lines 39-116, 134; 004 line 9" {
		t.Errorf("read back as %q", got)
	}
	for _, bad := range []string{"", "000", "0 lines 1-2", "000 lines 5-2", "000 lines x", "000 lines 0-3", "000 lines 1-2;"} {
		if _, err := labs.ParseNotesRef(bad); err == nil {
			t.Errorf("ParseNotesRef(%q) took it", bad)
		} else if !strings.Contains(err.Error(), "notes reference") {
			t.Errorf("ParseNotesRef(%q): %v does not say what it read", bad, err)
		}
	}
	l := labs.Parse("x", "# Lab: x.\n# Teaches.\n# notes: 000 lines 1-9\n\n# First phase. More.\n# notes: 000 lines 2-3\nexec true\n\n# Second.\nexec true\n# notes: 000 line 7\n")
	if len(l.NotesLines) != 1 || l.Teaches != "Teaches." || len(l.Tags) != 2 {
		t.Fatalf("parsed %+v", l)
	}
	if l.Tags[0].Phase != 1 || l.Tags[0].Title != "First phase." || l.Tags[0].Start != 5 || l.Tags[1].Phase != 3 || l.Tags[1].Line != 11 {
		t.Errorf("tags %+v", l.Tags)
	}
}
