package labhost

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nslab/nslab/engine/api"
)

// EnvDaemonTimeout bounds how long a CLI call waits for the engine daemon:
// a Go duration (90s, 5m) or a number of seconds. 0 or a negative value
// waits for ever.
const EnvDaemonTimeout = "NSLAB_DAEMON_TIMEOUT"

// DefaultDaemonTimeout is generous for the slowest real call: a run with
// published ports (each docker-proxy may take 16 s to report, as under
// Docker), an rm -f of containers that ignore SIGTERM, a network create
// under load. stop adds its own timeout per container on top.
const DefaultDaemonTimeout = 2 * time.Minute

// DaemonTimeout is the bound on one call, from NSLAB_DAEMON_TIMEOUT or the
// default. ok is false when calls are unbounded.
func DaemonTimeout() (d time.Duration, ok bool, err error) {
	v := strings.TrimSpace(os.Getenv(EnvDaemonTimeout))
	if v == "" {
		return DefaultDaemonTimeout, true, nil
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		d = time.Duration(n * float64(time.Second))
	} else if d, err = time.ParseDuration(v); err != nil {
		return 0, false, fmt.Errorf("bad %s %q: want a duration such as 90s or 5m, or a number of seconds", EnvDaemonTimeout, v)
	}
	return d, d > 0, nil
}

// callBounded is api.Call with the whole call (connect, send, answer)
// bounded. While the supervisor restarts a dead daemon (its pid file is
// gone or names a dead process, or the dead daemon's socket held the
// request unread), the call waits for the new one within the same bound.
func callBounded(req api.Operation, out any, files ...*os.File) error {
	bound, bounded, err := DaemonTimeout()
	if err != nil {
		return err
	}
	if s, ok := req.(api.StopRequest); ok && bounded {
		if s.Timeout < 0 {
			bounded = false // stop -t -1 waits for as long as it takes
		} else {
			bound += time.Duration(len(s.Names)*s.Timeout) * time.Second
		}
	}
	if !bounded {
		return api.Call(Socket(), req, out, files...)
	}
	deadline := time.Now().Add(bound)
	return retryConn(bound, deadline, func() error { return callOnce(req, out, deadline, files...) })
}

// Connect sends req on a new connection to the daemon and returns the
// connection, whose answers the caller reads without a deadline: a run's
// result, and an attached run's or start -a's exit code when the container
// ends. Connecting and sending are bounded and retried as callBounded's
// calls are, so a run typed while the supervisor restarts a dead daemon
// waits for the new one. (A request that the dead daemon's socket held
// unread and that shows as a reset only when the answer is read is not
// sent again.)
func Connect(req api.Operation, files ...*os.File) (*api.Conn, error) {
	bound, bounded, err := DaemonTimeout()
	if err != nil {
		return nil, err
	}
	if !bounded {
		return connectOnce(req, time.Time{}, files...)
	}
	deadline := time.Now().Add(bound)
	var c *api.Conn
	err = retryConn(bound, deadline, func() (err error) {
		c, err = connectOnce(req, deadline, files...)
		return err
	})
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// retryConn runs once until it returns anything but a connError, or one
// that is not worth another try: a dial failure while no daemon is being
// restarted, or an exchange that may have reached a daemon. Past the
// deadline it says that the daemon did not answer.
func retryConn(bound time.Duration, deadline time.Time, once func() error) error {
	for {
		var ce connError
		if err := once(); !errors.As(err, &ce) {
			return err // nil, or the daemon's answer
		}
		retry := unread(ce.err)
		if ce.dial {
			retry = restarting(ce.err)
		}
		late := time.Now().After(deadline)
		if late && retry || errors.Is(ce.err, os.ErrDeadlineExceeded) || isTimeout(ce.err) {
			return noAnswer(bound)
		}
		if !retry {
			return ce.err
		}
		time.Sleep(20 * time.Millisecond) // bounded by the deadline
	}
}

// connError is a failure to reach the daemon or to exchange the request
// and answer with it; dial says which.
type connError struct {
	err  error
	dial bool
}

func (e connError) Error() string { return e.err.Error() }
func (e connError) Unwrap() error { return e.err }

// callOnce is one connection's call, up to deadline. Failures of the
// connection itself come back as a connError; an answer the daemon gave,
// an error included, as is.
func callOnce(req api.Operation, out any, deadline time.Time, files ...*os.File) error {
	c, err := connectOnce(req, deadline, files...)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Recv(out); err != nil {
		var de *api.Error
		if errors.As(err, &de) {
			return err
		}
		return connError{err, false}
	}
	return nil
}

// connectOnce dials the daemon and sends req, up to deadline (none if it
// is zero), which stays set on the connection it returns. Its failures are
// connErrors.
func connectOnce(req api.Operation, deadline time.Time, files ...*os.File) (*api.Conn, error) {
	var c *api.Conn
	var err error
	if deadline.IsZero() {
		c, err = api.Dial(Socket())
	} else {
		c, err = api.DialTimeout(Socket(), time.Until(deadline))
	}
	if err != nil {
		return nil, connError{err, true}
	}
	c.SetDeadline(deadline)
	if err := c.Send(req, files...); err != nil {
		c.Close()
		return nil, connError{err, false}
	}
	return c, nil
}

// unread reports whether a call's connection failed with the request
// unread by any daemon, so that sending it again on a new connection
// cannot act twice: the daemon was killed with the connection still in
// its listen queue, or with the request still in the socket, while the
// supervisor starts its successor. Writing to a unix socket whose other
// end is closed fails with EPIPE; and when that end closes unaccepted, or
// with data it has not read, the kernel resets the connection
// (ECONNRESET). The request goes in one sendmsg and the daemon acts only
// on a whole line, so a daemon that read it and then died leaves a plain
// end of file, which is not retried.
func unread(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// restarting reports whether the supervisor is between a daemon's death
// and its successor's serving, given why a dial failed: no pid file, one
// that names a dead process or a zombie not yet reaped, or a socket that
// nobody listens on (the dead daemon's, or its successor's while it
// restores its state). Only the nslab engine has a supervisor that
// restarts its daemon; a lab host that ended has no root to look at.
func restarting(dialErr error) bool {
	if _, err := os.Stat(reachRoot + ExitsDir); err != nil {
		// Not an nslab engine daemon's lab host (Docker's, or a
		// sandbox's underlay host), or gone.
		return false
	}
	if errors.Is(dialErr, syscall.ECONNREFUSED) || errors.Is(dialErr, os.ErrNotExist) {
		return true
	}
	pid := DaemonPid()
	if pid <= 0 {
		return true
	}
	// The lab host's /proc: the pid is one of its pid namespace.
	st := procState(pid)
	return st == "gone" || st == "a zombie"
}

// noAnswer says that the daemon did not answer in time, who it is, what
// state the kernel shows it in, and where its log is.
func noAnswer(bound time.Duration) error {
	pid := DaemonPid()
	who := "the nslab engine daemon"
	if pid > 0 {
		who += fmt.Sprintf(" (pid %d", pid)
		if st := procState(pid); st != "" {
			who += ", " + st
		}
		who += ")"
	}
	return fmt.Errorf("%s did not answer within %s; its log is %s. Set %s to wait longer (0 waits for ever)",
		who, bound, reachRoot+DaemonLog, EnvDaemonTimeout)
}

// procState is the kernel's word for pid's state when it is not simply
// running or sleeping: stopped, a zombie, in uninterruptible sleep.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("%s/proc/%d/stat", reachRoot, pid))
	if err != nil {
		return "gone"
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return ""
	}
	switch b[i+2] {
	case 'T', 't':
		return "stopped (SIGSTOP or a debugger): send it SIGCONT"
	case 'Z':
		return "a zombie"
	case 'D':
		return "in uninterruptible sleep"
	}
	return ""
}
