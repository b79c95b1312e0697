// Stdio and logs: a container's standard streams, its json-file log, and
// the caller's files during an attached run. stdio runs with d.mu held;
// the copiers it starts and the tee targets never take it, as they live as
// long as the container's output.

package daemon

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/creack/pty"
	"github.com/nslab/nslab/engine/api"
)

// stdio prepares the container's standard streams. Detached containers
// write to the json log through pipes (or a pty with -t). Attached ones get
// the caller's files: the log is teed from pipes into the caller's stdout
// and stderr, or, with -t, the caller's pty slave is used as it is.
//
// stdio owns every passed file from then on. It returns the files the
// daemon must close once the process has started (the container has its
// own copies); tee targets are closed when their copier has finished.
func (d *Daemon) stdio(c *Container, o api.RunOptions, passed []*os.File) (stdin, stdout, stderr *os.File, closers []*os.File, err error) {
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
	lw, err := openJSONLog(c.LogPath(), c.LogMaxSize, c.LogMaxFile)
	if err != nil {
		return fail(err)
	}
	logf := lw
	if o.Tty {
		master, slave, err := pty.Open()
		if err != nil {
			logf.Close()
			return fail(fmt.Errorf("allocate pty: %w", err))
		}
		closers = append(closers, passed...)
		c.output.Add(1)
		go func() {
			defer c.output.Done()
			defer logf.Close()
			defer master.Close()
			lw.copy("stdout", master, nil)
		}()
		return slave, slave, slave, append(closers, slave), nil
	}
	var outs [2]*teeTarget
	if !o.Detach {
		if len(passed) < 2 || len(passed) > 3 {
			logf.Close()
			return fail(errors.New("an attached run passes stdout, stderr and, with -i, stdin"))
		}
		outs = [2]*teeTarget{{f: passed[0]}, {f: passed[1]}}
		c.tees = outs[:]
		if len(passed) == 3 {
			closers = append(closers, passed[2])
			if o.Interactive {
				stdin = passed[2]
			}
		}
	} else {
		closers = append(closers, passed...)
	}
	var wends [2]*os.File
	var pending sync.WaitGroup
	for i, stream := range []string{"stdout", "stderr"} {
		r, w, err := os.Pipe()
		if err != nil {
			logf.Close()
			return fail(err)
		}
		wends[i] = w
		closers = append(closers, w)
		pending.Add(1)
		c.output.Add(1)
		var tee io.Writer
		if outs[i] != nil {
			tee = outs[i]
		}
		go func(stream string, r *os.File, tee io.Writer) {
			defer c.output.Done()
			defer pending.Done()
			defer r.Close()
			lw.copy(stream, r, tee)
		}(stream, r, tee)
	}
	go func() {
		pending.Wait()
		logf.Close()
		for _, t := range outs {
			if t != nil {
				t.Detach()
			}
		}
	}()
	return stdin, wends[0], wends[1], closers, nil
}

// teeTarget is the caller's stdout or stderr during an attached run. If
// the caller goes away (its nslab run was killed), Detach closes it and
// the container's output goes on to the log only, as with Docker.
type teeTarget struct {
	mu sync.Mutex
	f  *os.File
}

func (t *teeTarget) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f != nil {
		t.f.Write(p)
	}
	return len(p), nil
}

// Detach closes the caller's file; later output is dropped.
func (t *teeTarget) Detach() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
}

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
