// Package netns creates, pins and enters Linux network namespaces from Go.
//
// Thread discipline. A network namespace belongs to an OS thread, not to a
// goroutine, so every switch happens through OnThread: a dedicated goroutine
// locks its thread, the callback switches namespaces through the Thread it is
// given, and OnThread switches the thread back before unlocking it. If the
// thread cannot be switched back, the goroutine exits while still locked and
// the Go runtime destroys the thread rather than hand a thread in the wrong
// namespace to other code. Thread's comment has the rules a callback follows. The main thread is the one exception the runtime
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
	"net"
	"net/netip"
	"os"
	"path/filepath"

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
	return OnThread(func(t *Thread) error {
		if err := t.Join(int(ns), unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("enter netns: %w", err)
		}
		return fn()
	})
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
	// Unshare a locked thread into the new namespace, pin it, and let
	// OnThread switch the thread back.
	err = OnThread(func(t *Thread) error {
		if err := t.Unshare(unix.CLONE_NEWNET); err != nil {
			return err
		}
		src := "/proc/thread-self/ns/net"
		if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("pin netns at %q: %w", path, err)
		}
		return nil
	})
	if err != nil {
		os.Remove(path)
		return err
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

// HandleAt returns a netlink handle on the namespace pinned at path. Its
// socket belongs to that namespace for good, so the handle needs no
// locked thread; close it when done.
func HandleAt(path string) (*netlink.Handle, error) {
	ns, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	h, err := HandleIn(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in %q: %w", path, err)
	}
	return h, nil
}

// HandleIn returns a route netlink handle on namespace ns: links,
// addresses, routes and neighbours, all the engine asks of a namespace.
// netlink.NewHandleAt without a family also opens XFRM and netfilter
// sockets, which the engine never uses and which made a handle cost about
// 95 µs instead of 35 on a 2-core VM (2026-11-25), several times per
// container start.
func HandleIn(ns vnetns.NsHandle) (*netlink.Handle, error) {
	return netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
}

// LoopbackUp brings lo up in the namespace at path; a new namespace starts
// with it down, and 127.0.0.1 answers nothing until it is up.
func LoopbackUp(path string) error {
	h, err := HandleAt(path)
	if err != nil {
		return err
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

// ConfigureLink gives the interface ifName, already inside the namespace of
// handle h (HandleIn), its address, sets it and the namespace's lo up and,
// when gw is valid, adds the default route through gw: what every network
// driver does to the container's side of an endpoint.
func ConfigureLink(h *netlink.Handle, ifName string, addr netip.Prefix, gw netip.Addr) error {
	l, err := h.LinkByName(ifName)
	if err != nil {
		return fmt.Errorf("find %s in container netns: %w", ifName, err)
	}
	ipn := &net.IPNet{IP: addr.Addr().AsSlice(), Mask: net.CIDRMask(addr.Bits(), addr.Addr().BitLen())}
	if err := h.AddrAdd(l, &netlink.Addr{IPNet: ipn}); err != nil {
		return fmt.Errorf("add %s to %s: %w", addr, ifName, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", ifName, err)
	}
	if lo, err := h.LinkByName("lo"); err == nil {
		if err := h.LinkSetUp(lo); err != nil {
			return fmt.Errorf("set lo up: %w", err)
		}
	}
	if gw.IsValid() {
		r := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: gw.AsSlice()}
		if err := h.RouteAdd(r); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("add default route via %s: %w", gw, err)
		}
	}
	return nil
}

// SetDefaultRoute points the default route of the namespace at path through
// gw on ifName, replacing the one there; with gw invalid it removes the
// default route. A container that joins or leaves a network may change
// which of its networks gives it its way out.
func SetDefaultRoute(path, ifName string, gw netip.Addr) error {
	h, err := HandleAt(path)
	if err != nil {
		return err
	}
	defer h.Close()
	if !gw.IsValid() {
		routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: nil}, netlink.RT_FILTER_DST)
		if err != nil {
			return fmt.Errorf("list routes in %q: %w", path, err)
		}
		for _, r := range routes {
			if r.Dst == nil || r.Dst.IP.IsUnspecified() {
				if err := h.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
					return fmt.Errorf("delete the default route in %q: %w", path, err)
				}
			}
		}
		return nil
	}
	l, err := h.LinkByName(ifName)
	if err != nil {
		return fmt.Errorf("find %s in %q: %w", ifName, path, err)
	}
	r := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: gw.AsSlice()}
	if err := h.RouteReplace(r); err != nil {
		return fmt.Errorf("default route via %s dev %s in %q: %w", gw, ifName, path, err)
	}
	return nil
}
