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
