package reap

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Process is a process held by one pidfd in the runtime's poller: the
// daemon's handle on a container's first process or on a log shim.
//
// os/exec keeps a pidfd of its own for every child it starts, and waiting
// in the poller needs one more, so a running container and its log shim
// held four of the daemon's descriptors. Every process the daemon starts
// copies its whole descriptor table and closes it again at exec
// (do_close_on_exec), and a run -d starts two: at 1,000 containers those
// closes were the largest cost that grows with the number of containers
// (engine/README.md). A Process holds one.
type Process struct {
	Pid   int
	child bool // the caller's child, which Wait reaps

	mu sync.Mutex
	// f is the pidfd, non-blocking, closed by Wait. An unheld child
	// (StartUnheld) has none until Wait opens it, and is signalled by pid
	// until then: reaped, guarded by mu, says when that pid is no longer
	// its own.
	f      *os.File
	reaped bool
}

// Start starts cmd and returns its process, held by one pidfd: os/exec's
// own is released at once. Use the Process from then on, never cmd.Wait or
// cmd.Process. If no pidfd can be opened, the child is killed and reaped,
// and Start fails.
func Start(cmd *exec.Cmd) (*Process, error) {
	p, err := StartUnheld(cmd)
	if err != nil {
		return nil, err
	}
	// An unreaped child's pid cannot be reused: the pidfd names it.
	if p.f, err = openPidfd(p.Pid); err != nil {
		p.Kill()
		p.Wait()
		return nil, err
	}
	return p, nil
}

// StartUnheld is Start for a child that is waited for only late, such as
// a container's log shim, which ends after its container: it holds no
// descriptor until Wait opens one. Until then a signal goes by pid, which
// is safe because the pid of a child that has not been reaped cannot be
// reused, and Wait reaps under the same lock.
func StartUnheld(cmd *exec.Cmd) (*Process, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	cmd.Process.Release()
	return &Process{Pid: pid, child: true}, nil
}

// Hold takes the pidfd fd of process pid, which is not the caller's child
// (a container a restarted daemon adopts). Wait then only waits. fd is
// closed if Hold fails.
func Hold(pid, fd int) (*Process, error) {
	f, err := pollable(pid, fd)
	if err != nil {
		return nil, err
	}
	return &Process{Pid: pid, f: f}, nil
}

// openPidfd opens a pidfd for pid, in the poller.
func openPidfd(pid int) (*os.File, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("pidfd for pid %d: %w", pid, err)
	}
	return pollable(pid, fd)
}

// pollable makes pidfd fd an *os.File in the poller, or closes it.
func pollable(pid, fd int) (*os.File, error) {
	// Non-blocking, so that os.NewFile puts it in the poller.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("pidfd for pid %d: %w", pid, err)
	}
	return os.NewFile(uintptr(fd), "pidfd"), nil
}

// Signal sends sig to the process. Once Wait has reaped it (or, for a
// held process, once it has gone), the error is os.ErrProcessDone; an
// exited child not yet reaped takes the signal without effect.
func (p *Process) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	f := p.f
	if f == nil {
		defer p.mu.Unlock()
		if p.reaped {
			return os.ErrProcessDone
		}
		return unix.Kill(p.Pid, sig)
	}
	p.mu.Unlock()
	rc, err := f.SyscallConn()
	if err != nil {
		return os.ErrProcessDone
	}
	var serr error
	// Control holds the descriptor open, so a concurrent Wait cannot
	// close it (and its number be reused) under the signal.
	if err := rc.Control(func(fd uintptr) {
		serr = unix.PidfdSendSignal(int(fd), sig, nil, 0)
	}); err != nil {
		return os.ErrProcessDone
	}
	if errors.Is(serr, unix.ESRCH) {
		return os.ErrProcessDone
	}
	return serr
}

// Kill sends SIGKILL.
func (p *Process) Kill() error { return p.Signal(syscall.SIGKILL) }

// Exited returns once the process has exited, without reaping it. An
// unheld child gets its pidfd here.
func (p *Process) Exited() {
	p.mu.Lock()
	if p.reaped {
		p.mu.Unlock()
		return // its pid may be another process's now
	}
	if p.f == nil {
		p.f, _ = openPidfd(p.Pid) // nil on failure: the fallback below
	}
	f := p.f
	p.mu.Unlock()
	if f == nil {
		// No pidfd: wait on a thread, without reaping.
		if p.child {
			var info unix.Siginfo
			for unix.Waitid(unix.P_PID, p.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil) == unix.EINTR {
			}
		}
		return
	}
	if _, err := pollIn(f); err != nil {
		// Not pollable: a blocking poll on a thread.
		if rc, err := f.SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) { Pidfd(int(fd), -1) })
		}
	}
}

// Wait returns once the process has exited and, for a child, reaps it and
// returns its wait status. It then releases the pidfd. Call it once.
func (p *Process) Wait() (syscall.WaitStatus, error) {
	p.Exited()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f != nil {
		defer p.f.Close()
	}
	if !p.child || p.reaped {
		return 0, nil
	}
	ws, err := wait4(p.Pid)
	p.reaped = true
	return ws, err
}

// wait4 reaps the exited child pid.
func wait4(pid int) (syscall.WaitStatus, error) {
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("wait for pid %d: %w", pid, err)
		}
		return ws, nil
	}
}

// ExitCode is a wait status as Docker reports it: the exit status, or 128
// plus the signal that ended the process.
func ExitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
