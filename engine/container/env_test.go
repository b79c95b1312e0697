package container

import (
	"slices"
	"testing"
)

// Env is the one definition of a container's environment, shared by the
// first process (Init) and exec.
func TestEnv(t *testing.T) {
	want := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=web", "HOME=/root"}
	if got := Env("web", false); !slices.Equal(got, want) {
		t.Fatalf("Env without a terminal = %q, want %q", got, want)
	}
	if got := Env("web", true); !slices.Equal(got, append(want, "TERM=xterm")) {
		t.Fatalf("Env with a terminal = %q", got)
	}
}
