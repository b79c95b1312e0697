package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestInstrumentKeepsConditions checks that every hook of a conditioned
// line but the first carries the line's conditions, so a skipped line
// neither prints its command nor claims a check passed.
func TestInstrumentKeepsConditions(t *testing.T) {
	lines := parseScript("# Phase.\n[exec:dot] ! exec dot -V\nstdout x\n")
	got := instrument(lines)
	want := "# Phase.\n" +
		"nslab-line 2\n[exec:dot] nslab-cmd 2\n[exec:dot] ! exec dot -V\n[exec:dot] nslab-ok 2\n" +
		"nslab-line 3\nnslab-cmd 3\nstdout x\nnslab-ok 3\n" +
		"nslab-end\n"
	if got != want {
		t.Errorf("instrument:\n%s\nwant:\n%s", got, want)
	}
	if l := lines[2]; !l.neg || l.cmd() != "exec" || strings.Join(l.conds, " ") != "[exec:dot]" || !l.isCheck() {
		t.Errorf("line 2 parsed as %+v", l)
	}
}

// TestHintScope checks that an exercise's hint applies to the blank after
// it and that blank's checks, not to later commands.
func TestHintScope(t *testing.T) {
	lines := parseScript("# hint: it starts with `docker run`\nexec ...\nstdout x\nexec docker ps\nstdout y\n")
	for i, want := range []string{2: "hint: it starts with `docker run`", 3: "hint: it starts with `docker run`", 4: "", 5: ""} {
		if i >= 2 && lines[i].hint != want {
			t.Errorf("line %d (%s): hint %q, want %q", i, lines[i].text, lines[i].hint, want)
		}
	}
}

// TestExplain checks how testscript's failure messages read in the
// player's words, and that the failing command's output is shown.
func TestExplain(t *testing.T) {
	const file = "/tmp/x/lab.txtar"
	for _, tc := range []struct {
		line, log, want, shown string
	}{
		{"exec nslab run --rm busybox false", "> exec nslab run --rm busybox false\n[stdout]\nout\n[stderr]\nerr\n[exit status 1]\nFAIL: " + file + ":9: unexpected command failure\n",
			"line 1: exec nslab run --rm busybox false\nexpected this command to succeed, but it failed with exit status 1", "    out\n    err\n"},
		{"! exec true", "> ! exec true\nFAIL: " + file + ":9: unexpected command success\n",
			"expected this command to fail, as the narration says, but it succeeded", ""},
		{"stdout 'a\\.b'", "> stdout 'a\\.b'\nFAIL: " + file + ":9: no match for `a\\.b` found in stdout\n",
			"expected the output to show a\\.b, but it does not. What it shows is above", ""},
		{"! stderr .", "> ! stderr .\nFAIL: " + file + ":9: unexpected match for `.` found in stderr: w\n",
			"expected the error output NOT to show ., but it does:\n    w", ""},
		{"stdout -count=2 a", "> stdout -count=2 a\nFAIL: " + file + ":9: have 3 matches for `a`, want 2\n",
			"expected the output to show a exactly 2 times; it shows it 3 times", ""},
		{"cmp stdout want", "> cmp stdout want\n--- stdout\n+++ want\n-x\n+y\nFAIL: " + file + ":9: stdout and want differ\n",
			"expected the output and want to be the same, but they differ:\n    --- stdout", ""},
		{"grep 'x' f.txt", "> grep 'x' f.txt\n[f.txt]\nyyy\n\nFAIL: " + file + ":9: no match for `x` found in f.txt\n",
			"expected f.txt to show x, but it does not. It holds:", ""},
	} {
		var out bytes.Buffer
		p := &player{out: &out, lines: parseScript(tc.line), ran: map[int]bool{1: true}, current: 1}
		if got := p.explain(tc.log, file); !strings.Contains(got, tc.want) {
			t.Errorf("%s: explained as\n%s\nwant it to contain\n%s", tc.line, got, tc.want)
		}
		if out.String() != tc.shown {
			t.Errorf("%s: showed %q, want %q", tc.line, out.String(), tc.shown)
		}
	}
}

// TestUnmet checks the words for a condition that kept a line from running.
func TestUnmet(t *testing.T) {
	if got := unmet([]string{"[exec:dot]"}); got != "dot is not installed here" {
		t.Errorf("unmet([exec:dot]) = %q", got)
	}
	if got := unmet([]string{"[!exec:dot]", "[short]"}); got != "dot is installed or [short] does not hold here" {
		t.Errorf("unmet([!exec:dot] [short]) = %q", got)
	}
}
