package labs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nslab/nslab/labs"
)

// TestExercisesCurrent checks that labs/exercises/ holds, for every lab, the
// exercise generated from it. NSLAB_UPDATE=1 rewrites them.
func TestExercisesCurrent(t *testing.T) {
	for _, l := range labs.All() {
		want := labs.Exercise(l)
		path := filepath.Join("exercises", l.Name+".txtar")
		if os.Getenv("NSLAB_UPDATE") != "" {
			os.MkdirAll("exercises", 0o755)
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s is stale: run `NSLAB_UPDATE=1 go test ./labs -run TestExercisesCurrent` and commit it", path)
		}
		if !strings.Contains(want, "exec "+labs.Placeholder) {
			t.Errorf("%s blanks no command: every lab needs at least one step for the learner", path)
		}
	}
}

// TestBlankExercisesFail checks every blank exercise with `nslab lab
// check`: each must fail, point at the first missing command and give its
// hint. (Every solution passing is TestLabs: the solutions are the labs.)
func TestBlankExercisesFail(t *testing.T) {
	needLabs(t)
	for _, l := range labs.All() {
		path := filepath.Join("exercises", l.Name+".txtar")
		t.Run(l.Name, func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command("nslab", "lab", "check", path).CombinedOutput()
			if err == nil {
				t.Fatalf("the blank exercise %s passed:\n%s", path, out)
			}
			if !strings.Contains(string(out), "This step is yours") || !strings.Contains(string(out), "hint: it starts with") {
				t.Errorf("checking the blank %s does not point at the missing command with a hint:\n%s", path, out)
			}
		})
	}
}

// TestExerciseSolvedPasses fills one exercise's blanks with the lab's own
// commands and checks that `nslab lab check` then passes.
func TestExerciseSolvedPasses(t *testing.T) {
	needLabs(t)
	l, err := labs.Get("namespaces")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "attempt.txtar")
	os.WriteFile(path, []byte(solved(t, l)), 0o644)
	out, err := exec.Command("nslab", "lab", "check", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("a solved exercise did not pass: %v\n%s", err, out)
	}
}

// solved is l's exercise with each blank filled in with the lab's command
// at the same place: what a learner who got every step right would check.
func solved(t *testing.T, l labs.Lab) string {
	t.Helper()
	execs := func(script string) (lines []string, idx []int) {
		lines = strings.Split(script, "\n")
		for i, line := range lines {
			if strings.HasPrefix(line, "-- ") {
				break
			}
			if strings.HasPrefix(strings.TrimSpace(strings.TrimPrefix(line, "!")), "exec ") {
				idx = append(idx, i)
			}
		}
		return lines, idx
	}
	sol, solIdx := execs(l.Script)
	ex, exIdx := execs(labs.Exercise(l))
	if len(solIdx) != len(exIdx) {
		t.Fatalf("%s: the exercise has %d commands, the lab %d", l.Name, len(exIdx), len(solIdx))
	}
	for k, i := range exIdx {
		if strings.TrimSpace(strings.TrimPrefix(ex[i], "!")) == "exec "+labs.Placeholder {
			ex[i] = sol[solIdx[k]]
		}
	}
	return strings.Join(ex, "\n")
}

// TestSolvedExercisesAreTheLabs checks, for every lab, that its exercise
// with the blanks filled in is the lab's own script once the comments
// (the hints and the exercise's header) are set aside: every check the
// lab makes, the exercise makes, in the same order. So a solved exercise
// passes exactly when its lab does, and TestLabs and
// TestPlayerPlaysEveryLab, which play every lab, cover it.
func TestSolvedExercisesAreTheLabs(t *testing.T) {
	code := func(script string) []string {
		var lines []string
		for _, line := range strings.Split(script, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "#") {
				lines = append(lines, line)
			}
		}
		return lines
	}
	for _, l := range labs.All() {
		got, want := code(solved(t, l)), code(l.Script)
		if len(got) != len(want) {
			t.Errorf("%s: the solved exercise has %d lines of commands and checks, the lab %d", l.Name, len(got), len(want))
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: the solved exercise's line %q differs from the lab's %q", l.Name, got[i], want[i])
				break
			}
		}
	}
}
