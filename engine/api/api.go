// Package api is the wire protocol between the nslab CLI and the engine
// daemon: one request per connection on a unix socket, as a JSON line, with
// open files (a terminal, the caller's stdin) passed along as SCM_RIGHTS, so
// an attached container reads and writes the caller's own terminal. The
// daemon answers with one or more JSON lines.
package api

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// Request is one call.
type Request struct {
	Op   string
	Body json.RawMessage `json:",omitempty"`
}

// Response is one answer. Error is the daemon's message, shown to the user
// as Docker shows "Error response from daemon: ...".
type Response struct {
	Error string          `json:",omitempty"`
	Body  json.RawMessage `json:",omitempty"`
}

// Conn is a client connection.
type Conn struct {
	c  *net.UnixConn
	rd *bufio.Reader
}

// Dial connects to the daemon socket.
func Dial(path string) (*Conn, error) {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("cannot connect to the nslab daemon at %s: %w (is this a lab host? start one with `nslab sandbox -- CMD`)", path, err)
	}
	return &Conn{c: c, rd: bufio.NewReader(c)}, nil
}

// DialTimeout is Dial bounded by d: a daemon that does not accept (its
// backlog full, as when it is stopped) fails instead of hanging.
func DialTimeout(path string, d time.Duration) (*Conn, error) {
	nc, err := (&net.Dialer{Timeout: d}).Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to the nslab daemon at %s: %w (is this a lab host? start one with `nslab sandbox -- CMD`)", path, err)
	}
	return &Conn{c: nc.(*net.UnixConn), rd: bufio.NewReader(nc)}, nil
}

// SetDeadline bounds the rest of the call: a Send or Recv after t fails
// with an error that wraps os.ErrDeadlineExceeded.
func (c *Conn) SetDeadline(t time.Time) error { return c.c.SetDeadline(t) }

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }

// Send sends a request with optional files.
func (c *Conn) Send(req Operation, files ...*os.File) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	line, err := json.Marshal(Request{Op: req.Op(), Body: b})
	if err != nil {
		return err
	}
	line = append(line, '\n')
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = syscall.UnixRights(fds...)
	}
	_, _, err = c.c.WriteMsgUnix(line, oob, nil)
	return err
}

// Recv reads the next response into out. A daemon-side error comes back
// as an *Error.
func (c *Conn) Recv(out any) error {
	line, err := c.rd.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("daemon closed the connection: %w", err)
	}
	var r Response
	if err := json.Unmarshal(line, &r); err != nil {
		return fmt.Errorf("bad response from daemon: %w", err)
	}
	if r.Error != "" {
		return &Error{r.Error}
	}
	if out != nil && len(r.Body) > 0 {
		return json.Unmarshal(r.Body, out)
	}
	return nil
}

// Call sends one request and reads one response into out.
func Call(sock string, req Operation, out any, files ...*os.File) error {
	c, err := Dial(sock)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Send(req, files...); err != nil {
		return err
	}
	return c.Recv(out)
}

// Error is an error reported by the daemon.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// IsDaemonError reports whether err came from the daemon.
func IsDaemonError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// ServerConn is the daemon's side of one connection.
type ServerConn struct {
	c   *net.UnixConn
	Req Request
	// Files are the files passed with the request; the handler owns them.
	Files []*os.File
	enc   *json.Encoder
}

// Accept reads the request on a new connection.
func Accept(c *net.UnixConn) (*ServerConn, error) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, 1<<20)
	oob := make([]byte, syscall.CmsgSpace(8*4))
	var data []byte
	var files []*os.File
	for {
		n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if oobn > 0 {
			msgs, _ := syscall.ParseSocketControlMessage(oob[:oobn])
			for _, m := range msgs {
				fds, _ := syscall.ParseUnixRights(&m)
				for _, fd := range fds {
					syscall.CloseOnExec(fd)
					files = append(files, os.NewFile(uintptr(fd), "passed"))
				}
			}
		}
		data = append(data, buf[:n]...)
		if n > 0 && data[len(data)-1] == '\n' {
			break
		}
		if err != nil || n == 0 {
			for _, f := range files {
				f.Close()
			}
			return nil, fmt.Errorf("read request: %v", err)
		}
	}
	s := &ServerConn{c: c, Files: files, enc: json.NewEncoder(c)}
	if err := json.Unmarshal(data, &s.Req); err != nil {
		for _, f := range files {
			f.Close()
		}
		return nil, fmt.Errorf("bad request: %w", err)
	}
	return s, nil
}

// Closed returns a channel that is closed when the client closes its end
// of the connection (or its process dies). The client sends nothing after
// its request, so any read result means it has gone.
func (s *ServerConn) Closed() <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		buf := make([]byte, 1)
		s.c.Read(buf)
		close(ch)
	}()
	return ch
}

// Decode decodes the request body.
func (s *ServerConn) Decode(v any) error {
	if len(s.Req.Body) == 0 {
		return nil
	}
	return json.Unmarshal(s.Req.Body, v)
}

// Reply sends a result or an error.
func (s *ServerConn) Reply(body any, err error) error {
	if err != nil {
		return s.enc.Encode(Response{Error: err.Error()})
	}
	b, merr := json.Marshal(body)
	if merr != nil {
		return s.enc.Encode(Response{Error: merr.Error()})
	}
	return s.enc.Encode(Response{Body: b})
}

// Close closes the connection and any unclaimed files.
func (s *ServerConn) Close() {
	for _, f := range s.Files {
		f.Close()
	}
	s.c.Close()
}
