// Package netns creates, pins and enters Linux network namespaces from Go.
//
// Thread discipline. A network namespace belongs to an OS thread, not to a
// goroutine, so every switch happens on a dedicated goroutine that locks its
// thread first (Do, Create) and switches it back before unlocking. If the
// thread cannot be switched back, the goroutine exits while still locked and
// the Go runtime destroys the thread rather than hand a thread in the wrong
// namespace to other code. The main thread is the one exception the runtime
// cannot destroy (it parks it instead, and /proc/PID/ns/net would then lie
// about the process), so nslab keeps its main goroutine locked to the main
// thread from init and never lets other goroutines run there.
//
// Pinning. A namespace lives as long as something refers to it. Create binds
// a new namespace onto a file, as `ip netns add` and dockerd do, so it outlives
// the thread that made it; Remove unmounts that file and the kernel then
// destroys the namespace and every interface in it.
package netns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Do runs fn on a fresh OS thread that has joined the network namespace at
// path, then restores the thread. Sockets opened by fn stay in that namespace
// and may be served from any goroutine afterwards.
func Do(path string, fn func() error) error {
	ns, err := vnetns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("open netns %q: %w", path, err)
	}
	defer ns.Close()
	return DoHandle(ns, fn)
}

// DoHandle is Do for an already open namespace handle.
func DoHandle(ns vnetns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := vnetns.Get()
		if err != nil {
			errc <- fmt.Errorf("get current netns: %w", err)
			return // thread stays locked and is discarded
		}
		defer orig.Close()
		if err := vnetns.Set(ns); err != nil {
			errc <- fmt.Errorf("enter netns: %w", err)
			return
		}
		ferr := fn()
		if err := vnetns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("restore netns (terminating OS thread): %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Create makes a new network namespace and pins it at path. The directory of
// path is created if needed. lo is left down; callers bring it up.
func Create(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create netns dir for %q: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("create netns file %q: %w", path, err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		// Unshare this thread into the new namespace, pin it, and switch
		// the thread back. If it cannot go back, it stays locked and the
		// runtime discards it when the goroutine ends.
		runtime.LockOSThread()
		orig, err := vnetns.Get()
		if err != nil {
			errc <- fmt.Errorf("get current netns: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare netns: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		merr := unix.Mount(src, path, "none", unix.MS_BIND, "")
		if err := vnetns.Set(orig); err != nil {
			errc <- fmt.Errorf("restore netns (terminating OS thread): %w", err)
			return
		}
		runtime.UnlockOSThread()
		if merr != nil {
			merr = fmt.Errorf("pin netns at %q: %w", path, merr)
		}
		errc <- merr
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// Bind pins the network namespace of a running process at path.
func Bind(pid int, path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("create netns file %q: %w", path, err)
	}
	f.Close()
	src := fmt.Sprintf("/proc/%d/ns/net", pid)
	if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
		os.Remove(path)
		return fmt.Errorf("pin netns of pid %d at %q: %w", pid, path, err)
	}
	return nil
}

// Remove unpins the namespace at path. The kernel destroys it, and the
// interfaces in it, once nothing else refers to it. A missing file is not an
// error, so Remove is idempotent.
func Remove(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unpin netns %q: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove netns file %q: %w", path, err)
	}
	return nil
}

// Open returns a handle to the pinned namespace at path. Close it when done:
// an open handle keeps the namespace alive.
func Open(path string) (vnetns.NsHandle, error) {
	h, err := vnetns.GetFromPath(path)
	if err != nil {
		return 0, fmt.Errorf("open netns %q: %w", path, err)
	}
	return h, nil
}

// LoopbackUp brings lo up in the namespace at path; a new namespace starts
// with it down, and 127.0.0.1 answers nothing until it is up.
func LoopbackUp(path string) error {
	ns, err := Open(path)
	if err != nil {
		return err
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink handle in %q: %w", path, err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo in %q: %w", path, err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("set lo up in %q: %w", path, err)
	}
	return nil
}
