package labs_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/nslab/nslab/engine/labhost"
)

// screen collects what a terminal shows.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// waitFor waits, for a bounded time, until the screen shows text.
func (s *screen) waitFor(t *testing.T, text string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.mu.Lock()
		got := s.buf.String()
		s.mu.Unlock()
		if strings.Contains(got, text) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the terminal never showed %q; it shows:\n%s", text, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestInteractiveTerminal types into `nslab run -it busybox` as a learner
// would, and checks that the shell has a real terminal: a prompt, a
// /dev/pts device, line editing, and its exit status passed back.
func TestInteractiveTerminal(t *testing.T) {
	needLabs(t)
	h, err := labhost.Start(labhost.Options{Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	cmd, err := labhost.Command(h.Env(), "nslab", "run", "--name", "nstest", "-it", "busybox")
	if err != nil {
		t.Fatal(err)
	}
	term, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	var scr screen
	go copyOut(&scr, term)

	scr.waitFor(t, "/ # ")
	term.Write([]byte("tty; stty size; echo marker-$((6*7))\r"))
	scr.waitFor(t, "marker-42")
	scr.waitFor(t, "/dev/pts/")
	scr.waitFor(t, "30 100")
	term.Write([]byte("exit 7\r"))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 7 {
			t.Fatalf("nslab run -it exited with %v, want exit status 7 (the shell's)", err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("nslab run -it did not exit after the shell's exit")
	}
}

func copyOut(s *screen, f *os.File) {
	buf := make([]byte, 4096)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			s.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}
