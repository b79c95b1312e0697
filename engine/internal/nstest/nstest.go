// Package nstest runs a test in throwaway network and mount namespaces, so
// the links and pinned namespaces it makes live and die there and the
// machine never sees them: the engine's unit tests of kernel objects use
// it, never the machine's own namespace.
package nstest

import (
	"os"
	"os/exec"
	"testing"
)

const envChild = "NSLAB_NSTEST_CHILD"

// Rerun re-runs the calling test in private network and mount namespaces
// (unshare(1)) and fails it if the re-run fails. It returns true in the
// re-run, which does the work, and false in the caller, which returns. It
// skips the test where namespaces cannot be made.
func Rerun(t *testing.T) bool {
	t.Helper()
	if os.Getenv(envChild) == "1" {
		return true
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to make namespaces")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux)")
	}
	cmd := exec.Command("unshare", "--net", "--mount", "--propagation", "private",
		os.Args[0], "-test.run", "^"+t.Name()+"$", "-test.v")
	cmd.Env = append(os.Environ(), envChild+"=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s in throwaway namespaces: %v\n%s", t.Name(), err, out)
	}
	return false
}
