// Life cycle after run: start and restart of a stopped or created
// container, the restart policy (--restart), the stop signal
// (--stop-signal), and what a failed start leaves: a container in Created
// state that keeps its name, as Docker leaves it. Every function here runs
// with d.mu held unless it says otherwise.

package daemon

import (
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nslab/nslab/engine/api"
	"golang.org/x/sys/unix"
)

// RestartPolicy is HostConfig.RestartPolicy: no, on-failure (with its
// count), always or unless-stopped.
type RestartPolicy = api.RestartPolicy

// Lifecycle is a container's life-cycle state beyond running or not.
type Lifecycle struct {
	RestartPolicy RestartPolicy
	RestartCount  int    // restarts by the policy since the last start or restart
	StopSignal    string // --stop-signal as given; empty is SIGTERM
	Error         string // State.Error: why the last start failed

	// manuallyStopped: stop or kill ended it, so no policy restarts it
	// (Docker 20.10 and v24 do not restart after either).
	manuallyStopped bool
	// backoff is the wait before the next policy restart: 100 ms,
	// doubling, at most a minute, back to 100 ms after a run of 10 s.
	backoff time.Duration
	timer   *time.Timer // the pending policy restart, while "restarting"
	// connected are the networks `network connect` added, which the
	// container joins again when it starts, as Docker keeps them in its
	// configuration.
	connected []connectedNetwork
}

type connectedNetwork struct {
	networkID string
	aliases   []string
	ip        string // --ip as asked
}

// rememberConnected records, as the container stops, the networks it was
// connected to beyond its run's.
func rememberConnected(c *Container) {
	c.connected = nil
	for _, ep := range c.Endpoints {
		if ep.Network != c.NetworkMode {
			c.connected = append(c.connected, connectedNetwork{ep.NetworkID, ep.Aliases, ep.IPv4Req})
		}
	}
}

// reconnect attaches a starting container to the networks it was
// connected to when it stopped, after its run's network; a network
// removed meanwhile is skipped. Each attachment adds its undo.
func (d *Daemon) reconnect(c *Container, undo *[]func()) error {
	for _, r := range c.connected {
		n, ok := d.networks[r.networkID]
		if !ok {
			continue
		}
		ep, err := d.attach(c, n, r.aliases, r.ip)
		if err != nil {
			return err
		}
		*undo = append(*undo, func() { d.detach(c, ep) })
	}
	return nil
}

// Docker's restart manager (restartmanager/restartmanager.go).
const (
	backoffFirst = 100 * time.Millisecond
	backoffMax   = time.Minute
	backoffReset = 10 * time.Second
)

// parseRestartPolicy is the daemon's check of --restart, with dockerd's
// messages. The CLI refuses a count that is no integer first, as Docker's
// does.
func parseRestartPolicy(s string) (RestartPolicy, error) {
	if s == "" {
		return RestartPolicy{Name: "no"}, nil
	}
	name, count, hasCount := strings.Cut(s, ":")
	p := RestartPolicy{Name: name}
	if hasCount {
		n, err := strconv.Atoi(count)
		if err != nil {
			return p, fmt.Errorf("invalid restart policy format: maximum retry count must be an integer")
		}
		p.MaximumRetryCount = n
	}
	switch p.Name {
	case "always", "unless-stopped", "no":
		if p.MaximumRetryCount != 0 {
			return p, fmt.Errorf("maximum retry count cannot be used with restart policy '%s'", p.Name)
		}
	case "on-failure":
		if p.MaximumRetryCount < 0 {
			return p, fmt.Errorf("maximum retry count cannot be negative")
		}
	default:
		return p, fmt.Errorf("invalid restart policy '%s'", p.Name)
	}
	return p, nil
}

// parseSignal is Docker's signal.ParseSignal: a number, or a name with or
// without SIG, in any case; its message is dockerd's.
func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || unix.SignalName(syscall.Signal(n)) == "" {
			return 0, fmt.Errorf("Invalid signal: %s", s)
		}
		return syscall.Signal(n), nil
	}
	sig := unix.SignalNum("SIG" + strings.TrimPrefix(strings.ToUpper(s), "SIG"))
	if sig == 0 {
		return 0, fmt.Errorf("Invalid signal: %s", s)
	}
	return sig, nil
}

// applyLifecycle records run's --restart and --stop-signal on c.
func applyLifecycle(c *Container, o api.RunOptions) error {
	p, err := parseRestartPolicy(o.Restart)
	if err != nil {
		return err
	}
	if o.AutoRemove && p.Name != "no" {
		return fmt.Errorf("can't create 'AutoRemove' container with restart policy")
	}
	if o.StopSignal != "" {
		if _, err := parseSignal(o.StopSignal); err != nil {
			return err
		}
	}
	c.RestartPolicy, c.StopSignal = p, o.StopSignal
	return nil
}

// stopSignal is the signal stop sends first.
func (c *Container) stopSignal() syscall.Signal {
	if sig, err := parseSignal(c.StopSignal); err == nil && c.StopSignal != "" {
		return sig
	}
	return syscall.SIGTERM
}

// restartPolicyJSON is HostConfig.RestartPolicy: "no" unless run asked
// for another.
func restartPolicyJSON(c *Container) RestartPolicy {
	if c.RestartPolicy.Name == "" {
		return RestartPolicy{Name: "no"}
	}
	return c.RestartPolicy
}

func (c *Container) restarting() bool { return c.Status == "restarting" }

// startFailed records why a start failed. The container stays as it was,
// Created or Exited, with its name, as Docker leaves it; inspect's
// State.Error says why, and its exit code is 128 if it had none.
func startFailed(c *Container, err error) {
	c.Error = err.Error()
	if c.ExitCode == 0 {
		c.ExitCode = 128
	}
}

// startAgain is start or restart by a user: the policy's count and back-off
// start over, as Docker resets the restart manager.
func (d *Daemon) startAgain(c *Container, stdin, stdout, stderr *os.File) error {
	c.cancelRestart()
	c.manuallyStopped = false
	c.RestartCount = 0
	c.backoff = 0
	if err := d.start(c, stdin, stdout, stderr); err != nil {
		startFailed(c, err)
		return err
	}
	c.Error, c.ExitCode = "", 0
	d.saveContainer(c)
	return nil
}

// cancelRestart stops a pending policy restart; the container stays
// exited.
func (c *Container) cancelRestart() {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if c.restarting() {
		c.Status = "exited"
	}
}

// shouldRestart is Docker's restart manager's decision for a container
// that exited by itself.
func (d *Daemon) shouldRestart(c *Container) bool {
	if d.shuttingDown || c.manuallyStopped || c.AutoRemove {
		return false
	}
	switch p := c.RestartPolicy; p.Name {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return c.ExitCode != 0 && (p.MaximumRetryCount == 0 || c.RestartCount < p.MaximumRetryCount)
	}
	return false
}

// afterExit runs when the reaper has recorded an exit: if the policy says
// so, the container is "restarting" and starts again after the back-off.
func (d *Daemon) afterExit(c *Container) {
	if !d.shouldRestart(c) {
		return
	}
	if c.FinishedAt.Sub(c.StartedAt) >= backoffReset {
		c.backoff = 0
	}
	if c.backoff == 0 {
		c.backoff = backoffFirst
	} else {
		c.backoff = min(2*c.backoff, backoffMax)
	}
	c.RestartCount++
	c.Status = "restarting"
	d.armRestart(c)
}

// armRestart starts c again after c.backoff, unless it is stopped, removed
// or started meanwhile. Call with d.mu held.
func (d *Daemon) armRestart(c *Container) {
	var t *time.Timer
	t = time.AfterFunc(c.backoff, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if c.timer != t || !c.restarting() || d.containers[c.ID] != c {
			return // stopped, removed or started meanwhile
		}
		c.timer = nil
		c.Status = "exited"
		if err := d.startDetached(c); err != nil {
			log.Printf("container %s: restart: %v", c.Name, err)
			startFailed(c, err)
		}
		d.saveContainer(c)
	})
	c.timer = t
}

// startDetached starts c with its output to its log only.
func (d *Daemon) startDetached(c *Container) error {
	c.tees = nil
	stdin, stdout, stderr, closers, err := d.stdio(c, api.RunOptions{Detach: true, Tty: c.Tty}, nil)
	if err != nil {
		return err
	}
	err = d.start(c, stdin, stdout, stderr)
	for _, f := range closers {
		f.Close()
	}
	if err == nil {
		c.Error, c.ExitCode = "", 0
	}
	return err
}

// handleStart starts a created or stopped container. Starting one that
// runs is a no-op, as in Docker. With Attach, the caller's files are its
// stdio, and a second reply carries the exit code.
func (d *Daemon) handleStart(s *api.ServerConn) {
	var req api.StartRequest
	closeFiles := func() {
		for _, f := range s.Files {
			f.Close()
		}
		s.Files = nil
	}
	if err := s.Decode(&req); err != nil {
		closeFiles()
		s.Reply(nil, fmt.Errorf("bad %s request: %w", req.Op(), err))
		return
	}
	d.mu.Lock()
	c, err := d.container(req.Container)
	if err == nil && (c.running() || c.restarting()) {
		if req.Attach {
			err = fmt.Errorf("container %s is running: nslab's start -a attaches only to a container it starts (see logs)", c.Name)
		} else {
			d.mu.Unlock()
			closeFiles()
			s.Reply(api.StartResult{ID: c.ID}, nil)
			return
		}
	}
	if err != nil {
		d.mu.Unlock()
		closeFiles()
		s.Reply(nil, err)
		return
	}
	c.tees = nil
	o := api.RunOptions{Detach: !req.Attach, Tty: c.Tty, Interactive: req.Interactive && c.OpenStdin}
	stdin, stdout, stderr, closers, err := d.stdio(c, o, s.Files)
	s.Files = nil // stdio owns them now
	if err == nil {
		err = d.startAgain(c, stdin, stdout, stderr)
	} else {
		startFailed(c, err)
	}
	for _, f := range closers {
		f.Close()
	}
	if err != nil {
		d.saveContainer(c)
		d.mu.Unlock()
		s.Reply(nil, err)
		return
	}
	exited := c.exited
	d.mu.Unlock()
	s.Reply(api.StartResult{ID: c.ID}, nil)
	if !req.Attach {
		return
	}
	if code, ok := d.awaitExit(s, c, exited); ok {
		s.Reply(api.StartResult{ID: c.ID, ExitCode: &code}, nil)
	}
}

// handleRestart stops a container, if it runs, with its stop signal and
// the timeout, and starts it again.
func (d *Daemon) handleRestart(req api.RestartRequest) (string, error) {
	d.mu.Lock()
	c, err := d.container(req.Container)
	d.mu.Unlock()
	if err != nil {
		return "", err
	}
	timeout := 10 * time.Second
	if req.Timeout != nil {
		timeout = time.Duration(*req.Timeout) * time.Second
	}
	d.stop(c, timeout)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.containers[c.ID] != c {
		return "", fmt.Errorf("Cannot restart container %s: removed while it stopped", req.Container)
	}
	if c.running() {
		return c.ID, nil // someone else started it meanwhile
	}
	if err := d.startAgainDetached(c); err != nil {
		d.saveContainer(c)
		return "", fmt.Errorf("Cannot restart container %s: %w", req.Container, err)
	}
	return c.ID, nil
}

// startAgainDetached is startAgain with the output to the log only.
func (d *Daemon) startAgainDetached(c *Container) error {
	c.tees = nil
	stdin, stdout, stderr, closers, err := d.stdio(c, api.RunOptions{Detach: true, Tty: c.Tty}, nil)
	if err != nil {
		startFailed(c, err)
		return err
	}
	err = d.startAgain(c, stdin, stdout, stderr)
	for _, f := range closers {
		f.Close()
	}
	return err
}
