// Package swarm is the control plane of overlay networks: how the nodes of
// a sandbox agree on which overlay networks exist, which addresses their
// containers have, and where those containers are.
//
// Docker splits this in two. Swarmkit's managers keep networks and address
// allocations in a Raft store, and every node gossips its endpoints to the
// others with networkdb over hashicorp/memberlist. A sandbox has at most
// eight nodes and one manager (node1, as after `docker swarm init` there),
// so nslab keeps both on the manager: one HTTP service on the manager's
// swarm port, 2377, over the underlay. Each node's daemon long-polls it for
// the whole table and programs what it learns into the kernel (package
// overlay) and into its embedded DNS server. The manager's table is the one
// truth, so there is nothing to reconcile between peers; what gossip would
// add, surviving the manager's loss, a single-manager swarm has not got
// either.
//
// A node that stops polling is declared down after DownAfter, as memberlist
// declares a silent node failed, and its endpoints leave the table: the
// other nodes remove their entries and their names. Their addresses stay
// taken, so that a node that comes back can claim its endpoints again,
// addresses and all.
package swarm

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/nslab/nslab/engine/ipam"
)

// Port is the manager's port, Docker's swarm management port.
const Port = 2377

// The IDs the manager takes: a swarm network's (NewID) and an endpoint's
// (64 hex digits, as Docker's).
var (
	swarmID    = regexp.MustCompile(`^[0-9a-z]{25}$`)
	endpointID = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// NewID returns an ID in swarmkit's form, as swarm networks have: 25
// characters of [0-9a-z], not a local network's 64 hex digits.
func NewID() string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 25)
	rand.Read(b)
	for i := range b {
		b[i] = digits[int(b[i])%len(digits)]
	}
	return string(b)
}

// Network is an overlay network as every node sees it.
type Network struct {
	ID         string
	Name       string
	Subnet     netip.Prefix
	Gateway    netip.Addr
	UserSubnet bool `json:",omitempty"`
	VNI        int
	Attachable bool `json:",omitempty"`
	Internal   bool `json:",omitempty"`
	Created    time.Time
}

// Endpoint is one container's attachment to an overlay network, on
// whichever node it runs.
type Endpoint struct {
	ID        string
	NetworkID string
	Node      string
	NodeAddr  netip.Addr // the node's underlay address: where its VXLAN packets go
	Container string     // the container's name
	Names     []string   // what the embedded DNS servers answer for it
	Addr      netip.Addr
	MAC       string
}

// Node is a node the manager has heard from.
type Node struct {
	ID   string // the manager's, NewID's form, as a swarm node ID
	Name string
	Addr netip.Addr
	Up   bool
}

// State is the whole table, as the manager serves it.
type State struct {
	Version   uint64
	Networks  []Network
	Endpoints []Endpoint
	Nodes     []Node
}

// CreateRequest asks for an overlay network.
type CreateRequest struct {
	ID         string // chosen by the asking daemon, as Docker IDs are
	Name       string
	Subnet     string
	Gateway    string
	VNI        int // 0: the manager picks one
	Attachable bool
	Internal   bool
}

// JoinRequest asks for an endpoint: an address on the network (IP, if the
// container asked for one, or if it is claiming back its own) and a place
// in the table.
type JoinRequest struct {
	ID        string
	NetworkID string
	Node      string
	NodeAddr  netip.Addr
	Container string
	Names     []string
	IP        string
	MAC       string // empty: Docker's 02:42 and the address
}

const (
	// FirstVNI is the first VNI the manager hands out. Docker's start
	// at 4096, which a swarm's ingress network takes; nslab has no
	// ingress, and keeps 4096 free so the numbers match Docker's
	// (IngressSubnet).
	FirstVNI = 4097
	// MaxVNI is VXLAN's largest: the VNI is 24 bits.
	MaxVNI = 1<<24 - 1
)

// lastVNI is the last VNI the manager picks by itself: MaxVNI, a variable
// only so that a test can run out of them without 16 million networks.
var lastVNI = MaxVNI

// DefaultPool is Docker's default address pool for swarm networks:
// 10.0.0.0/8 cut into /24s, the first free one for each new network.
var DefaultPool = netip.MustParsePrefix("10.0.0.0/8")

// IngressSubnet is what a swarm's ingress network holds from the start:
// the pool's first /24. nslab has no ingress network (no routing mesh),
// and keeps its subnet, as its VNI, free so that numbers match Docker's.
var IngressSubnet = netip.MustParsePrefix("10.0.0.0/24")

// Reserved are ranges no overlay subnet may overlap, besides ipam's
// special-purpose ones; the daemon sets it to the underlay's and the lab
// hosts' own.
var Reserved []ipam.Reserved

// DownAfter is how long a node may stay silent before the manager takes
// it for dead. A node's daemon polls again as soon as a poll returns,
// which the manager makes happen at least every PollWait, without
// waiting for anything else the daemon does.
var (
	DownAfter = 3 * time.Second
	PollWait  = time.Second
)

// Manager is the manager's table and its address pools.
type Manager struct {
	path string // where the table is saved

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every change
	version  uint64
	networks map[string]*Network // by ID
	eps      map[string]*Endpoint
	// held are the endpoints of nodes taken for dead: out of the table,
	// their addresses still taken until the node claims them back or
	// gives them up.
	held  map[string]*Endpoint
	pools map[string]*ipam.Pool // by network ID
	last  map[string]netip.Addr // by network ID: the last address handed out
	nodes map[string]*nodeSeen
}

type nodeSeen struct {
	id   string
	addr netip.Addr
	seen time.Time
	up   bool
}

type savedTable struct {
	Version   uint64
	Networks  []Network
	Endpoints []Endpoint
	Held      []Endpoint            `json:",omitempty"`
	Last      map[string]netip.Addr `json:",omitempty"`
}

// NewManager loads the table saved at path, if there is one.
func NewManager(path string) (*Manager, error) {
	m := &Manager{
		path: path, changed: make(chan struct{}),
		networks: map[string]*Network{}, eps: map[string]*Endpoint{}, held: map[string]*Endpoint{},
		pools: map[string]*ipam.Pool{}, last: map[string]netip.Addr{}, nodes: map[string]*nodeSeen{},
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("swarm manager: %w", err)
	}
	var t savedTable
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("swarm manager: %s: %w", path, err)
	}
	m.version = t.Version
	for id, a := range t.Last {
		m.last[id] = a
	}
	for i := range t.Networks {
		n := t.Networks[i]
		if err := m.addNetwork(&n); err != nil {
			return nil, err
		}
	}
	now := time.Now()
	for i, ep := range append(append([]Endpoint{}, t.Endpoints...), t.Held...) {
		p := m.pools[ep.NetworkID]
		if p == nil {
			continue
		}
		if err := p.Reserve(ep.Addr); err != nil {
			log.Printf("swarm manager: %s: endpoint %s: %v; dropping it", path, ep.ID, err)
			continue
		}
		ep := ep
		if i >= len(t.Endpoints) {
			m.held[ep.ID] = &ep
			continue
		}
		m.eps[ep.ID] = &ep
		// Its node gets the full grace period to poll again.
		if m.nodes[ep.Node] == nil {
			m.nodes[ep.Node] = &nodeSeen{id: NewID(), addr: ep.NodeAddr, seen: now, up: true}
		}
	}
	return m, nil
}

func (m *Manager) addNetwork(n *Network) error {
	p, err := ipam.NewPool(n.Subnet)
	if err != nil {
		return err
	}
	if err := p.Reserve(n.Gateway); err != nil {
		return err
	}
	m.networks[n.ID] = n
	m.pools[n.ID] = p
	return nil
}

// bump publishes a change to the pollers and saves the table. Call with
// m.mu held.
func (m *Manager) bump() {
	m.version++
	close(m.changed)
	m.changed = make(chan struct{})
	t := savedTable{Version: m.version, Last: m.last}
	for _, n := range m.networks {
		t.Networks = append(t.Networks, *n)
	}
	for _, ep := range m.eps {
		t.Endpoints = append(t.Endpoints, *ep)
	}
	for _, ep := range m.held {
		t.Held = append(t.Held, *ep)
	}
	if m.path == "" {
		return
	}
	b, _ := json.Marshal(t)
	tmp := m.path + ".tmp"
	err := os.WriteFile(tmp, b, 0o644)
	if err == nil {
		err = os.Rename(tmp, m.path)
	}
	if err != nil {
		log.Printf("swarm manager: save %s: %v", m.path, err)
	}
}

// Create adds an overlay network, with Docker's refusals.
func (m *Manager) Create(req CreateRequest) (Network, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !swarmID.MatchString(req.ID) {
		return Network{}, fmt.Errorf("bad request: network ID %q: want 25 characters of [0-9a-z]", req.ID)
	}
	if _, ok := m.networks[req.ID]; ok {
		return Network{}, fmt.Errorf("bad request: network ID %s is in use", req.ID)
	}
	for _, n := range m.networks {
		if n.Name == req.Name {
			return Network{}, fmt.Errorf("network with name %s already exists", req.Name)
		}
	}
	used := []ipam.Used{{Subnet: IngressSubnet, Network: "ingress"}}
	for _, n := range m.networks {
		used = append(used, ipam.Used{Subnet: n.Subnet, Network: n.Name})
	}
	n := &Network{ID: req.ID, Name: req.Name, Attachable: req.Attachable, Internal: req.Internal, Created: time.Now()}
	if req.Subnet != "" {
		p, err := ipam.RequestSubnet(req.Subnet, used, ipam.SpecialPurpose, Reserved)
		if err != nil {
			return Network{}, err
		}
		n.Subnet, n.UserSubnet = p, true
	} else {
		if req.Gateway != "" {
			return Network{}, errors.New("every ip-range or gateway must have a corresponding subnet")
		}
		p, err := pickSubnet(used)
		if err != nil {
			return Network{}, err
		}
		n.Subnet = p
	}
	vni, err := m.pickVNI(req.VNI)
	if err != nil {
		return Network{}, err
	}
	n.VNI = vni
	pool, err := ipam.NewPool(n.Subnet)
	if err != nil {
		return Network{}, err
	}
	if req.Gateway != "" {
		gw, err := netip.ParseAddr(req.Gateway)
		if err != nil || !gw.Is4() || !n.Subnet.Contains(gw) {
			return Network{}, fmt.Errorf("no matching subnet for gateway %s", req.Gateway)
		}
		n.Gateway = gw
	} else if n.Gateway, err = pool.Allocate(); err != nil {
		return Network{}, err
	}
	if err := m.addNetwork(n); err != nil {
		return Network{}, err
	}
	m.bump()
	return *n, nil
}

// pickSubnet is the first /24 of the default pool that no overlay
// network uses.
func pickSubnet(used []ipam.Used) (netip.Prefix, error) {
	a := DefaultPool.Addr().As4()
	for i := 0; i < 1<<16; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{a[0], byte(i >> 8), byte(i), 0}), 24)
		free := true
		for _, u := range used {
			if u.Subnet.Overlaps(p) {
				free = false
				break
			}
		}
		if free && ipam.CheckSubnet(p, Reserved) == nil {
			return p, nil
		}
	}
	return netip.Prefix{}, errors.New("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
}

// pickVNI checks a VNI asked for (-o com.docker.network.driver.overlay.vxlanid_list)
// or picks the lowest free one from FirstVNI.
func (m *Manager) pickVNI(want int) (int, error) {
	taken := map[int]string{}
	for _, n := range m.networks {
		taken[n.VNI] = n.Name
	}
	if want != 0 {
		if want < 1 || want > MaxVNI {
			return 0, fmt.Errorf("invalid VXLAN ID %d: a VNI is 24 bits, from 1 to %d", want, MaxVNI)
		}
		if name, ok := taken[want]; ok {
			return 0, fmt.Errorf("VXLAN ID %d is already in use by overlay network %s", want, name)
		}
		return want, nil
	}
	for v := FirstVNI; v <= lastVNI; v++ {
		if _, ok := taken[v]; !ok {
			return v, nil
		}
	}
	return 0, fmt.Errorf("no VXLAN ID is free: all %d from %d to %d are in use", lastVNI-FirstVNI+1, FirstVNI, lastVNI)
}

// Remove deletes an overlay network no container uses, on any node.
func (m *Manager) Remove(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.networks[id]
	if !ok {
		return fmt.Errorf("network %s not found", id)
	}
	var on []string
	for _, ep := range m.eps {
		if ep.NetworkID == id {
			on = append(on, ep.Container+" on "+ep.Node)
		}
	}
	if len(on) > 0 {
		sort.Strings(on)
		return fmt.Errorf("error while removing network: network %s id %s has active endpoints (%s)", n.Name, n.ID, joinList(on))
	}
	for hid, ep := range m.held {
		if ep.NetworkID == id {
			delete(m.held, hid)
		}
	}
	delete(m.networks, id)
	delete(m.pools, id)
	delete(m.last, id)
	m.bump()
	return nil
}

func joinList(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}

// Join gives an endpoint its address and puts it in the table. An
// endpoint already in the table (a node claiming back its own after it
// was taken for dead, or asking twice) keeps its address.
func (m *Manager) Join(req JoinRequest) (Endpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !endpointID.MatchString(req.ID) {
		return Endpoint{}, fmt.Errorf("bad request: endpoint ID %q: want 64 hex digits", req.ID)
	}
	m.seen(req.Node, req.NodeAddr)
	if ep, ok := m.eps[req.ID]; ok {
		return *ep, nil
	}
	if ep, ok := m.held[req.ID]; ok {
		// Its node is back: the endpoint returns with its address.
		delete(m.held, req.ID)
		ep.Node, ep.NodeAddr = req.Node, req.NodeAddr
		m.eps[ep.ID] = ep
		m.bump()
		return *ep, nil
	}
	n, ok := m.networks[req.NetworkID]
	if !ok {
		return Endpoint{}, fmt.Errorf("network %s not found", req.NetworkID)
	}
	pool := m.pools[n.ID]
	var ip netip.Addr
	if req.IP != "" {
		a, err := netip.ParseAddr(req.IP)
		if err != nil || !a.Is4() {
			return Endpoint{}, fmt.Errorf("invalid IPv4 address: %s", req.IP)
		}
		if !n.Subnet.Contains(a) {
			return Endpoint{}, fmt.Errorf("Invalid address %s: It does not belong to any of this network's subnets", a)
		}
		if pool.InUse(a) {
			return Endpoint{}, errors.New("Address already in use")
		}
		if err := pool.Reserve(a); err != nil {
			return Endpoint{}, err
		}
		ip = a
	} else {
		a, err := m.allocate(n)
		if err != nil {
			return Endpoint{}, fmt.Errorf("%w on this network's address pools: %s (%s)", err, n.Name, n.ID)
		}
		ip = a
	}
	mac := req.MAC
	if mac == "" {
		b := ip.As4()
		mac = fmt.Sprintf("02:42:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3])
	}
	ep := &Endpoint{
		ID: req.ID, NetworkID: n.ID, Node: req.Node, NodeAddr: req.NodeAddr,
		Container: req.Container, Names: req.Names, Addr: ip, MAC: mac,
	}
	m.eps[ep.ID] = ep
	m.bump()
	return *ep, nil
}

// allocate hands out n's next free address after the last one it handed
// out, wrapping at the end of the subnet: swarmkit's allocator is serial,
// so an address just freed is not given again at once (a local network's
// is: ipam.Pool.Allocate takes the lowest free one). Call with m.mu held.
func (m *Manager) allocate(n *Network) (netip.Addr, error) {
	pool := m.pools[n.ID]
	first := n.Subnet.Masked().Addr().Next()
	start := first
	if last, ok := m.last[n.ID]; ok && n.Subnet.Contains(last.Next()) {
		start = last.Next()
	}
	for a, wrapped := start, false; ; a = a.Next() {
		if !n.Subnet.Contains(a) {
			if wrapped {
				break
			}
			a, wrapped = first, true
		}
		if wrapped && a == start {
			break
		}
		if !pool.InUse(a) && pool.Reserve(a) == nil {
			m.last[n.ID] = a
			return a, nil
		}
	}
	return netip.Addr{}, ipam.ErrPoolFull
}

// Leave takes an endpoint out of the table and frees its address. An
// unknown endpoint is not an error: it may have left with its node.
func (m *Manager) Leave(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ep, ok := m.eps[id]
	if !ok {
		if ep, ok = m.held[id]; !ok {
			return
		}
	}
	if p := m.pools[ep.NetworkID]; p != nil {
		p.Release(ep.Addr)
	}
	delete(m.eps, id)
	delete(m.held, id)
	m.bump()
}

// seen records that node polled. Call with m.mu held.
func (m *Manager) seen(node string, addr netip.Addr) {
	if node == "" {
		return
	}
	s, ok := m.nodes[node]
	if !ok {
		s = &nodeSeen{id: NewID()}
		m.nodes[node] = s
	}
	s.addr, s.seen = addr, time.Now()
	if !s.up {
		s.up = true
		log.Printf("swarm manager: node %s (%s) is up", node, addr)
		m.bump()
	}
}

// Reap takes every node silent for DownAfter for dead, and its endpoints
// out of the table; it runs until stop is closed.
func (m *Manager) Reap(stop <-chan struct{}) {
	t := time.NewTicker(DownAfter / 6)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		m.mu.Lock()
		for name, s := range m.nodes {
			if !s.up || time.Since(s.seen) < DownAfter {
				continue
			}
			s.up = false
			n := 0
			for id, ep := range m.eps {
				if ep.Node == name {
					delete(m.eps, id)
					m.held[id] = ep
					n++
				}
			}
			log.Printf("swarm manager: node %s has not polled for %v: down; %d endpoints removed", name, DownAfter, n)
			m.bump()
		}
		m.mu.Unlock()
	}
}

// State returns the table once its version is past after, or after wait.
func (m *Manager) State(node string, addr netip.Addr, after uint64, wait time.Duration) State {
	m.mu.Lock()
	m.seen(node, addr)
	if m.version <= after && wait > 0 {
		ch := m.changed
		m.mu.Unlock()
		select {
		case <-ch:
		case <-time.After(wait):
		}
		m.mu.Lock()
		m.seen(node, addr)
	}
	defer m.mu.Unlock()
	st := State{Version: m.version}
	for _, n := range m.networks {
		st.Networks = append(st.Networks, *n)
	}
	for _, ep := range m.eps {
		st.Endpoints = append(st.Endpoints, *ep)
	}
	for name, s := range m.nodes {
		st.Nodes = append(st.Nodes, Node{ID: s.id, Name: name, Addr: s.addr, Up: s.up})
	}
	sort.Slice(st.Networks, func(i, j int) bool { return st.Networks[i].Name < st.Networks[j].Name })
	sort.Slice(st.Endpoints, func(i, j int) bool { return st.Endpoints[i].ID < st.Endpoints[j].ID })
	sort.Slice(st.Nodes, func(i, j int) bool { return nodeLess(st.Nodes[i].Name, st.Nodes[j].Name) })
	return st
}

// nodeLess orders node2 before node10.
func nodeLess(a, b string) bool {
	na, ea := strconv.Atoi(trimNode(a))
	nb, eb := strconv.Atoi(trimNode(b))
	if ea == nil && eb == nil {
		return na < nb
	}
	return a < b
}

func trimNode(s string) string {
	if len(s) > 4 && s[:4] == "node" {
		return s[4:]
	}
	return s
}
