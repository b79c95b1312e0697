package cli

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/term"

	"github.com/nslab/nslab/engine/api"
)

// attached is the caller's side of a container that run (without -d) or
// start -a attaches to: a pty whose slave the daemon gives the container,
// or the caller's own stdout and stderr (and stdin with -i).
type attached struct {
	files  []*os.File // sent to the daemon with the request
	master *os.File   // the pty's master, with a terminal
	undo   []func()
}

// attach prepares the caller's side. close undoes it.
func attach(tty, interactive bool) (*attached, error) {
	a := &attached{}
	if !tty {
		a.files = []*os.File{os.Stdout, os.Stderr}
		if interactive {
			a.files = append(a.files, os.Stdin)
		}
		return a, nil
	}
	m, slave, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("allocate a terminal: %w", err)
	}
	a.master, a.files = m, []*os.File{slave}
	a.undo = append(a.undo, func() { slave.Close() }, func() { m.Close() })
	if term.IsTerminal(int(os.Stdin.Fd())) {
		pty.InheritSize(os.Stdin, slave)
		if st, err := term.MakeRaw(int(os.Stdin.Fd())); err == nil {
			a.undo = append(a.undo, func() { term.Restore(int(os.Stdin.Fd()), st) })
		}
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		a.undo = append(a.undo, func() { signal.Stop(winch) })
		go func() {
			// The slave is closed once the daemon has it; the master
			// sets the same window size.
			for range winch {
				pty.InheritSize(os.Stdin, m)
			}
		}()
	}
	return a, nil
}

func (a *attached) close() {
	for i := len(a.undo) - 1; i >= 0; i-- {
		a.undo[i]()
	}
}

// pump copies the terminal's traffic, or forwards ^C and TERM to the
// container as docker's --sig-proxy does, until the daemon's last answer
// (wait) gives the exit code.
func (a *attached) pump(id string, interactive bool, wait func() (*int, error)) (int, error) {
	outDone := make(chan struct{})
	if a.master != nil {
		for _, f := range a.files {
			f.Close()
		}
		if interactive {
			go io.Copy(a.master, os.Stdin)
		}
		go func() {
			io.Copy(os.Stdout, a.master)
			close(outDone)
		}()
	} else {
		close(outDone)
		sigc := make(chan os.Signal, 2)
		signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(sigc)
		go func() {
			for s := range sigc {
				call(api.KillRequest{Names: []string{id}, Signal: int(s.(syscall.Signal))}, nil)
			}
		}()
	}
	code, err := wait()
	if err != nil {
		return 0, err
	}
	if a.master != nil {
		select {
		case <-outDone:
		case <-time.After(2 * time.Second):
		}
	}
	if code == nil {
		return 0, fmt.Errorf("daemon did not report an exit code")
	}
	return *code, nil
}
