// Package labs holds nslab's scenarios: testscript files that reproduce the
// notes' experiments on real kernel objects, each inside a fresh lab host.
// They double as the engine's regression suite (go test ./labs/...), and
// are embedded in the nslab binary for `nslab lab list`.
//
// Each lab opens with a header: "# Lab: TITLE", then comment lines saying
// what it teaches, with "Reproduces notes NNN, section ..." when it
// reproduces the notes, and a "# notes: NNN lines A-B, C-D; MMM lines E-F"
// line naming the notes' lines it reproduces. Inside the lab, a phase that
// reproduces notes lines says which with the same kind of line. The index in
// README.md is generated from those headers, NOTES.md from the phases' lines
// (notes.go), and tests fail when either is stale.
package labs

import (
	"embed"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

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
	// NotesLines are the notes' lines it reproduces, from the header's
	// "# notes:" line.
	NotesLines []NotesRange
	// Tags are its phases' "# notes:" lines.
	Tags []NotesTag
	// NotesErr says what is wrong with a "# notes:" line, if anything.
	NotesErr error
	// Nodes is the header's "# nodes: N": the lab runs in a sandbox of N
	// nodes (labhost's --nodes) instead of one lab host. 0 for most.
	Nodes  int
	Script string
}

// NotesRange is a span of lines of one of the notes (/work/shared/seeds/NNN_*.txt).
type NotesRange struct {
	Note     string // "000"
	From, To int    // 1-based, inclusive
}

func (r NotesRange) String() string {
	if r.From == r.To {
		return fmt.Sprintf("%s:%d", r.Note, r.From)
	}
	return fmt.Sprintf("%s:%d-%d", r.Note, r.From, r.To)
}

// Contains reports whether r holds all of o.
func (r NotesRange) Contains(o NotesRange) bool {
	return r.Note == o.Note && r.From <= o.From && o.To <= r.To
}

// NotesTag is a phase's "# notes:" line: the notes' lines that phase
// reproduces.
type NotesTag struct {
	Line   int    // the tag's line in the lab, 1-based
	Phase  int    // the phase, counted as `nslab lab run` shows them: 1 is the first after the header
	Start  int    // the phase's first line in the lab
	Title  string // the phase's first sentence
	Ranges []NotesRange
}

var notesLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^notes:\s*(.*)$`) })

// ParseNotesRef reads the value of a "# notes:" line, such as
// "000 lines 39-116, 134-155; 004 lines 4-7" (a single line is "lines 9").
func ParseNotesRef(s string) ([]NotesRange, error) {
	var out []NotesRange
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		note, spans, ok := strings.Cut(part, " lines ")
		if !ok {
			note, spans, ok = strings.Cut(part, " line ")
		}
		note = strings.TrimSpace(note)
		if !ok || !regexp.MustCompile(`^[0-9]{3}$`).MatchString(note) {
			return nil, fmt.Errorf("notes reference %q: want NNN lines A-B, C-D (NNN the note's number, such as 000)", part)
		}
		for _, span := range strings.Split(spans, ",") {
			span = strings.TrimSpace(span)
			a, b, isRange := strings.Cut(span, "-")
			from, err1 := strconv.Atoi(a)
			to, err2 := from, error(nil)
			if isRange {
				to, err2 = strconv.Atoi(b)
			}
			if err1 != nil || err2 != nil || from < 1 || to < from {
				return nil, fmt.Errorf("notes reference %q: %q is not a line or a range of lines A-B with A <= B", part, span)
			}
			out = append(out, NotesRange{Note: note, From: from, To: to})
		}
	}
	return out, nil
}

// FormatNotesRanges writes ranges back as a "# notes:" value.
func FormatNotesRanges(rs []NotesRange) string {
	var parts []string
	for i := 0; i < len(rs); {
		j := i
		var spans []string
		for ; j < len(rs) && rs[j].Note == rs[i].Note; j++ {
			if rs[j].From == rs[j].To {
				spans = append(spans, strconv.Itoa(rs[j].From))
			} else {
				spans = append(spans, fmt.Sprintf("%d-%d", rs[j].From, rs[j].To))
			}
		}
		word := "lines"
		if len(spans) == 1 && rs[i].From == rs[i].To {
			word = "line"
		}
		parts = append(parts, fmt.Sprintf("%s %s %s", rs[i].Note, word, strings.Join(spans, ", ")))
		i = j
	}
	return strings.Join(parts, "; ")
}

var reproduces = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`Reproduces ([^:]+?)(?:,? step by step)?(?::|\.\s|\.$|$)`)
})

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
	lines := strings.Split(string(txtar.Parse([]byte(script)).Comment), "\n")
	var desc []string
	header := 0
	for i, line := range lines {
		if !strings.HasPrefix(line, "#") {
			break
		}
		header = i + 1
		text := strings.TrimSpace(strings.TrimPrefix(line, "#"))
		if i == 0 {
			l.Title = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(text, "Lab: "), "Exercise: "), ".")
			continue
		}
		if v, ok := strings.CutPrefix(text, "nodes:"); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
				l.Nodes = n
				continue
			}
		}
		if m := notesLine().FindStringSubmatch(text); m != nil {
			rs, err := ParseNotesRef(m[1])
			if err != nil {
				l.NotesErr = fmt.Errorf("line %d: %w", i+1, err)
			}
			l.NotesLines = append(l.NotesLines, rs...)
			continue
		}
		desc = append(desc, text)
	}
	l.Teaches = strings.Join(desc, " ")
	if m := reproduces().FindStringSubmatch(l.Teaches); m != nil {
		l.Notes = strings.TrimSpace(m[1])
	}
	// The phases after the header, as the player shows them: a phase starts
	// at a comment that follows a command or a blank line.
	phase, start, title := 0, 0, ""
	for i := header; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimSpace(strings.TrimPrefix(line, "#"))
		if i == header || !strings.HasPrefix(strings.TrimSpace(lines[i-1]), "#") {
			phase, start = phase+1, i+1
			var block []string
			for j := i; j < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[j]), "#"); j++ {
				if t := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(lines[j]), "#")); !notesLine().MatchString(t) {
					block = append(block, t)
				}
			}
			title = strings.Join(block, " ")
			if s, _, ok := strings.Cut(title, ". "); ok {
				title = s + "."
			}
		}
		if m := notesLine().FindStringSubmatch(text); m != nil {
			rs, err := ParseNotesRef(m[1])
			if err != nil && l.NotesErr == nil {
				l.NotesErr = fmt.Errorf("line %d: %w", i+1, err)
			}
			l.Tags = append(l.Tags, NotesTag{Line: i + 1, Phase: phase, Start: start, Title: title, Ranges: rs})
		}
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
	b.WriteString("The notes column names the notes' lines each lab reproduces (its header's `# notes:` line); [NOTES.md](NOTES.md) maps every command and output of the notes to the lab and phase that replays and checks it.\n\n")
	b.WriteString("| lab | title | what it teaches | notes | exercise | end state |\n|---|---|---|---|---|---|\n")
	for _, l := range All() {
		notes := l.Notes
		if len(l.NotesLines) > 0 {
			if notes != "" {
				notes += "; "
			}
			notes += "lines " + FormatNotesRanges(l.NotesLines)
		}
		fmt.Fprintf(&b, "| [`%s`](%s.txtar) | %s | %s | %s | [exercise](exercises/%s.txtar) | [picture](pictures/%s.txt) |\n", l.Name, l.Name, l.Title,
			strings.ReplaceAll(l.Teaches, "|", `\|`), notes, l.Name, l.Name)
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
