// Stdio and logs: a container's standard streams, its json-file log, and
// the caller's files during an attached run. stdio runs with d.mu held;
// the copiers it starts and the tee targets never take it, as they live as
// long as the container's output.

package daemon

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/creack/pty"
	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/shim"
)

// stdio prepares the container's standard streams. Detached containers
// write to the json log through pipes (or a pty with -t), which the log
// shim (logshim.go) reads. Attached ones get the caller's files: the shim
// tees the pipes into the caller's stdout and stderr, or, with -t, the
// caller's pty slave is used as it is.
//
// stdio owns every passed file from then on. It returns the files the
// daemon must close once the process has started (the container and the
// shim have their own copies).
func (d *Daemon) stdio(c *Container, o api.RunOptions, passed []*os.File) (stdin, stdout, stderr *os.File, closers []*os.File, err error) {
	c.shim = nil // the last run's, reaped by its waitOutput
	fail := func(err error) (*os.File, *os.File, *os.File, []*os.File, error) {
		for _, f := range append(closers, passed...) {
			f.Close()
		}
		return nil, nil, nil, nil, err
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return fail(err)
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return fail(err)
	}
	closers = append(closers, devnull)
	stdin = devnull
	if !o.Detach && o.Tty {
		if len(passed) != 1 {
			return fail(errors.New("an attached run with a terminal passes exactly one file, the pty slave"))
		}
		return passed[0], passed[0], passed[0], append(closers, passed[0]), nil
	}
	cfg := shim.Config{Log: c.LogPath(), MaxSize: c.LogMaxSize, MaxFile: c.LogMaxFile}
	if o.Tty {
		// The log shim holds the master: a daemon that held it would
		// hang the container's terminal up when it died.
		master, slave, err := pty.Open()
		if err != nil {
			return fail(fmt.Errorf("allocate pty: %w", err))
		}
		closers = append(closers, passed...)
		closers = append(closers, master, slave)
		cfg.Tty = true
		if err := d.startLogShim(c, cfg, []*os.File{master}); err != nil {
			return fail(err)
		}
		return slave, slave, slave, closers, nil
	}
	var tees []*os.File
	if !o.Detach {
		if len(passed) < 2 || len(passed) > 3 {
			return fail(errors.New("an attached run passes stdout, stderr and, with -i, stdin"))
		}
		tees = passed[:2]
		if len(passed) == 3 && o.Interactive {
			stdin = passed[2]
		}
	}
	closers = append(closers, passed...)
	var rends, wends [2]*os.File
	for i := range rends {
		r, w, err := os.Pipe()
		if err != nil {
			return fail(err)
		}
		rends[i], wends[i] = r, w
		closers = append(closers, r, w)
	}
	cfg.Tee = tees != nil
	if err := d.startLogShim(c, cfg, append(rends[:], tees...)); err != nil {
		return fail(err)
	}
	if cfg.Tee {
		// The caller's files are the shim's now: if the caller goes
		// away, SIGUSR1 tells the shim to drop them.
		p := c.shim
		c.tees = []*teeTarget{{detach: func() { p.Signal(syscall.SIGUSR1) }}}
	}
	return stdin, wends[0], wends[1], closers, nil
}

// teeTarget is the caller's stdout or stderr during an attached run, which
// the log shim holds. If the caller goes away (its nslab run was killed),
// Detach tells the shim, and the container's output goes on to the log
// only, as with Docker.
type teeTarget struct {
	detach func()
}

// Detach makes the shim drop the caller's files; later output is dropped.
func (t *teeTarget) Detach() { t.detach() }

// handleLogs says where a container's log is; the CLI reads it.
func (d *Daemon) handleLogs(req api.LogsRequest) (api.LogsResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.container(req.Container)
	if err != nil {
		return api.LogsResponse{}, err
	}
	return api.LogsResponse{Path: c.LogPath()}, nil
}
