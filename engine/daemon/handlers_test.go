package daemon

import (
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nslab/nslab/engine/api"
)

// The handler table and api's operations are the same set: no operation
// the CLI can send is unknown here, and no handler is unreachable.
func TestHandlerTable(t *testing.T) {
	for _, op := range api.Ops {
		if handlers[op] == nil {
			t.Errorf("operation %q has no handler", op)
		}
	}
	if len(handlers) != len(api.Ops) {
		t.Errorf("%d handlers for %d operations", len(handlers), len(api.Ops))
	}
}

type badPs struct{ All string }

func (badPs) Op() string { return api.OpPs }

type unknownOp struct{}

func (unknownOp) Op() string { return "frobnicate" }

// A request the daemon cannot decode, or an operation it does not know,
// gets an error reply naming it, and no state changes.
func TestServeRejects(t *testing.T) {
	d := &Daemon{networks: map[string]*Network{}, containers: map[string]*Container{}}
	for _, c := range []struct {
		req  api.Operation
		want string
	}{
		{badPs{All: "yes"}, "bad ps request"},
		{unknownOp{}, `unknown operation "frobnicate"`},
	} {
		// A real socket: api.Call dials it, serve answers one connection.
		sock := filepath.Join(t.TempDir(), "d.sock")
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			if c, err := ln.AcceptUnix(); err == nil {
				d.serve(c)
			}
		}()
		err = api.Call(sock, c.req, nil)
		ln.Close()
		if !api.IsDaemonError(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%T: %v, want a daemon error containing %q", c.req, err, c.want)
		}
	}
	if len(d.containers) != 0 || len(d.networks) != 0 {
		t.Fatal("a rejected request changed the state")
	}
}
