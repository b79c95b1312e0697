package labs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLabRunner plays a lab with `nslab lab run`, as a learner would, and
// checks the output shows narration, commands, real output and checks.
// Then it plays a lab with a wrong expectation and checks the failure
// says, in words, what was expected and what was seen.
func TestLabRunner(t *testing.T) {
	needLabs(t)
	out, err := exec.Command("nslab", "lab", "run", "namespaces").CombinedOutput()
	if err != nil {
		t.Fatalf("nslab lab run namespaces: %v\n%s", err, out)
	}
	for _, want := range []string{
		"Lab namespaces: a container is a process in its own namespaces",
		"Start a long-running container.",
		"$ docker run -d --name web busybox sleep 3600",
		"ok: the output shows ^net: own$",
		"PASS: namespaces:",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("lab run output lacks %q:\n%s", want, out)
		}
	}

	wrong := filepath.Join(t.TempDir(), "wrong.txtar")
	os.WriteFile(wrong, []byte("# Lab: a wrong expectation.\n# For the test.\n\n# A container gets 172.17.0.2, not .9.\nexec nslab run --rm busybox ip -4 addr show eth0\nstdout 'inet 172\\.17\\.0\\.9/16'\n"), 0o644)
	out, err = exec.Command("nslab", "lab", "run", wrong).CombinedOutput()
	if err == nil {
		t.Fatalf("a failing lab passed:\n%s", out)
	}
	for _, want := range []string{
		"inet 172.17.0.2/16", // what was seen
		"expected the output to show inet 172\\.17\\.0\\.9/16, but it does not",
		"FAIL: wrong stopped after 0 checks passed.",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("failure output lacks %q:\n%s", want, out)
		}
	}
}
