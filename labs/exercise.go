package labs

import (
	"fmt"
	"strings"
)

// Placeholder marks a command the learner has to write in an exercise.
const Placeholder = "..."

// Exercise derives the blank exercise of a lab: every command whose output
// the next lines check is replaced by "exec ..." (the learner's to write),
// with a hint line above it; commands that only set the stage, the
// narration and every check stay. The lab itself, in labs/, is the
// reference solution.
func Exercise(l Lab) string {
	lines := strings.Split(l.Script, "\n")
	var out []string
	inFiles := false
	for i, line := range lines {
		if strings.HasPrefix(line, "-- ") && strings.HasSuffix(line, " --") {
			inFiles = true
		}
		if inFiles || !isExec(line) || !checkedNext(lines, i) {
			out = append(out, line)
			continue
		}
		neg := strings.HasPrefix(strings.TrimSpace(line), "!")
		cmd := strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(line), "!"), " "))
		cmd = strings.TrimSpace(strings.TrimPrefix(cmd, "exec"))
		hint := fmt.Sprintf("# hint: %s", Hint(cmd))
		if neg {
			hint += " (this one should fail)"
		}
		out = append(out, hint)
		if neg {
			out = append(out, "! exec "+Placeholder)
		} else {
			out = append(out, "exec "+Placeholder)
		}
	}
	s := strings.Join(out, "\n")
	header := fmt.Sprintf("# Exercise: %s.\n# Write each command where \"exec ...\" stands, using the narration and\n# the hints; the checks after it say what it must show. Check your work\n# with: nslab lab check FILE. The solution is labs/%s.txtar.\n#\n", l.Title, l.Name)
	return header + s
}

// Hint gives away the start of a command: its first words, enough to
// point the way (nslab's verb, or the tool), not the whole answer.
func Hint(cmd string) string {
	f := strings.Fields(cmd)
	n := 2
	if len(f) > 0 && f[0] == "nslab" {
		n = 3
		if len(f) > 1 && (f[1] == "host" || f[1] == "network" || f[1] == "outside") {
			n = 4
		}
	}
	if n >= len(f) {
		n = len(f) - 1
	}
	if n < 1 {
		n = 1
	}
	return fmt.Sprintf("it starts with `%s`", strings.Join(f[:n], " "))
}

func isExec(line string) bool {
	t := strings.TrimSpace(line)
	t = strings.TrimSpace(strings.TrimPrefix(t, "!"))
	return strings.HasPrefix(t, "exec ")
}

// checkedNext reports whether the lines after line i (before the next
// command or comment) check its output or exit status.
func checkedNext(lines []string, i int) bool {
	if strings.HasPrefix(strings.TrimSpace(lines[i]), "!") {
		return true // the failure itself is the check
	}
	for _, l := range lines[i+1:] {
		if NoErrors(l) {
			continue // every command that sets the stage says this too
		}
		t := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "!"))
		switch {
		case strings.HasPrefix(t, "stdout "), strings.HasPrefix(t, "stderr "), strings.HasPrefix(t, "cmp stdout"), strings.HasPrefix(t, "cp stdout"):
			return true
		case t == "", strings.HasPrefix(t, "["):
			continue
		default:
			return false
		}
	}
	return false
}

// NoErrors reports whether a script line is the plain "the command printed
// no error" check, `! stderr .` (with any conditions before it).
func NoErrors(line string) bool {
	return strings.Join(ScriptWords(line), " ") == "! stderr ."
}
