package netns

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func netnsInode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return st.Ino
}

// TestOnThreadRestores switches a thread into a new network namespace and
// checks that the thread, once released, is back in the process's own:
// every later locked thread sees the original namespace.
func TestOnThreadRestores(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("unshare(CLONE_NEWNET) needs root")
	}
	own := netnsInode(t, "/proc/self/ns/net")
	var inside uint64
	want := errors.New("callback's own error")
	err := OnThread(func(th *Thread) error {
		if err := th.Unshare(unix.CLONE_NEWNET); err != nil {
			return err
		}
		inside = netnsInode(t, "/proc/thread-self/ns/net")
		return want
	})
	if !errors.Is(err, want) {
		t.Fatalf("OnThread returned %v, want the callback's error", err)
	}
	if inside == own {
		t.Fatal("the callback ran in the process's own namespace after Unshare")
	}
	for i := 0; i < 50; i++ {
		OnThread(func(*Thread) error {
			if got := netnsInode(t, "/proc/thread-self/ns/net"); got != own {
				t.Errorf("a thread was left in another network namespace (%d, want %d)", got, own)
			}
			return nil
		})
	}
}

// TestOnThreadRefusesOtherTypes: only net and pid are switched per thread;
// a mount namespace cannot be entered from a threaded Go process.
func TestOnThreadRefusesOtherTypes(t *testing.T) {
	err := OnThread(func(th *Thread) error { return th.Unshare(unix.CLONE_NEWNS) })
	if err == nil {
		t.Fatal("Unshare(CLONE_NEWNS) was accepted")
	}
	if err := OnThread(func(th *Thread) error { return th.JoinPath("/nonexistent/ns", unix.CLONE_NEWNET) }); err == nil {
		t.Fatal("joining a missing namespace file succeeded")
	}
}
