package netns

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// As nslab's binary does (engine/cli), keep the main goroutine, and so no
// other, on the main thread, which the runtime cannot discard.
func init() { runtime.LockOSThread() }

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

// TestOnThreadRefusesOtherTypes: only net and pid are switched and
// restored per thread; a mount namespace is entered only through
// EnterMount, which spends the thread.
func TestOnThreadRefusesOtherTypes(t *testing.T) {
	err := OnThread(func(th *Thread) error { return th.Unshare(unix.CLONE_NEWNS) })
	if err == nil {
		t.Fatal("Unshare(CLONE_NEWNS) was accepted")
	}
	if err := OnThread(func(th *Thread) error { return th.JoinPath("/nonexistent/ns", unix.CLONE_NEWNET) }); err == nil {
		t.Fatal("joining a missing namespace file succeeded")
	}
}

// TestOnThreadDiscardsUnrestorableThread: a thread left in another network
// namespace, because the switch back failed, ends with its goroutine (it
// stays locked, so the runtime terminates it) instead of returning to the
// runtime's pool, where other goroutines would run in the wrong namespace
// and idle threads pile up.
func TestOnThreadDiscardsUnrestorableThread(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("unshare(CLONE_NEWNET) needs root")
	}
	own := netnsInode(t, "/proc/self/ns/net")
	var tid int
	err := OnThread(func(th *Thread) error {
		if err := th.Unshare(unix.CLONE_NEWNET); err != nil {
			return err
		}
		tid = unix.Gettid()
		if tid == unix.Getpid() {
			return errors.New("the callback runs on the main thread")
		}
		// Make the switch back fail: what OnThread will setns to is
		// not a namespace.
		f, err := os.Open("/dev/null")
		if err != nil {
			return err
		}
		last := &th.undo[len(th.undo)-1]
		last.orig.Close()
		last.orig = f
		return nil
	})
	if err == nil {
		t.Fatal("OnThread reported no error though the thread could not be restored")
	}
	waitThreadGone(t, tid, "left in another namespace")
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tasks {
		var st unix.Stat_t
		if unix.Stat("/proc/self/task/"+e.Name()+"/ns/net", &st) == nil && st.Ino != own {
			t.Errorf("thread %s is in another network namespace", e.Name())
		}
	}
}

// TestEnterMountSpendsThread enters a mount namespace made for the test
// (a copy of the test's own: no mount changes anywhere) and checks that
// the thread that entered it is destroyed, and that no thread the runtime
// still runs is left in it.
func TestEnterMountSpendsThread(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("unshare(CLONE_NEWNS) needs root")
	}
	own := netnsInode(t, "/proc/self/ns/mnt")
	// A fresh mount namespace, held by a file, from a thread that is
	// then discarded (it ends locked).
	made := make(chan *os.File, 1)
	go func() {
		runtime.LockOSThread()
		if unix.Unshare(unix.CLONE_FS|unix.CLONE_NEWNS) != nil {
			made <- nil
			return
		}
		f, _ := os.Open("/proc/thread-self/ns/mnt")
		made <- f
	}()
	other := <-made
	if other == nil {
		t.Fatal("could not make a mount namespace for the test")
	}
	defer other.Close()
	want := netnsInode(t, fmt.Sprintf("/proc/self/fd/%d", other.Fd()))
	if want == own {
		t.Fatal("the test's mount namespace is the process's own")
	}
	var tid int
	var inside unix.Stat_t
	err := OnThread(func(th *Thread) error {
		tid = unix.Gettid()
		if err := th.EnterMount(int(other.Fd())); err != nil {
			return err
		}
		// Not t.Fatal: this runs on OnThread's goroutine.
		return unix.Stat("/proc/thread-self/ns/mnt", &inside)
	})
	if err != nil {
		t.Fatalf("EnterMount: %v", err)
	}
	if inside.Ino != want {
		t.Fatalf("the callback ran in mount namespace %d after EnterMount, want %d", inside.Ino, want)
	}
	waitThreadGone(t, tid, "which entered another mount namespace")
	for i := 0; i < 50; i++ {
		var st unix.Stat_t
		if err := OnThread(func(*Thread) error { return unix.Stat("/proc/thread-self/ns/mnt", &st) }); err != nil {
			t.Fatal(err)
		}
		if st.Ino != own {
			t.Fatalf("a thread the runtime reuses is in mount namespace %d, want the process's %d", st.Ino, own)
		}
	}
}

// waitThreadGone fails the test unless thread tid, described by what,
// ends within 5 s: the runtime destroys a thread whose goroutine ends
// locked.
func waitThreadGone(t *testing.T, tid int, what string) {
	t.Helper()
	task := fmt.Sprintf("/proc/self/task/%d", tid)
	for i := 0; ; i++ {
		if _, err := os.Stat(task); errors.Is(err, os.ErrNotExist) {
			return
		}
		if i == 100 {
			t.Fatalf("thread %d, %s, still exists 5 s later", tid, what)
		}
		time.Sleep(50 * time.Millisecond) // between bounded retries
	}
}
