package api

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pair is a connected client and server over a real unix socketpair.
func pair(t *testing.T) (*Conn, *net.UnixConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "socketpair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*net.UnixConn)
	}
	client := conn(fds[0])
	return &Conn{c: client, rd: bufio.NewReader(client)}, conn(fds[1])
}

func TestRoundTrip(t *testing.T) {
	client, server := pair(t)
	if err := client.Send(PsRequest{All: true}); err != nil {
		t.Fatal(err)
	}
	s, err := Accept(server)
	if err != nil {
		t.Fatal(err)
	}
	if s.Req.Op != OpPs {
		t.Fatalf("op %q, want %q", s.Req.Op, OpPs)
	}
	var req PsRequest
	if err := s.Decode(&req); err != nil || !req.All {
		t.Fatalf("decoded %+v, %v; want All", req, err)
	}
	want := []PsEntry{{ID: "abc", Names: "web", Running: true, Created: time.Unix(1700000000, 0).UTC()}}
	if err := s.Reply(want, nil); err != nil {
		t.Fatal(err)
	}
	var got []PsEntry
	if err := client.Recv(&got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

// A file passed with a request (SCM_RIGHTS) arrives as the same open file:
// what the daemon writes to it, the caller reads.
func TestPassedFile(t *testing.T) {
	client, server := pair(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := client.Send(RunOptions{Image: "busybox", Cmd: []string{"echo", "hi"}}, w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	s, err := Accept(server)
	if err != nil {
		t.Fatal(err)
	}
	var o RunOptions
	if err := s.Decode(&o); err != nil || s.Req.Op != OpRun || o.Image != "busybox" {
		t.Fatalf("op %q, body %+v, %v", s.Req.Op, o, err)
	}
	if len(s.Files) != 1 {
		t.Fatalf("%d files passed, want 1", len(s.Files))
	}
	if _, err := s.Files[0].WriteString("from the daemon\n"); err != nil {
		t.Fatal(err)
	}
	s.Close() // closes the passed file too: the pipe reaches EOF
	got, err := io.ReadAll(r)
	if err != nil || string(got) != "from the daemon\n" {
		t.Fatalf("read %q, %v from the passed pipe", got, err)
	}
}

// An error on the daemon's side comes back as an *Error with its message,
// which the CLI prints as "Error response from daemon: ...".
func TestDaemonError(t *testing.T) {
	client, server := pair(t)
	if err := client.Send(ExecInfoRequest{Container: "nosuch"}); err != nil {
		t.Fatal(err)
	}
	s, err := Accept(server)
	if err != nil {
		t.Fatal(err)
	}
	s.Reply(nil, errors.New("No such container: nosuch"))
	var info ExecInfo
	err = client.Recv(&info)
	if !IsDaemonError(err) || err.Error() != "No such container: nosuch" {
		t.Fatalf("Recv = %v (daemon error: %v)", err, IsDaemonError(err))
	}
	// A broken connection is not a daemon error.
	server.Close()
	if err := client.Recv(nil); err == nil || IsDaemonError(err) {
		t.Fatalf("Recv on a closed connection = %v", err)
	}
}

func TestDialNoDaemon(t *testing.T) {
	_, err := Dial(filepath.Join(t.TempDir(), "nslab.sock"))
	if err == nil || !strings.Contains(err.Error(), "is this a lab host?") {
		t.Fatalf("Dial without a daemon = %v", err)
	}
}

// Every operation's request type names its own operation, once.
func TestOpsAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, op := range Ops {
		if seen[op] {
			t.Errorf("operation %q listed twice", op)
		}
		seen[op] = true
	}
	for _, req := range []Operation{
		RunOptions{}, PsRequest{}, InspectRequest{}, ExecInfoRequest{}, LogsRequest{}, KillRequest{}, StopRequest{}, RmRequest{},
		PortRequest{}, NetworkLsRequest{}, NetworkInspectRequest{}, NetworkCreate{}, NetworkRmRequest{},
		NetworkConnectRequest{}, NetworkDisconnectRequest{}, TopologyRequest{}, ImagesRequest{},
		StartRequest{}, RestartRequest{}, NodeLsRequest{},
	} {
		if !seen[req.Op()] {
			t.Errorf("%T.Op() = %q, not in Ops", req, req.Op())
		}
		delete(seen, req.Op())
	}
	for op := range seen {
		t.Errorf("operation %q has no request type", op)
	}
}
