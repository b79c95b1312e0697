package reap

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// catChild starts a cat that exits when its stdin closes.
func catChild(t *testing.T) (*exec.Cmd, func()) {
	t.Helper()
	cmd := exec.Command("cat")
	w, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, func() { w.Close() }
}

func TestPidfdDeadlineAndExit(t *testing.T) {
	cmd, end := catChild(t)
	fd, err := unix.PidfdOpen(cmd.Process.Pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if Pidfd(fd, 20*time.Millisecond) {
		t.Fatal("Pidfd reported a running cat as exited")
	}
	end()
	if !Pidfd(fd, -1) {
		t.Fatal("Pidfd did not report the cat's exit")
	}
	// fd is still the caller's: a second wait answers at once.
	if !Pidfd(fd, 0) {
		t.Fatal("a second Pidfd on an exited process said it runs")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("cat: %v", err)
	}
}

func threads(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatal("no Threads: in /proc/self/status")
	return 0
}

// TestWaitHoldsNoThread waits for 64 children at once: a blocking wait
// would hold 64 OS threads; the poller holds none. Each wait holds one
// descriptor, its pidfd, and no duplicate of it.
func TestWaitHoldsNoThread(t *testing.T) {
	const n = 64
	fds := func() int { e, _ := os.ReadDir("/proc/self/fd"); return len(e) }
	baseFDs := fds()
	before := threads(t)
	done := make(chan struct{}, n)
	var ends []func()
	for i := 0; i < n; i++ {
		cmd := exec.Command("cat")
		w, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		p, err := Start(cmd)
		if err != nil {
			t.Fatal(err)
		}
		ends = append(ends, func() { w.Close() })
		go func() {
			p.Wait()
			done <- struct{}{}
		}()
	}
	// Give the waiters up to 100 ms to run: had each blocked a thread,
	// the count would rise within it. Parked in the poller, it does not.
	for i := 0; i < 50 && threads(t) <= before+n/4; i++ {
		time.Sleep(2 * time.Millisecond) // bounded retries
	}
	during := threads(t)
	// Now that they wait: 2 a child, cat's stdin pipe end and the
	// Process's pidfd, with no duplicate for the wait.
	if held := fds() - baseFDs; held > 2*n {
		t.Errorf("%d children awaited hold %d descriptors, want %d: a wait holds more than the one pidfd", n, held, 2*n)
	}
	for _, end := range ends {
		end()
	}
	for i := 0; i < n; i++ {
		<-done
	}
	if during > before+n/4 {
		t.Errorf("%d children awaited held %d threads (%d before): the wait blocks a thread each", n, during, before)
	}
}
