package reap

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pidfds counts this process's open pidfds.
func pidfds(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); strings.Contains(l, "pidfd") {
			n++
		}
	}
	return n
}

// TestStartHoldsOnePidfd: a started process holds one pidfd, not os/exec's
// and a waiter's (the descriptors every later child copies and closes).
// Wait reaps it, reports how it ended, and releases the pidfd; a signal
// after that says the process is done.
func TestStartHoldsOnePidfd(t *testing.T) {
	before := pidfds(t)
	p, err := Start(exec.Command("sleep", "60"))
	if err != nil {
		t.Fatal(err)
	}
	if got := pidfds(t) - before; got != 1 {
		t.Errorf("a started process holds %d pidfds, want 1", got)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM to a running sleep: %v", err)
	}
	ws, err := p.Wait()
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if code := ExitCode(ws); code != 128+int(syscall.SIGTERM) {
		t.Errorf("exit code %d after SIGTERM, want %d", code, 128+int(syscall.SIGTERM))
	}
	if got := pidfds(t) - before; got != 0 {
		t.Errorf("%d pidfds left after Wait, want 0", got)
	}
	// Reaped: no zombie is left under this pid.
	if err := unix.Kill(p.Pid, 0); !errors.Is(err, unix.ESRCH) {
		t.Errorf("pid %d after Wait: kill(0) = %v, want ESRCH (reaped)", p.Pid, err)
	}
	if err := p.Kill(); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("Kill after Wait = %v, want os.ErrProcessDone", err)
	}
}

// TestStartExitStatus: a plain exit status comes through Wait unchanged.
func TestStartExitStatus(t *testing.T) {
	p, err := Start(exec.Command("sh", "-c", "exit 7"))
	if err != nil {
		t.Fatal(err)
	}
	ws, err := p.Wait()
	if err != nil || ExitCode(ws) != 7 {
		t.Fatalf("Wait = %v, %v (code %d), want exit code 7", ws, err, ExitCode(ws))
	}
}

// TestStartFailure: a command that cannot start leaves no pidfd behind.
func TestStartFailure(t *testing.T) {
	before := pidfds(t)
	if _, err := Start(exec.Command("/nonexistent/command")); err == nil {
		t.Fatal("Start of a missing command succeeded")
	}
	if got := pidfds(t) - before; got != 0 {
		t.Errorf("%d pidfds left after a failed start, want 0", got)
	}
}

// TestHoldWaitsForNonChild: Hold waits for a process by its pidfd alone.
// The cat here is a child, but held as if it were not, so Wait does not
// reap it: it stays a zombie until the test reaps it.
func TestHoldWaitsForNonChild(t *testing.T) {
	cmd, end := catChild(t)
	fd, err := unix.PidfdOpen(cmd.Process.Pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Hold(cmd.Process.Pid, fd)
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { p.Wait(); close(waited) }()
	select {
	case <-waited:
		t.Fatal("Wait returned while the process ran")
	case <-time.After(20 * time.Millisecond):
	}
	end()
	<-waited
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(cmd.Process.Pid, &ws, syscall.WNOHANG, nil); err != nil {
		t.Errorf("the held process was reaped by Wait (wait4: %v); only its parent may", err)
	}
}

// TestStartUnheldHoldsNothingUntilWait: an unheld child takes no
// descriptor while it runs, is signalled by pid, and Wait still reaps it
// with its status and leaves nothing open.
func TestStartUnheldHoldsNothingUntilWait(t *testing.T) {
	before := pidfds(t)
	p, err := StartUnheld(exec.Command("sleep", "60"))
	if err != nil {
		t.Fatal(err)
	}
	if got := pidfds(t) - before; got != 0 {
		t.Errorf("an unheld process holds %d pidfds while it runs, want 0", got)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM to a running sleep: %v", err)
	}
	ws, err := p.Wait()
	if err != nil || ExitCode(ws) != 128+int(syscall.SIGTERM) {
		t.Fatalf("Wait = %v, %v (code %d), want exit code %d", ws, err, ExitCode(ws), 128+int(syscall.SIGTERM))
	}
	if got := pidfds(t) - before; got != 0 {
		t.Errorf("%d pidfds left after Wait, want 0", got)
	}
	if err := p.Signal(syscall.SIGUSR1); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("a signal after Wait = %v, want os.ErrProcessDone (its pid may be another process's now)", err)
	}
}
