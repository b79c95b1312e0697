package labhost

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nslab/nslab/engine/api"
)

// TestUnread checks the send failure callBounded retries, with the error
// the kernel and Go's net package really give: a request written to a
// connection whose daemon end is already closed (here accepted and closed;
// a daemon killed with the connection in its listen queue is the same)
// fails with EPIPE, and no daemon has seen it. A deadline, or a daemon
// that closed the connection after reading the request, must not be
// retried.
func TestUnread(t *testing.T) {
	c, s := connected(t, listener(t))
	s.Close()
	err := c.Send(api.PsRequest{})
	if err == nil || !unread(err) {
		t.Errorf("send to a closed daemon end: %v; want an error unread accepts (EPIPE)", err)
	}
	for _, e := range []error{os.ErrDeadlineExceeded, io.EOF, errors.New("daemon closed the connection: EOF"), &api.Error{}} {
		if unread(e) {
			t.Errorf("unread(%v) = true; the request may have been acted on", e)
		}
	}
}

// TestUnreadReset: a request written to a daemon that then closes its end
// without reading it makes the answer's read fail with ECONNRESET, which
// is retried; the daemon that read the request and closed leaves EOF,
// which is not.
func TestUnreadReset(t *testing.T) {
	l := listener(t)
	for _, read := range []bool{false, true} {
		c, s := connected(t, l)
		if err := c.Send(api.PsRequest{}); err != nil {
			t.Fatal(err)
		}
		if read {
			if _, err := bufio.NewReader(s).ReadBytes('\n'); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		err := c.Recv(nil)
		if read && (err == nil || unread(err)) {
			// It read everything there was: a plain end of file.
			t.Errorf("daemon read the request and closed: %v; want an error unread rejects", err)
		}
		if !read && (err == nil || !unread(err)) {
			t.Errorf("daemon closed with the request unread: %v; want an error unread accepts (ECONNRESET)", err)
		}
	}
}

// TestCallBoundedRetriesUnread runs callBounded against a daemon socket
// whose first connection is closed with the request unread, as a killed
// daemon's is: the call must reach the next connection and return its
// answer. A daemon that reads the request and then closes must not get it
// twice.
func TestCallBoundedRetriesUnread(t *testing.T) {
	root := fakeRoot(t)
	for _, c := range []struct {
		name      string
		readFirst bool // the first connection's daemon reads the request
		wantErr   bool
		wantConns int
	}{
		{"closed unread, then answered", false, false, 2},
		{"read, then closed", true, true, 1},
	} {
		os.Remove(root + SocketPath)
		l, err := net.Listen("unix", root+SocketPath)
		if err != nil {
			t.Fatal(err)
		}
		conns := make(chan int, 1)
		go func() {
			n := 0
			defer func() { conns <- n }()
			for {
				s, err := l.Accept()
				if err != nil {
					return
				}
				n++
				if n == 1 && !c.readFirst {
					s.Close() // unread: the client sees a reset
					continue
				}
				bufio.NewReader(s).ReadBytes('\n')
				if n == 1 {
					s.Close() // read, then gone: a plain end of file
					continue
				}
				s.Write([]byte("{}\n"))
				s.Close()
			}
		}()
		err = callBounded(api.PsRequest{}, nil)
		l.Close()
		n := <-conns
		if (err != nil) != c.wantErr || n != c.wantConns {
			t.Errorf("%s: callBounded = %v after %d connections; want error %v after %d", c.name, err, n, c.wantErr, c.wantConns)
		}
	}
}

// listener is a daemon socket in a temporary directory, closed with the test.
func listener(t *testing.T) net.Listener {
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "d.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// connected dials l as the CLI does and returns both ends; the client's is
// closed with the test.
func connected(t *testing.T, l net.Listener) (*api.Conn, net.Conn) {
	c, err := api.Dial(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

// TestConnectWaitsForRestartingDaemon: a run typed while the supervisor
// restarts the daemon (no socket yet, in an nslab engine's lab host) waits
// for the new daemon and reaches it; where no daemon is being restarted
// (not an nslab engine's lab host), the dial's error comes back at once.
func TestConnectWaitsForRestartingDaemon(t *testing.T) {
	t.Setenv(EnvDaemonTimeout, "10s")
	root := fakeRoot(t)

	if _, err := Connect(api.PsRequest{}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Connect with no daemon and no supervisor = %v, want the dial's ENOENT at once", err)
	}

	if err := os.MkdirAll(root+ExitsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		// The successor starts listening a little after the call began.
		time.Sleep(50 * time.Millisecond)
		l, err := net.Listen("unix", root+SocketPath)
		if err != nil {
			got <- err.Error()
			return
		}
		defer l.Close()
		s, err := l.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		line, _ := bufio.NewReader(s).ReadString('\n')
		s.Write([]byte("{}\n"))
		s.Close()
		got <- line
	}()
	c, err := Connect(api.PsRequest{})
	if err != nil {
		t.Fatalf("Connect while the daemon restarts = %v, want it to wait for the new one", err)
	}
	defer c.Close()
	if line := <-got; !strings.Contains(line, `"Op":"ps"`) {
		t.Errorf("the new daemon read %q, want the ps request", line)
	}
}

// fakeRoot makes a temporary directory the lab host's root, as the client
// reaches it, with the socket's directory in place, until the test ends.
func fakeRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Dir(root+SocketPath), 0o755); err != nil {
		t.Fatal(err)
	}
	old := reachRoot
	reachRoot = root
	t.Cleanup(func() { reachRoot = old })
	return root
}
