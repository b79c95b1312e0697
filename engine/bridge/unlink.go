package bridge

// Deleting a veth, fast. An RTM_DELLINK does its visible work in about a
// millisecond: under the rtnl lock the kernel closes both ends of the pair,
// takes the host end off its bridge, unlists both and sends RTM_DELLINK to
// the link listeners. Then, still inside the deleting syscall but with the
// lock released, netdev_run_todo waits in rcu_barrier() for every pending
// RCU callback, 15-30 ms on this machine class, before it acks. Nothing
// anyone can observe changes during that wait: the links are gone from
// `ip link` and `brctl show`, the bridge has recalculated its carrier.
//
// So DetachFast issues the deletion on a goroutine of its own and returns as
// soon as the kernel's own RTM_DELLINK notification for the link arrives on
// a listening socket (or, if that is lost, when the deletion returns). The
// caller sees exactly the state a synchronous deletion would leave; only the
// kernel's barrier runs on after it. Settle waits for those too.

import (
	"errors"
	"fmt"
	"log"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// maxDeleting bounds the deletions waiting in the kernel at once; each holds
// an OS thread for its barrier. Concurrent barriers share grace periods, so
// a few are enough for any rate the daemon sees.
const maxDeleting = 8

// unlistTimeout bounds DetachFast's wait; the kernel has never needed more
// than a few hundred ms here, even under heavy load.
const unlistTimeout = 30 * time.Second

// unlinker listens for RTM_DELLINK and wakes DetachFast's waiters.
type unlinker struct {
	mu      sync.Mutex
	waiters map[int32]unlinkWaiter // by ifindex
	slots   chan struct{}
	pending sync.WaitGroup
}

type unlinkWaiter struct {
	name string
	gone chan struct{}
}

var (
	unlinkOnce  sync.Once
	theUnlinker *unlinker
	unlinkErr   error
)

// getUnlinker starts the process's listener on first use. Its socket
// belongs to the namespace of the thread that opens it: the process's own,
// as DetachFast requires.
func getUnlinker() (*unlinker, error) {
	unlinkOnce.Do(func() {
		theUnlinker, unlinkErr = newUnlinker()
	})
	return theUnlinker, unlinkErr
}

func newUnlinker() (*unlinker, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("link listener: %w", err)
	}
	// Room for bursts of link events (every run adds some); an overflow
	// only makes the waiters fall back to the deletion's return.
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("link listener: bind: %w", err)
	}
	// Non-blocking, so the runtime's poller waits for it and no OS thread
	// sits in recvfrom for the life of the process.
	f := os.NewFile(uintptr(fd), "rtnetlink-link")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("link listener: %w", err)
	}
	u := &unlinker{waiters: map[int32]unlinkWaiter{}, slots: make(chan struct{}, maxDeleting)}
	go u.listen(f, rc)
	return u, nil
}

// listen reads link notifications for the life of the process.
func (u *unlinker) listen(f *os.File, rc syscall.RawConn) {
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, _, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
			return rerr != unix.EAGAIN
		})
		if err == nil {
			err = rerr
		}
		if errors.Is(err, unix.ENOBUFS) {
			// Notifications were lost: waiters whose event was among
			// them fall back to their deletion's return.
			continue
		}
		if err != nil {
			log.Printf("link listener stopped: %v; link deletions now wait for the kernel's barrier", err)
			return
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			continue
		}
		for i := range msgs {
			if msgs[i].Header.Type != unix.RTM_DELLINK || len(msgs[i].Data) < unix.SizeofIfInfomsg {
				continue
			}
			info := (*unix.IfInfomsg)(unsafe.Pointer(&msgs[i].Data[0]))
			u.unlisted(info.Index, linkName(&msgs[i]))
		}
	}
}

// linkName is the IFLA_IFNAME of a link message.
func linkName(m *syscall.NetlinkMessage) string {
	attrs, err := syscall.ParseNetlinkRouteAttr(m)
	if err != nil {
		return ""
	}
	for _, a := range attrs {
		if a.Attr.Type == unix.IFLA_IFNAME {
			b := a.Value
			for len(b) > 0 && b[len(b)-1] == 0 {
				b = b[:len(b)-1]
			}
			return string(b)
		}
	}
	return ""
}

func (u *unlinker) unlisted(index int32, name string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	// The name too: a stale event for an index that a newer link reuses
	// must not wake the newer link's waiter.
	if w, ok := u.waiters[index]; ok && w.name == name {
		close(w.gone)
		delete(u.waiters, index)
	}
}

// DetachFast is Detach, returning as soon as the kernel has unlisted the
// veth (both ends) and taken it off its bridge, without waiting for the
// deletion's RCU barrier (see the top of this file). h must be a handle on
// the process's own network namespace, where the veth is. A missing veth is
// not an error.
func DetachFast(h *netlink.Handle, hostVeth string) error {
	u, err := getUnlinker()
	if err != nil {
		return errors.Join(err, Detach(h, hostVeth))
	}
	l, err := h.LinkByName(hostVeth)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("find link %q: %w", hostVeth, err)
	}
	idx := int32(l.Attrs().Index)
	w := unlinkWaiter{name: hostVeth, gone: make(chan struct{})}
	u.mu.Lock()
	u.waiters[idx] = w
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		if cur, ok := u.waiters[idx]; ok && cur.gone == w.gone {
			delete(u.waiters, idx)
		}
		u.mu.Unlock()
	}()
	u.slots <- struct{}{}
	u.pending.Add(1)
	done := make(chan error, 1)
	go func() {
		// This thread will sit in the kernel's barrier. Keep it locked
		// so that it ends with the goroutine instead of joining the
		// runtime's idle threads, which never shrink.
		runtime.LockOSThread()
		defer u.pending.Done()
		// A socket of its own (the package-level call opens one per
		// request): h's would be locked for the whole barrier.
		err := netlink.LinkDel(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostVeth, Index: int(idx)}})
		<-u.slots
		if err != nil && !errors.Is(err, unix.ENODEV) {
			err = fmt.Errorf("delete link %q: %w", hostVeth, err)
		} else {
			err = nil
		}
		done <- err
	}()
	select {
	case <-w.gone:
		return nil
	case err := <-done:
		return err
	case <-time.After(unlistTimeout):
		return fmt.Errorf("delete link %q: still listed after %s", hostVeth, unlistTimeout)
	}
}

// Settle waits until every deletion DetachFast started has returned from
// the kernel: the readiness point for whoever needs no deletion in flight
// (a benchmark about to measure, a process about to exit).
func Settle() {
	if u, _ := getUnlinker(); u != nil {
		u.pending.Wait()
	}
}
