// Package reap waits for a process's exit in the Go runtime's poller,
// through a pidfd, instead of in a blocking wait4 or poll. A blocked wait
// holds an OS thread for as long as the process lives, and the runtime
// never gives idle threads back: a daemon that waited so for each
// container, log shim and docker-proxy kept one thread per process it ever
// ran (issue 17: 1,030 threads after 1,000 containers).
package reap

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Exited returns once process pid, a child not yet reaped, has exited,
// without reaping it; the caller's Wait then returns at once. An unreaped
// child's pid cannot be reused, so opening a pidfd by pid is safe here.
//
// It holds one file descriptor while it waits: a non-blocking pidfd that
// goes straight to the poller. (Through Pidfd it held two, the pidfd and
// the poller's duplicate; with the os.Process's own, a running container
// and its log shim kept six of the daemon's descriptors, and every process
// the daemon starts copies and closes the whole table.)
func Exited(pid int) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		// A kernel before 5.10 has no PIDFD_NONBLOCK.
		if fd, err = unix.PidfdOpen(pid, 0); err != nil {
			return // the caller's Wait blocks as before
		}
		defer unix.Close(fd)
		Pidfd(fd, -1)
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd") // registers with the poller: fd is non-blocking
	defer f.Close()
	if _, err := pollIn(f); err != nil {
		Pidfd(int(f.Fd()), -1) // not pollable: a blocking poll
	}
}

// Pidfd waits at most d (d < 0: as long as it takes) for the process
// behind the pidfd fd to exit, and reports whether it did. fd stays the
// caller's.
func Pidfd(fd int, d time.Duration) bool {
	if n, _ := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0); n > 0 {
		return true // exited already (and a past deadline never polls)
	}
	var deadline time.Time
	if d >= 0 {
		deadline = time.Now().Add(d)
	}
	// A non-blocking duplicate registers with the poller (os.NewFile), so
	// the wait parks a goroutine, not a thread.
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err == nil {
		if err = unix.SetNonblock(dup, true); err != nil {
			unix.Close(dup)
		}
	}
	if err == nil {
		f := os.NewFile(uintptr(dup), "pidfd")
		defer f.Close()
		if !deadline.IsZero() {
			f.SetReadDeadline(deadline)
		}
		exited, err := pollIn(f)
		if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			return exited
		}
		// Not pollable: fall back to a blocking poll below.
	}
	for {
		ms := -1
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				return false
			}
			ms = int(left/time.Millisecond) + 1
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, ms)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n > 0
	}
}

// pollIn parks until f is readable (a pidfd is readable once its process
// has exited) or f's deadline passes.
func pollIn(f *os.File) (bool, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	exited := false
	err = rc.Read(func(fd uintptr) bool {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
		exited = n > 0
		return exited || (err != nil && err != unix.EINTR)
	})
	return exited, err
}
