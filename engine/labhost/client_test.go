package labhost

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/nslab/nslab/engine/api"
)

// TestUnread checks the one send failure callBounded retries, with the
// error the kernel and Go's net package really give: a request written to
// a connection whose daemon end is already closed (a daemon killed with
// the connection still in its listen queue) fails with EPIPE, and no daemon
// has seen it. A deadline, or a daemon that closed the connection after
// reading the request, must not be retried.
func TestUnread(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := api.Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	err = c.Send(api.PsRequest{})
	if err == nil || !unread(err) {
		t.Errorf("send to a closed daemon end: %v; want an error undelivered reports (EPIPE)", err)
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
	path := filepath.Join(t.TempDir(), "d.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, read := range []bool{false, true} {
		c, err := api.Dial(path)
		if err != nil {
			t.Fatal(err)
		}
		s, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Send(api.PsRequest{}); err != nil {
			t.Fatal(err)
		}
		if read {
			if _, err := bufio.NewReader(s).ReadBytes('\n'); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		err = c.Recv(nil)
		c.Close()
		if read && (err == nil || unread(err)) {
			// It read everything there was: a plain end of file.
			t.Errorf("daemon read the request and closed: %v; want an error unread rejects", err)
		}
		if !read && (err == nil || !unread(err)) {
			t.Errorf("daemon closed with the request unread: %v; want an error unread accepts (ECONNRESET)", err)
		}
	}
}
