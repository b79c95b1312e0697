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
	ex := labs.Exercise(l)
	// The solution's checked commands, in order.
	var sol []string
	lines := strings.Split(l.Script, "\n")
	exLines := strings.Split(ex, "\n")
	for _, line := range lines {
		if strings.HasPrefix(line, "-- ") {
			break
		}
		t := strings.TrimSpace(strings.TrimPrefix(line, "!"))
		if strings.HasPrefix(t, "exec ") {
			sol = append(sol, t)
		}
	}
	// Replace each placeholder with the command at the same place.
	k := 0
	var filled []string
	for _, line := range exLines {
		t := strings.TrimSpace(strings.TrimPrefix(line, "!"))
		if strings.HasPrefix(t, "exec ") {
			if t == "exec "+labs.Placeholder {
				prefix := strings.TrimSuffix(line, t)
				line = prefix + sol[k]
			}
			k++
		}
		filled = append(filled, line)
	}
	path := filepath.Join(t.TempDir(), "attempt.txtar")
	os.WriteFile(path, []byte(strings.Join(filled, "\n")), 0o644)
	out, err := exec.Command("nslab", "lab", "check", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("a solved exercise did not pass: %v\n%s", err, out)
	}
}
