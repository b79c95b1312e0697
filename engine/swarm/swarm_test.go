package swarm

import (
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nslab/nslab/engine/ipam"
)

var node2 = netip.MustParseAddr("192.0.2.2")

// nid and eid make well-formed network and endpoint IDs from short names.
func nid(s string) string { return strings.Repeat("0", 25-len(s)) + s }
func eid(s string) string {
	h := hex.EncodeToString([]byte(s))
	return strings.Repeat("0", 64-len(h)) + h
}

func testManager(t *testing.T) (*Manager, *Client) {
	t.Helper()
	m, err := NewManager(filepath.Join(t.TempDir(), "swarm.json"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	c := NewClient(strings.TrimPrefix(srv.URL, "http://"), "node2", func() netip.Addr { return node2 })
	return m, c
}

// TestCreate: Docker's pool for swarm networks, /24s from 10.0.0.0, and
// VNIs from 4097; each refusal names the problem and adds nothing.
func TestCreate(t *testing.T) {
	old := Reserved
	Reserved = []ipam.Reserved{{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Why: "the underlay"}}
	defer func() { Reserved = old }()
	m, c := testManager(t)
	a, err := c.Create(CreateRequest{ID: nid("a1"), Name: "ov", Attachable: true})
	if err != nil {
		t.Fatal(err)
	}
	if a.Subnet.String() != "10.0.1.0/24" || a.Gateway.String() != "10.0.1.1" || a.VNI != 4097 || !a.Attachable {
		t.Errorf("first network = %+v, want 10.0.1.0/24 (ingress has 10.0.0.0/24), gateway 10.0.1.1, VNI 4097, attachable", a)
	}
	b, err := c.Create(CreateRequest{ID: nid("b1"), Name: "ov2"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Subnet.String() != "10.0.2.0/24" || b.VNI != 4098 {
		t.Errorf("second network = %+v, want 10.0.2.0/24 and VNI 4098", b)
	}
	for _, tc := range []struct {
		req  CreateRequest
		want string
	}{
		{CreateRequest{ID: nid("x"), Name: "ov"}, "network with name ov already exists"},
		{CreateRequest{ID: nid("x"), Name: "x", Subnet: "10.0.0.0/16"}, "Pool overlaps with other one on this address space"},
		{CreateRequest{ID: nid("x"), Name: "x", Subnet: "10.0.0.0/24"}, "Pool overlaps with other one on this address space"},
		{CreateRequest{ID: nid("x"), Name: "x", Subnet: "192.0.2.0/25"}, "it overlaps 192.0.2.0/24, the underlay"},
		{CreateRequest{ID: nid("x"), Name: "x", VNI: 4097}, "VXLAN ID 4097 is already in use by overlay network ov"},
		{CreateRequest{ID: nid("x"), Name: "x", VNI: 1 << 24}, "invalid VXLAN ID 16777216: a VNI is 24 bits"},
		{CreateRequest{ID: nid("x"), Name: "x", Gateway: "10.9.0.1"}, "every ip-range or gateway must have a corresponding subnet"},
		{CreateRequest{ID: nid("x"), Name: "x", Subnet: "10.9.0.0/24", Gateway: "10.8.0.1"}, "no matching subnet for gateway 10.8.0.1"},
	} {
		_, err := c.Create(tc.req)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Create(%+v) = %v, want an error with %q", tc.req, err, tc.want)
		}
	}
	if st := m.State("", netip.Addr{}, 0, 0); len(st.Networks) != 2 {
		t.Errorf("after the refusals there are %d networks, want 2", len(st.Networks))
	}
	if _, err := c.Create(CreateRequest{ID: nid("c1"), Name: "mine", VNI: 5000, Subnet: "10.20.0.0/24"}); err != nil {
		t.Errorf("Create with a free VNI and subnet: %v", err)
	}
}

// TestVNIsRunOut: when every VNI is taken, network create says so and adds
// nothing; a network removed gives its VNI back.
func TestVNIsRunOut(t *testing.T) {
	old := lastVNI
	lastVNI = FirstVNI + 1
	defer func() { lastVNI = old }()
	m, c := testManager(t)
	for _, name := range []string{"a1", "b1"} {
		if _, err := c.Create(CreateRequest{ID: nid(name), Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.Create(CreateRequest{ID: nid("c1"), Name: "c1"})
	if want := "no VXLAN ID is free: all 2 from 4097 to 4098 are in use"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("a third network with two VNIs = %v, want an error with %q", err, want)
	}
	if st := m.State("", netip.Addr{}, 0, 0); len(st.Networks) != 2 {
		t.Errorf("after the refusal there are %d networks, want 2", len(st.Networks))
	}
	if err := c.Remove(nid("a1")); err != nil {
		t.Fatal(err)
	}
	n, err := c.Create(CreateRequest{ID: nid("c1"), Name: "c1"})
	if err != nil || n.VNI != FirstVNI {
		t.Errorf("after a1's removal, Create = %+v, %v; want VNI %d back", n, err, FirstVNI)
	}
}

// TestJoinLeave: addresses from the network's pool, Docker's MACs, --ip,
// and a claim by ID that keeps the address; Remove waits for the last
// endpoint.
func TestJoinLeave(t *testing.T) {
	m, c := testManager(t)
	n, err := c.Create(CreateRequest{ID: nid("n1"), Name: "ov", Subnet: "10.10.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	e1, err := c.Join(JoinRequest{ID: eid("e1"), NetworkID: n.ID, Container: "a", Names: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	if e1.Addr.String() != "10.10.0.2" || e1.MAC != "02:42:0a:0a:00:02" || e1.Node != "node2" || e1.NodeAddr != node2 {
		t.Errorf("first endpoint = %+v, want 10.10.0.2, 02:42:0a:0a:00:02 on node2 at %s", e1, node2)
	}
	again, err := c.Join(JoinRequest{ID: eid("e1"), NetworkID: n.ID, Container: "a"})
	if err != nil || again.Addr != e1.Addr {
		t.Errorf("Join with the same ID = %+v, %v; want the same endpoint", again, err)
	}
	for _, tc := range []struct {
		ip, want string
	}{
		{"10.10.0.2", "Address already in use"},
		{"10.11.0.5", "Invalid address 10.11.0.5: It does not belong to any of this network's subnets"},
		{"nope", "invalid IPv4 address: nope"},
	} {
		if _, err := c.Join(JoinRequest{ID: eid("x"), NetworkID: n.ID, IP: tc.ip}); err == nil || err.Error() != tc.want {
			t.Errorf("Join(--ip %s) = %v, want %q", tc.ip, err, tc.want)
		}
	}
	e2, err := c.Join(JoinRequest{ID: eid("e2"), NetworkID: n.ID, Container: "b", IP: "10.10.0.9"})
	if err != nil || e2.Addr.String() != "10.10.0.9" {
		t.Fatalf("Join(--ip 10.10.0.9) = %+v, %v", e2, err)
	}
	if err := c.Remove(n.ID); err == nil || !strings.Contains(err.Error(), "has active endpoints (a on node2, b on node2)") {
		t.Errorf("Remove with endpoints = %v, want a refusal naming them", err)
	}
	c.Leave(eid("e1"))
	c.Leave(eid("e2"))
	e3, err := c.Join(JoinRequest{ID: eid("e3"), NetworkID: n.ID})
	if err != nil || e3.Addr.String() != "10.10.0.3" {
		t.Errorf("after Leave, Join = %+v, %v; want 10.10.0.3: swarm's allocator is serial, it does not give the freed .2 again at once", e3, err)
	}
	c.Leave(eid("e3"))
	if err := c.Remove(n.ID); err != nil {
		t.Errorf("Remove of an unused network: %v", err)
	}
	if st := m.State("", netip.Addr{}, 0, 0); len(st.Networks) != 0 || len(st.Endpoints) != 0 {
		t.Errorf("table after removal = %+v, want empty", st)
	}
}

// TestReapAndClaim: a node silent for DownAfter loses its endpoints, and
// gets them back, addresses and all, when it claims them.
func TestReapAndClaim(t *testing.T) {
	oldDown := DownAfter
	DownAfter = 120 * time.Millisecond
	defer func() { DownAfter = oldDown }()
	m, c := testManager(t)
	n, _ := c.Create(CreateRequest{ID: nid("n1"), Name: "ov"})
	e, err := c.Join(JoinRequest{ID: eid("e1"), NetworkID: n.ID, Container: "a"})
	if err != nil {
		t.Fatal(err)
	}
	// Reap reads DownAfter: it must have returned before the deferred
	// restore above writes it (defers run last in, first out).
	stop, reaped := make(chan struct{}), make(chan struct{})
	defer func() { close(stop); <-reaped }()
	go func() { defer close(reaped); m.Reap(stop) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(m.State("", netip.Addr{}, 0, 0).Endpoints) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the silent node's endpoint is still in the table after 5 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	st, err := c.Now()
	if err != nil {
		t.Fatal(err)
	}
	for _, nd := range st.Nodes {
		if nd.Name == "node2" && !nd.Up {
			t.Errorf("node2 polled (Now) and is still listed down")
		}
	}
	// While its node is away, its address stays taken.
	if _, err := c.Join(JoinRequest{ID: eid("other"), NetworkID: n.ID, IP: e.Addr.String()}); err == nil || err.Error() != "Address already in use" {
		t.Errorf("Join for the absent node's address = %v, want Address already in use", err)
	}
	back, err := c.Join(JoinRequest{ID: eid("e1"), NetworkID: n.ID, Container: "a", IP: e.Addr.String(), MAC: e.MAC})
	if err != nil || back.Addr != e.Addr || back.MAC != e.MAC {
		t.Errorf("claim = %+v, %v; want %s %s back", back, err, e.Addr, e.MAC)
	}
}

// TestPollWaitsForChange: a poll at the current version returns when the
// table changes, not before.
func TestPollWaitsForChange(t *testing.T) {
	_, c := testManager(t)
	st, err := c.Now()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan State, 1)
	go func() {
		s, err := c.Poll(st.Version)
		if err != nil {
			t.Error(err)
		}
		got <- s
	}()
	if _, err := c.Create(CreateRequest{ID: nid("n1"), Name: "ov"}); err != nil {
		t.Fatal(err)
	}
	s := <-got
	if len(s.Networks) != 1 || s.Version <= st.Version {
		t.Errorf("poll returned version %d with %d networks; want a newer table with ov", s.Version, len(s.Networks))
	}
}

// TestReload: a restarted manager keeps its networks and the addresses
// in use.
func TestReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "swarm.json")
	m, err := NewManager(path)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := m.Create(CreateRequest{ID: nid("n1"), Name: "ov"})
	if _, err := m.Join(JoinRequest{ID: eid("e1"), NetworkID: n.ID, Node: "node2", NodeAddr: node2}); err != nil {
		t.Fatal(err)
	}
	m2, err := NewManager(path)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := m2.Join(JoinRequest{ID: eid("e2"), NetworkID: n.ID, Node: "node2", NodeAddr: node2})
	if err != nil || e2.Addr.String() != "10.0.1.3" {
		t.Errorf("after reload, a new endpoint got %v, %v; want 10.0.1.3 (.2 is still taken)", e2.Addr, err)
	}
	if _, err := NewManager(filepath.Join(t.TempDir(), "missing.json")); err != nil {
		t.Errorf("NewManager without a saved table: %v", err)
	}
}

// TestAllocateWraps: the serial allocator wraps at the end of the subnet
// and takes the addresses freed meanwhile; a full subnet says so.
func TestAllocateWraps(t *testing.T) {
	_, c := testManager(t)
	n, err := c.Create(CreateRequest{ID: nid("n1"), Name: "small", Subnet: "10.30.0.0/29"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := 0; i < 5; i++ {
		e, err := c.Join(JoinRequest{ID: eid(fmt.Sprint("e", i)), NetworkID: n.ID})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Addr.String())
	}
	if want := "10.30.0.2 10.30.0.3 10.30.0.4 10.30.0.5 10.30.0.6"; strings.Join(got, " ") != want {
		t.Errorf("addresses = %v, want %s", got, want)
	}
	if _, err := c.Join(JoinRequest{ID: eid("full"), NetworkID: n.ID}); err == nil || !strings.Contains(err.Error(), "no available IPv4 addresses") {
		t.Errorf("Join on a full /29 = %v, want no available addresses", err)
	}
	c.Leave(eid("e1"))
	e, err := c.Join(JoinRequest{ID: eid("again"), NetworkID: n.ID})
	if err != nil || e.Addr.String() != "10.30.0.3" {
		t.Errorf("after freeing .3 in a full subnet, Join = %v, %v; want the wrap to find 10.30.0.3", e.Addr, err)
	}
}

// TestBadIDs: the manager takes only well-formed IDs, and a network ID once.
func TestBadIDs(t *testing.T) {
	_, c := testManager(t)
	if _, err := c.Create(CreateRequest{ID: "short", Name: "a"}); err == nil || !strings.Contains(err.Error(), "want 25 characters") {
		t.Errorf("Create with a short ID = %v", err)
	}
	n, err := c.Create(CreateRequest{ID: nid("n1"), Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(CreateRequest{ID: nid("n1"), Name: "b"}); err == nil || !strings.Contains(err.Error(), "is in use") {
		t.Errorf("Create with a taken ID = %v", err)
	}
	if _, err := c.Join(JoinRequest{ID: "e1", NetworkID: n.ID}); err == nil || !strings.Contains(err.Error(), "want 64 hex digits") {
		t.Errorf("Join with a short ID = %v", err)
	}
}
