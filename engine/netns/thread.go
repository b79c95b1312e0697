package netns

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Thread is an OS thread that OnThread has locked for one callback. Its
// namespace switches are recorded so that OnThread can undo them, newest
// first, before it unlocks the thread.
//
// The discipline, which every namespace switch in nslab follows:
//   - a callback never calls runtime.LockOSThread or UnlockOSThread itself:
//     OnThread owns the lock, and an unlock inside the callback would let the
//     runtime hand a thread in a foreign namespace to other goroutines;
//   - a callback does not start goroutines that expect to inherit the
//     namespace: new goroutines run on other threads;
//   - a file descriptor opened in the callback (a socket, a netlink handle)
//     keeps its namespace and may be used from any goroutine afterwards;
//   - if a switch cannot be undone, the thread is never unlocked: its
//     goroutine ends locked and the runtime destroys the thread. A thread
//     that entered a mount namespace (EnterMount) ends so too.
type Thread struct {
	undo []saved
	// spent: the thread no longer shares the process's root and working
	// directory (EnterMount), so OnThread never hands it back.
	spent bool
}

// saved is a namespace the thread was in before a switch.
type saved struct {
	orig   *os.File
	nstype int
}

// OnThread runs fn on a fresh goroutine locked to its OS thread, undoes
// every namespace switch fn made through t, and unlocks the thread. It
// returns fn's error, joined with a failure to restore.
func OnThread(fn func(t *Thread) error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		t := &Thread{}
		err := fn(t)
		if t.spent {
			for _, s := range t.undo {
				s.orig.Close()
			}
			// Stay locked: the runtime discards this thread.
			errc <- err
			return
		}
		for i := len(t.undo) - 1; i >= 0; i-- {
			s := t.undo[i]
			rerr := unix.Setns(int(s.orig.Fd()), s.nstype)
			s.orig.Close()
			if rerr != nil {
				for _, rest := range t.undo[:i] {
					rest.orig.Close()
				}
				// Stay locked: the runtime discards this thread.
				errc <- errors.Join(err, fmt.Errorf("restore namespaces (terminating OS thread): %w", rerr))
				return
			}
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// nsFile is the /proc/thread-self/ns entry for a CLONE_NEW* type. For
// CLONE_NEWPID it is the thread's active pid namespace, which is where
// pid_for_children must return to.
func nsFile(nstype int) (string, error) {
	switch nstype {
	case unix.CLONE_NEWNET:
		return "/proc/thread-self/ns/net", nil
	case unix.CLONE_NEWPID:
		return "/proc/thread-self/ns/pid", nil
	}
	return "", fmt.Errorf("namespace type %#x is not switched per thread by nslab", nstype)
}

// remember opens the thread's current namespace of nstype and records the
// switch back to it.
func (t *Thread) remember(nstype int) error {
	self, err := nsFile(nstype)
	if err != nil {
		return err
	}
	orig, err := os.Open(self)
	if err != nil {
		return fmt.Errorf("open current namespace %s: %w", self, err)
	}
	t.undo = append(t.undo, saved{orig, nstype})
	return nil
}

// Join moves the thread into the namespace open as fd (of type nstype). For
// CLONE_NEWPID only the thread's future children are affected.
func (t *Thread) Join(fd int, nstype int) error {
	if err := t.remember(nstype); err != nil {
		return err
	}
	if err := unix.Setns(fd, nstype); err != nil {
		t.drop()
		return err
	}
	return nil
}

// JoinPath is Join for a namespace file such as a pin or /proc/PID/ns/net.
func (t *Thread) JoinPath(path string, nstype int) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", path, err)
	}
	defer f.Close()
	if err := t.Join(int(f.Fd()), nstype); err != nil {
		return fmt.Errorf("join namespace %s: %w", path, err)
	}
	return nil
}

// Unshare moves the thread into a new namespace of nstype.
func (t *Thread) Unshare(nstype int) error {
	if err := t.remember(nstype); err != nil {
		return err
	}
	if err := unix.Unshare(nstype); err != nil {
		t.drop()
		return fmt.Errorf("unshare namespace %#x: %w", nstype, err)
	}
	return nil
}

// EnterMount moves the thread into the mount namespace open as fd, for a
// child to be cloned from it. setns(2) refuses a mount namespace to a
// thread that shares its root and working directory with others, as every
// Go thread does, so the thread first takes a copy of its own
// (unshare(CLONE_FS)). It then no longer follows the process's chdir or
// umask, and no switch back would make it share them again: OnThread never
// unlocks a thread that entered a mount namespace, and the runtime destroys
// it when the callback returns.
func (t *Thread) EnterMount(fd int) error {
	t.spent = true
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("unshare the thread's root and working directory: %w", err)
	}
	if err := unix.Setns(fd, unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("enter mount namespace: %w", err)
	}
	return nil
}

// drop forgets the last recorded switch, which did not happen.
func (t *Thread) drop() {
	t.undo[len(t.undo)-1].orig.Close()
	t.undo = t.undo[:len(t.undo)-1]
}
