// Package labs holds nslab's scenarios: testscript files that reproduce the
// notes' experiments on real kernel objects, each inside a fresh lab host.
// They double as the engine's regression suite (go test ./labs/...), and
// are embedded in the nslab binary for `nslab lab list`.
//
// Each lab opens with a header: "# Lab: TITLE", then comment lines saying
// what it teaches, with "Reproduces notes NNN, section ..." when it
// reproduces the notes. The index in README.md is generated from those
// headers, and a test fails when it is stale.
package labs

import (
	"embed"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/rogpeppe/go-internal/txtar"
)

//go:embed *.txtar
var files embed.FS

// Lab is one scenario.
type Lab struct {
	Name    string // file name without .txtar
	Title   string // from "# Lab: ..."
	Teaches string // the rest of the header
	Notes   string // the notes section it reproduces, if any
	Script  string
}

var reproduces = regexp.MustCompile(`Reproduces ([^:]+?)(?:,? step by step)?(?::|\.\s|\.$|$)`)

// All returns every lab, sorted by name.
func All() []Lab {
	ents, _ := files.ReadDir(".")
	var out []Lab
	for _, e := range ents {
		b, err := files.ReadFile(e.Name())
		if err != nil {
			continue
		}
		out = append(out, Parse(strings.TrimSuffix(e.Name(), path.Ext(e.Name())), string(b)))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Get returns the lab called name.
func Get(name string) (Lab, error) {
	for _, l := range All() {
		if l.Name == name {
			return l, nil
		}
	}
	var names []string
	for _, l := range All() {
		names = append(names, l.Name)
	}
	return Lab{}, fmt.Errorf("no lab called %q; the labs are: %s", name, strings.Join(names, ", "))
}

// Parse reads a lab from its script.
func Parse(name, script string) Lab {
	l := Lab{Name: name, Script: script}
	lines := strings.Split(script, "\n")
	var desc []string
	for i, line := range lines {
		if !strings.HasPrefix(line, "#") {
			break
		}
		text := strings.TrimSpace(strings.TrimPrefix(line, "#"))
		if i == 0 {
			l.Title = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(text, "Lab: "), "Exercise: "), ".")
			continue
		}
		desc = append(desc, text)
	}
	l.Teaches = strings.Join(desc, " ")
	if m := reproduces.FindStringSubmatch(l.Teaches); m != nil {
		l.Notes = strings.TrimSpace(m[1])
	}
	return l
}

// Index renders labs/README.md.
func Index() string {
	var b strings.Builder
	b.WriteString("# Labs\n\n")
	b.WriteString("Generated from the labs' headers by `NSLAB_UPDATE=1 go test ./labs -run TestIndex`; a test fails when it is stale.\n\n")
	b.WriteString("Run one: `bash scripts/lab.sh NAME` (or `go test ./labs -run 'TestLabs/^NAME$' -v`, as root).\n\n")
	b.WriteString("Each lab has an exercise (`exercises/NAME.txtar`: the checks, with the commands for you to write; `nslab lab check FILE` checks your attempt and gives the next hint) and a picture of the lab host at its end (`pictures/NAME.txt`, drawn by `nslab topology`; both generated, and tests keep them current).\n\n")
	b.WriteString("| lab | title | what it teaches | notes | exercise | end state |\n|---|---|---|---|---|---|\n")
	for _, l := range All() {
		fmt.Fprintf(&b, "| [`%s`](%s.txtar) | %s | %s | %s | [exercise](exercises/%s.txtar) | [picture](pictures/%s.txt) |\n", l.Name, l.Name, l.Title,
			strings.ReplaceAll(l.Teaches, "|", `\|`), l.Notes, l.Name, l.Name)
	}
	return b.String()
}

// Validate says why script is not a lab: a lab is a testscript whose
// commands (before its first "-- FILE --" section) include at least one
// check, a line that can fail (stdout, stderr, grep, cmp, exists, or an
// exec that must fail). A file without one would pass whatever it held.
func Validate(script string) error {
	if strings.ContainsRune(script, 0) {
		return errors.New("it is not text")
	}
	if strings.TrimSpace(script) == "" {
		return errors.New("it is empty")
	}
	commands, checks := 0, 0
	for _, line := range strings.Split(string(txtar.Parse([]byte(script)).Comment), "\n") {
		f := ScriptWords(line)
		if len(f) == 0 {
			continue
		}
		commands++
		if IsCheck(f) {
			checks++
		}
	}
	switch {
	case commands == 0:
		return errors.New("it has no commands (a lab's lines are commands such as `exec docker run ...` and checks such as `stdout 'PATTERN'`)")
	case checks == 0:
		return errors.New("it has no checks, so it could never fail (a check is a `stdout 'PATTERN'`, `stderr`, `cmp`, `grep`, `exists` or `! exec` line)")
	}
	return nil
}

// ScriptWords splits a testscript line roughly into words, without its
// [condition] prefixes: enough to tell which command it is. A comment or
// blank line has none.
func ScriptWords(line string) []string {
	line, _, _ = strings.Cut(line, "#")
	f := strings.Fields(line)
	for len(f) > 0 && strings.HasPrefix(f[0], "[") && strings.HasSuffix(f[0], "]") {
		f = f[1:]
	}
	return f
}

// IsCheck reports whether a line's words (from ScriptWords) check
// something: the line can fail on its own.
func IsCheck(words []string) bool {
	neg := len(words) > 0 && words[0] == "!"
	if neg {
		words = words[1:]
	}
	if len(words) == 0 {
		return false
	}
	switch words[0] {
	case "stdout", "stderr", "grep", "cmp", "cmpenv", "exists":
		return true
	case "exec":
		return neg
	}
	return false
}
