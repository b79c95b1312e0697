package swarm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"time"
)

// Handler serves the manager's table over HTTP:
//
//	GET    /state?node=N&addr=A&after=V  the table, once newer than V (long poll;
//	                                     wait=0: at once)
//	POST   /networks                     CreateRequest → Network
//	DELETE /networks/{id}
//	POST   /endpoints                    JoinRequest → Endpoint
//	DELETE /endpoints/{id}
//
// Refusals are 400s whose body is {"message": ...}, the words the CLI
// prints.
func (m *Manager) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		addr, _ := netip.ParseAddr(q.Get("addr"))
		after, _ := strconv.ParseUint(q.Get("after"), 10, 64)
		wait := PollWait
		if q.Get("wait") == "0" {
			wait = 0
		}
		reply(w, m.State(q.Get("node"), addr, after, wait), nil)
	})
	mux.HandleFunc("POST /networks", func(w http.ResponseWriter, r *http.Request) {
		var req CreateRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			reply(w, nil, fmt.Errorf("bad request: %w", err))
			return
		}
		n, err := m.Create(req)
		reply(w, n, err)
	})
	mux.HandleFunc("DELETE /networks/{id}", func(w http.ResponseWriter, r *http.Request) {
		reply(w, struct{}{}, m.Remove(r.PathValue("id")))
	})
	mux.HandleFunc("POST /endpoints", func(w http.ResponseWriter, r *http.Request) {
		var req JoinRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			reply(w, nil, fmt.Errorf("bad request: %w", err))
			return
		}
		ep, err := m.Join(req)
		reply(w, ep, err)
	})
	mux.HandleFunc("DELETE /endpoints/{id}", func(w http.ResponseWriter, r *http.Request) {
		m.Leave(r.PathValue("id"))
		reply(w, struct{}{}, nil)
	})
	return mux
}

type errorBody struct{ Message string }

func reply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(errorBody{Message: err.Error()})
		return
	}
	json.NewEncoder(w).Encode(v)
}

// Serve runs the manager on ln until it fails, and reaps silent nodes.
func (m *Manager) Serve(ln net.Listener) error {
	stop := make(chan struct{})
	defer close(stop)
	go m.Reap(stop)
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 5 * time.Second}
	return srv.Serve(ln)
}

// Client is a node's line to the manager.
type Client struct {
	Manager string // host:port
	Node    string
	// Addr returns the node's own underlay address, read when needed:
	// the underlay NIC may come after the daemon.
	Addr func() netip.Addr
	hc   *http.Client
}

// CallTimeout bounds one call to the manager other than a poll.
var CallTimeout = 5 * time.Second

// NewClient returns a client of the manager at addr (host:port).
func NewClient(manager, node string, addr func() netip.Addr) *Client {
	return &Client{Manager: manager, Node: node, Addr: addr, hc: &http.Client{}}
}

// ErrManager wraps every failure to reach the manager, as opposed to a
// refusal by it.
var ErrManager = errors.New("the swarm manager does not answer")

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+c.Manager+path, body)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s: %v", ErrManager, c.Manager, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		if json.NewDecoder(resp.Body).Decode(&e) == nil && e.Message != "" {
			return errors.New(e.Message)
		}
		return fmt.Errorf("swarm manager at %s: %s", c.Manager, resp.Status)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (c *Client) call(method, path string, in, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), CallTimeout)
	defer cancel()
	return c.do(ctx, method, path, in, out)
}

// Create asks the manager for an overlay network.
func (c *Client) Create(req CreateRequest) (Network, error) {
	var n Network
	err := c.call("POST", "/networks", req, &n)
	return n, err
}

// Remove asks the manager to delete an overlay network.
func (c *Client) Remove(id string) error {
	return c.call("DELETE", "/networks/"+id, nil, nil)
}

// Join asks the manager for an endpoint.
func (c *Client) Join(req JoinRequest) (Endpoint, error) {
	req.Node, req.NodeAddr = c.Node, c.Addr()
	var ep Endpoint
	err := c.call("POST", "/endpoints", req, &ep)
	return ep, err
}

// Leave tells the manager an endpoint has gone.
func (c *Client) Leave(id string) error {
	return c.call("DELETE", "/endpoints/"+id, nil, nil)
}

// Poll returns the table once it is newer than after, or within about
// PollWait; polling is also how the manager knows the node is alive.
func (c *Client) Poll(after uint64) (State, error) {
	ctx, cancel := context.WithTimeout(context.Background(), PollWait+CallTimeout)
	defer cancel()
	var st State
	err := c.do(ctx, "GET", c.statePath(after, false), nil, &st)
	return st, err
}

// Now returns the table as it is.
func (c *Client) Now() (State, error) {
	var st State
	err := c.call("GET", c.statePath(0, true), nil, &st)
	return st, err
}

// statePath is the table's path, saying who asks (node and underlay
// address, which keep the node alive) and how long it may wait.
func (c *Client) statePath(after uint64, now bool) string {
	q := url.Values{"node": {c.Node}, "after": {strconv.FormatUint(after, 10)}}
	if a := c.Addr(); a.IsValid() {
		q.Set("addr", a.String())
	}
	if now {
		q.Set("wait", "0")
	}
	return "/state?" + q.Encode()
}
