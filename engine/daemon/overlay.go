// Overlay networks: the daemon's side of package swarm (the table every
// node shares) and package overlay (what the table means in the kernel).
// A node's daemon joins the sandbox's swarm at start; node1's daemon also
// runs the manager. Everything here that touches networks or containers
// runs with d.mu held.

package daemon

import (
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/container"
	"github.com/nslab/nslab/engine/ipam"
	"github.com/nslab/nslab/engine/labhost"
	"github.com/nslab/nslab/engine/netns"
	"github.com/nslab/nslab/engine/overlay"
	"github.com/nslab/nslab/engine/swarm"
)

const (
	driverOverlay = "overlay"
	// gwBridge is Docker's bridge for the traffic of overlay containers
	// that leaves the overlay: each gets a second endpoint on it.
	gwBridge = "docker_gwbridge"
	// optVNI is Docker's option for an overlay network's VNI.
	optVNI = "com.docker.network.driver.overlay.vxlanid_list"
	// notManager is dockerd's refusal of an overlay network on a worker,
	// notManagerCLI of a command about the swarm itself.
	notManager    = "Cannot create a multi-host network from a worker node. Please create the network from a manager node."
	notManagerCLI = "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager."
)

// lbEndpoint is a node's endpoint for the load balancer of an overlay
// network: Docker gives each node on the network one, with an address
// from the network and a namespace of its own, lb_ and the network ID's
// first nine characters, where IPVS balances services' virtual IPs.
// nslab has no services: its load balancer holds the address and answers
// ping, and no more.
type lbEndpoint struct {
	ID   string
	Addr netip.Addr
	MAC  string
	Veth string // its end on br0
	NS   string
}

// swarmNode is this daemon's membership of the sandbox's swarm.
type swarmNode struct {
	name    string
	manager bool
	client  *swarm.Client
	// remote are the other nodes' endpoints as last programmed, by ID;
	// nodes are the nodes as the manager last listed them. Guarded by
	// d.mu.
	remote map[string]swarm.Endpoint
	nodes  []swarm.Node
	// applied is the version of the last table applied: an older one,
	// fetched before a newer was applied, is ignored. claimFailed
	// keeps a refused claim from being retried (and logged) every poll.
	// Guarded by d.mu.
	applied     uint64
	claimFailed map[string]bool
	// leaves queues endpoints to give back to the manager: detach does
	// not wait for the manager, which may be unreachable.
	leaves chan string
}

// leave gives an endpoint back to the manager, in the background. An
// endpoint the queue cannot take is given back by applySwarm later (it
// is in the table and nothing here has it).
func (s *swarmNode) leave(id string) {
	select {
	case s.leaves <- id:
	default:
		log.Printf("swarm: endpoint %s: give-back queue full; applySwarm will give it back", short(id))
	}
}

func (s *swarmNode) giveBack() {
	for id := range s.leaves {
		var err error
		for try := 0; try < 3; try++ {
			if err = s.client.Leave(id); err == nil {
				break
			}
		}
		if err != nil {
			log.Printf("swarm: giving back endpoint %s: %v", short(id), err)
		}
	}
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// underlayAddr is this node's address on the underlay, or the zero Addr
// before its NIC is there. It uses the standard library's own netlink
// sockets: the poller calls it without d.mu, which guards d.nl.
func (d *Daemon) underlayAddr() netip.Addr {
	ifi, err := net.InterfaceByName(labhost.UnderlayLink)
	if err != nil {
		return netip.Addr{}
	}
	addrs, _ := ifi.Addrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipn.IP.To4()); ok {
				return ip
			}
		}
	}
	return netip.Addr{}
}

// startSwarm joins the sandbox's swarm when this lab host is a node:
// node1 serves the manager on its swarm port, and every node, node1
// included, polls it.
func (d *Daemon) startSwarm() error {
	name := os.Getenv(labhost.EnvNode)
	if name == "" {
		return nil
	}
	swarm.Reserved = append([]ipam.Reserved{{
		Prefix: labhost.UnderlayGateway.Masked(),
		Why:    "the underlay, the nodes' own network: VXLAN packets for the other nodes would be routed into the overlay instead",
	}}, labHostRanges...)
	s := &swarmNode{
		name: name, manager: name == labhost.ManagerNode, remote: map[string]swarm.Endpoint{},
		claimFailed: map[string]bool{}, leaves: make(chan string, 4096),
	}
	mgr := net.JoinHostPort(labhost.NodeAddr(1).Addr().String(), strconv.Itoa(swarm.Port))
	if s.manager {
		m, err := swarm.NewManager(filepath.Join(d.dir, "swarm.json"))
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", fmt.Sprintf(":%d", swarm.Port))
		if err != nil {
			return fmt.Errorf("swarm manager: %w", err)
		}
		go func() { log.Printf("swarm manager: %v", m.Serve(ln)) }()
		mgr = ln.Addr().String()
	}
	s.client = swarm.NewClient(mgr, name, d.underlayAddr)
	d.swarm = s
	go s.giveBack()
	d.mu.Lock()
	defer d.mu.Unlock()
	// A restarted daemon finds its overlay namespaces as its predecessor
	// left them: their entries may be of endpoints gone meanwhile, so
	// they are written again from the table.
	for _, n := range d.networks {
		if ns := d.overlayNS(n.ID); n.Driver == driverOverlay && exists(ns) {
			if err := overlay.FlushPeers(ns); err != nil {
				log.Printf("swarm: network %s: %v", n.Name, err)
			}
		}
	}
	// It also knows the other nodes' endpoints before its socket opens,
	// so that names resolve across the restart. (A node just started
	// has no underlay yet: that fails at once, with "network is
	// unreachable"; an unreachable manager costs CallTimeout.)
	if st, err := s.client.Now(); err == nil {
		d.applySwarm(st)
	}
	go d.pollSwarm(s.applied)
	return nil
}

// pollSwarm follows the manager's table for as long as the daemon runs.
// Polling is also how the manager knows the node is alive, so it never
// waits for d.mu: an applier goroutine takes each table, the latest
// replacing one not yet applied.
func (d *Daemon) pollSwarm(version uint64) {
	latest := make(chan swarm.State, 1)
	go func() {
		for st := range latest {
			d.mu.Lock()
			d.applySwarm(st)
			d.mu.Unlock()
		}
	}()
	failing := 0
	for {
		st, err := d.swarm.client.Poll(version)
		if err != nil {
			if failing%50 == 0 {
				log.Printf("swarm: %v (retrying)", err)
			}
			failing++
			// Until the manager answers; it is inside the sandbox.
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if failing > 0 {
			log.Printf("swarm: the manager answers")
			failing = 0
		}
		select {
		case <-latest: // superseded before the applier took it
		default:
		}
		latest <- st
		version = st.Version
	}
}

// refreshSwarm applies the manager's table at once, and reports whether
// it was newer than the one applied. Call with d.mu held.
func (d *Daemon) refreshSwarm() bool {
	if d.swarm == nil {
		return false
	}
	st, err := d.swarm.client.Now()
	if err != nil || st.Version <= d.swarm.applied {
		return false
	}
	d.applySwarm(st)
	return true
}

// overlayNS is the path of overlay network n's namespace on this node.
func (d *Daemon) overlayNS(id string) string {
	return filepath.Join(d.dir, "netns", overlay.NamespaceName(id))
}

// applySwarm brings this node in line with the manager's table: the
// overlay networks, the other nodes' endpoints (in the embedded DNS and,
// where this node has the network's namespace, in vxlan0), and this
// node's own endpoints, which it claims back if the table lost them.
// Call with d.mu held.
func (d *Daemon) applySwarm(st swarm.State) {
	s := d.swarm
	if st.Version < s.applied {
		return // fetched before a newer table was applied
	}
	s.applied = st.Version
	s.nodes = st.Nodes
	known := map[string]bool{}
	for _, sn := range st.Networks {
		known[sn.ID] = true
		if _, ok := d.networks[sn.ID]; ok {
			continue
		}
		if o := d.networkByName(sn.Name); o != nil {
			log.Printf("swarm: overlay network %s: this node has a %s network of that name; not showing it", sn.Name, o.Driver)
			continue
		}
		n := overlayNetwork(sn)
		d.networks[n.ID] = n
		d.saveNetwork(n)
	}
	// The other nodes' endpoints, on the networks this node shows:
	// first those gone, while their networks are still here to say
	// whose names and entries they were.
	want := map[string]swarm.Endpoint{}
	own := map[string]bool{}
	for _, ep := range st.Endpoints {
		if ep.Node == s.name {
			own[ep.ID] = true
			continue
		}
		if n, ok := d.networks[ep.NetworkID]; ok && n.Driver == driverOverlay {
			want[ep.ID] = ep
		}
	}
	for id, ep := range s.remote {
		if _, ok := want[id]; !ok {
			d.unprogram(ep)
			delete(s.remote, id)
		}
	}
	for id, ep := range want {
		if _, ok := s.remote[id]; !ok {
			d.program(ep)
			s.remote[id] = ep
		}
	}
	for _, n := range d.networks {
		if n.Driver != driverOverlay {
			continue
		}
		// A namespace no container here uses any more (its container
		// lost by a restarted daemon) goes; so does a network the
		// swarm no longer has, once nothing here is on it.
		d.dropOverlayNS(n)
		if !known[n.ID] && d.localEndpoints(n.ID) == 0 {
			delete(d.networks, n.ID)
			d.saveNetwork(n)
		}
	}
	// This node's endpoints: claim back those the table lost (the
	// manager took the node for dead, or lost its table), and give
	// back those nothing here has (a daemon that died between the two).
	mine := map[string]bool{}
	for _, n := range d.networks {
		if n.LB != nil {
			mine[n.LB.ID] = true
			if !own[n.LB.ID] {
				d.claim(n.LB.ID, n, "load balancer lb-"+n.Name, nil, n.LB.Addr, n.LB.MAC)
			}
		}
	}
	for _, c := range d.containers {
		for _, ep := range c.Endpoints {
			if ep.OverlayNS == "" {
				continue
			}
			mine[ep.EndpointID] = true
			if n, ok := d.networks[ep.NetworkID]; ok && !own[ep.EndpointID] && c.running() {
				d.claim(ep.EndpointID, n, "container "+c.Name, ep.DNSNames, ep.Addr.Addr(), ep.MAC)
			}
		}
	}
	for id := range own {
		if !mine[id] {
			log.Printf("swarm: endpoint %s is in the table but nothing here has it: giving it back", short(id))
			s.leave(id)
		}
	}
}

func overlayNetwork(sn swarm.Network) *Network {
	return &Network{
		ID: sn.ID, Name: sn.Name, Driver: driverOverlay, Subnet: sn.Subnet, Gateway: sn.Gateway,
		MTU: overlay.MTU, Created: sn.Created, Internal: sn.Internal, UserSubnet: sn.UserSubnet,
		Attachable: sn.Attachable, VNI: sn.VNI,
		Options: map[string]string{optVNI: strconv.Itoa(sn.VNI)},
	}
}

// localEndpoints counts this node's endpoints on network id.
func (d *Daemon) localEndpoints(id string) int {
	k := 0
	for _, c := range d.containers {
		for _, ep := range c.Endpoints {
			if ep.NetworkID == id {
				k++
			}
		}
	}
	return k
}

// claim asks the manager for an endpoint of this node's back, with its
// address and MAC. A refusal (the network is gone, or the address was
// given away) is logged once and not retried: the endpoint keeps its
// address, and the log says why the other nodes no longer reach it.
// Call with d.mu held.
func (d *Daemon) claim(id string, n *Network, what string, names []string, addr netip.Addr, mac string) {
	if d.swarm.claimFailed[id] {
		return
	}
	_, err := d.swarm.client.Join(swarm.JoinRequest{
		ID: id, NetworkID: n.ID, Container: strings.TrimPrefix(strings.TrimPrefix(what, "container "), "load balancer "), Names: names, IP: addr.String(), MAC: mac,
	})
	if err != nil {
		if !errors.Is(err, swarm.ErrManager) {
			d.swarm.claimFailed[id] = true
		}
		log.Printf("swarm: %s: claiming back %s on %s: %v", what, addr, n.Name, err)
		return
	}
	log.Printf("swarm: %s: claimed back %s on %s", what, addr, n.Name)
}

// program makes another node's endpoint known here: its names to the
// embedded DNS, and, if this node has its network's namespace, its entries
// in vxlan0. Call with d.mu held.
func (d *Daemon) program(ep swarm.Endpoint) {
	n, ok := d.networks[ep.NetworkID]
	if !ok {
		return
	}
	if len(ep.Names) > 0 {
		d.dns.Add(n.Name, ep.Names, ep.Addr)
	}
	if ns := d.overlayNS(n.ID); exists(ns) {
		if err := overlay.AddPeer(ns, peerOf(ep)); err != nil {
			log.Printf("swarm: network %s: %v", n.Name, err)
		}
	}
}

func (d *Daemon) unprogram(ep swarm.Endpoint) {
	n, ok := d.networks[ep.NetworkID]
	if !ok {
		return
	}
	if len(ep.Names) > 0 {
		d.dns.Remove(n.Name, ep.Names, ep.Addr)
	}
	if ns := d.overlayNS(n.ID); exists(ns) {
		if err := overlay.RemovePeer(ns, peerOf(ep)); err != nil {
			log.Printf("swarm: network %s: %v", n.Name, err)
		}
	}
}

func peerOf(ep swarm.Endpoint) overlay.Peer {
	mac, _ := net.ParseMAC(ep.MAC)
	return overlay.Peer{IP: ep.Addr, MAC: mac, Underlay: ep.NodeAddr}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// createOverlay asks the manager for an overlay network, with Docker's
// refusals off a swarm and on a worker. Call with d.mu held.
func (d *Daemon) createOverlay(req api.NetworkCreate) (*Network, error) {
	if d.swarm == nil {
		return nil, errors.New(notSwarm)
	}
	if !d.swarm.manager {
		return nil, errors.New(notManager)
	}
	if d.networkByName(req.Name) != nil {
		return nil, fmt.Errorf("network with name %s already exists", req.Name)
	}
	if req.IPRange != "" || len(req.AuxAddress) > 0 {
		return nil, errors.New("nslab's overlay networks take --subnet and --gateway, not --ip-range or --aux-address")
	}
	vni := 0
	for k, v := range req.Options {
		if k != optVNI {
			return nil, fmt.Errorf("unknown network option %q for the overlay driver (nslab knows %s)", k, optVNI)
		}
		var err error
		if vni, err = strconv.Atoi(v); err != nil {
			return nil, fmt.Errorf("invalid VXLAN ID %q: want one number from 1 to %d", v, swarm.MaxVNI)
		}
	}
	sn, err := d.swarm.client.Create(swarm.CreateRequest{
		ID: swarm.NewID(), Name: req.Name, Subnet: req.Subnet, Gateway: req.Gateway,
		VNI: vni, Attachable: req.Attachable, Internal: req.Internal,
	})
	if err != nil {
		return nil, err
	}
	// The table as it is now, so that no older one, fetched before the
	// create, takes the network away again.
	if !d.refreshSwarm() {
		if _, ok := d.networks[sn.ID]; !ok {
			d.networks[sn.ID] = overlayNetwork(sn)
		}
	}
	n, ok := d.networks[sn.ID]
	if !ok {
		return nil, fmt.Errorf("network %s was created, but this node has a network of that name", sn.Name)
	}
	return n, nil
}

// removeOverlay asks the manager to delete n, which no container uses on
// any node. Call with d.mu held.
func (d *Daemon) removeOverlay(n *Network) error {
	if d.swarm == nil {
		return errors.New(notSwarm)
	}
	if !d.swarm.manager {
		return fmt.Errorf("network %s is a swarm network: remove it on a manager node (%s)", n.Name, labhost.ManagerNode)
	}
	if err := d.swarm.client.Remove(n.ID); err != nil {
		return err
	}
	// Gone from the swarm: what is left here is cleanup.
	d.dropLB(n)
	if err := overlay.Remove(d.overlayNS(n.ID)); err != nil {
		log.Printf("network %s: %v", n.Name, err)
	}
	delete(d.networks, n.ID)
	d.saveNetwork(n)
	return nil
}

// attachOverlay is attach for an overlay network: an address from the
// manager, the network's namespace on this node (made with the first
// local endpoint, every remote endpoint programmed into it), a veth from
// its br0 into the container, and, unless the network is internal, an
// endpoint on docker_gwbridge for the way out. Call with d.mu held.
func (d *Daemon) attachOverlay(c *Container, n *Network, aliases []string, ipReq string) (*Endpoint, error) {
	if d.swarm == nil {
		return nil, fmt.Errorf("network %s is an overlay network, and this node has left the swarm", n.Name)
	}
	ep := &Endpoint{
		NetworkID: n.ID, Network: n.Name, EndpointID: container.NewID(), IfName: ifName(c),
		Aliases: aliases, IPv4Req: ipReq, OverlayNS: d.overlayNS(n.ID),
		DNSNames: dedup(append(append([]string{c.Name}, aliases...), c.ID[:12], c.Hostname)),
	}
	req := swarm.JoinRequest{ID: ep.EndpointID, NetworkID: n.ID, Container: c.Name, Names: ep.DNSNames, IP: ipReq}
	if m := runMAC(c); m != nil {
		req.MAC = m.String()
	}
	if !d.underlayAddr().IsValid() {
		return nil, fmt.Errorf("network %s: this node has no address on the underlay (%s)", n.Name, labhost.UnderlayLink)
	}
	se, err := d.swarm.client.Join(req)
	if err != nil {
		return nil, err
	}
	ep.Addr, ep.MAC = netip.PrefixFrom(se.Addr, n.Subnet.Bits()), se.MAC
	leave := func() { d.swarm.leave(ep.EndpointID) }
	fresh := !exists(ep.OverlayNS)
	if err := overlay.Ensure(d.nl, ep.OverlayNS, overlay.Network{VNI: n.VNI, Gateway: netip.PrefixFrom(n.Gateway, n.Subnet.Bits())}); err != nil {
		leave()
		return nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	if fresh {
		for _, r := range d.swarm.remote {
			if r.NetworkID == n.ID {
				if err := overlay.AddPeer(ep.OverlayNS, peerOf(r)); err != nil {
					log.Printf("network %s: %v", n.Name, err)
				}
			}
		}
	}
	mac, _ := net.ParseMAC(ep.MAC)
	veth, err := overlay.Attach(ep.OverlayNS, c.SandboxKey, overlay.Endpoint{IfName: ep.IfName, Addr: ep.Addr, MAC: mac})
	if err != nil {
		leave()
		d.dropOverlayNS(n)
		return nil, err
	}
	ep.HostVeth = veth
	c.Endpoints = append(c.Endpoints, ep)
	if err := d.ensureLB(n); err != nil {
		log.Printf("network %s: load balancer: %v", n.Name, err)
	}
	d.dns.Add(n.Name, ep.DNSNames, se.Addr)
	d.updateDNSView(c)
	undo := func(err error) (*Endpoint, error) {
		d.detach(c, ep)
		d.repickGateway(c)
		return nil, err
	}
	if err := d.ensureResolver(c); err != nil {
		return undo(err)
	}
	if !n.Internal && d.gatewayEndpoint(c) == nil {
		if err := d.attachGateway(c); err != nil {
			return undo(fmt.Errorf("network %s: %s: %w", n.Name, gwBridge, err))
		}
	}
	if c.running() {
		d.rewriteHosts(c)
	}
	return ep, nil
}

// gatewayEndpoint is c's endpoint on docker_gwbridge, or nil.
func (d *Daemon) gatewayEndpoint(c *Container) *Endpoint {
	for _, ep := range c.Endpoints {
		if ep.Hidden {
			return ep
		}
	}
	return nil
}

// attachGateway gives c its endpoint on docker_gwbridge, making the
// network first as dockerd does: the next free default pool
// (172.18.0.0/16 on a fresh node), containers apart (no ICC), masquerade
// on. Docker keeps the endpoint out of the container's inspect; it holds
// the default route. Call with d.mu held.
func (d *Daemon) attachGateway(c *Container) error {
	gw := d.networkByName(gwBridge)
	if gw == nil {
		var err error
		gw, err = d.createNetwork(api.NetworkCreate{Name: gwBridge, Options: map[string]string{
			optBridgeName: gwBridge, optICC: "false", optMasquerade: "true",
		}})
		if err != nil {
			return err
		}
		d.saveNetwork(gw)
	}
	ep, err := d.attach(c, gw, nil, "")
	if err != nil {
		return err
	}
	ep.Hidden = true
	return nil
}

// detachOverlay is the overlay half of detach: the veth, the manager's
// table, and the network's namespace with the last local endpoint; and
// the docker_gwbridge endpoint with the container's last overlay one.
// Call with d.mu held, ep already out of c.Endpoints.
func (d *Daemon) detachOverlay(c *Container, ep *Endpoint) {
	if err := overlay.Detach(ep.OverlayNS, ep.HostVeth); err != nil {
		log.Printf("container %s: %v", c.Name, err)
	}
	if d.swarm != nil {
		d.swarm.leave(ep.EndpointID)
	}
	if n, ok := d.networks[ep.NetworkID]; ok {
		d.dropOverlayNS(n)
	}
	for _, e := range c.Endpoints {
		if e.OverlayNS != "" {
			return
		}
	}
	if gw := d.gatewayEndpoint(c); gw != nil {
		d.detach(c, gw)
	}
}

// ensureLB gives this node its load-balancer endpoint on n, after the
// first container here joined it, as dockerd does. Call with d.mu held.
func (d *Daemon) ensureLB(n *Network) error {
	if n.LB != nil {
		return nil
	}
	lb := &lbEndpoint{ID: container.NewID(), NS: filepath.Join(d.dir, "netns", "lb_"+n.ID[:9])}
	se, err := d.swarm.client.Join(swarm.JoinRequest{ID: lb.ID, NetworkID: n.ID, Container: "lb-" + n.Name})
	if err != nil {
		return err
	}
	lb.Addr, lb.MAC = se.Addr, se.MAC
	if err := netns.Create(lb.NS); err != nil {
		d.swarm.leave(lb.ID)
		return err
	}
	mac, _ := net.ParseMAC(lb.MAC)
	if lb.Veth, err = overlay.Attach(d.overlayNS(n.ID), lb.NS, overlay.Endpoint{IfName: "eth0", Addr: netip.PrefixFrom(lb.Addr, n.Subnet.Bits()), MAC: mac}); err != nil {
		netns.Remove(lb.NS)
		d.swarm.leave(lb.ID)
		return err
	}
	n.LB = lb
	d.saveNetwork(n)
	return nil
}

// dropLB gives back n's load-balancer endpoint on this node.
func (d *Daemon) dropLB(n *Network) {
	if n.LB == nil {
		return
	}
	if d.swarm != nil {
		d.swarm.leave(n.LB.ID)
	}
	if err := netns.Remove(n.LB.NS); err != nil {
		log.Printf("network %s: %v", n.Name, err)
	}
	n.LB = nil
	d.saveNetwork(n)
}

// dropOverlayNS deletes n's namespace on this node, and its load
// balancer, once no container here is on n, as Docker does.
func (d *Daemon) dropOverlayNS(n *Network) {
	if d.localEndpoints(n.ID) > 0 {
		return
	}
	d.dropLB(n)
	if err := overlay.Remove(d.overlayNS(n.ID)); err != nil {
		log.Printf("network %s: %v", n.Name, err)
	}
}

// handleNodeLs is docker node ls: the swarm's nodes as the manager
// knows them, with dockerd's refusals off a swarm and on a worker.
func (d *Daemon) handleNodeLs(api.NodeLsRequest) ([]api.NodeSummary, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.swarm == nil {
		return nil, errors.New(notSwarm)
	}
	if !d.swarm.manager {
		return nil, errors.New(notManagerCLI)
	}
	d.refreshSwarm()
	var out []api.NodeSummary
	for _, nd := range d.swarm.nodes {
		row := api.NodeSummary{ID: nd.ID, Hostname: nd.Name, Status: "Down", Availability: "Active", Self: nd.Name == d.swarm.name}
		if nd.Up {
			row.Status = "Ready"
		}
		if nd.Name == labhost.ManagerNode {
			row.ManagerStatus = "Leader"
		}
		out = append(out, row)
	}
	return out, nil
}

// overlayPeers is network inspect's Peers: the nodes that have joined
// n, this one when it has a container on n, with their underlay
// addresses. Call with d.mu held.
func (d *Daemon) overlayPeers(n *Network) []api.PeerInfo {
	if d.swarm == nil {
		return nil
	}
	on := map[string]netip.Addr{}
	for _, r := range d.swarm.remote {
		if r.NetworkID == n.ID {
			on[r.Node] = r.NodeAddr
		}
	}
	if d.localEndpoints(n.ID) > 0 {
		on[d.swarm.name] = d.underlayAddr()
	}
	var out []api.PeerInfo
	for _, nd := range d.swarm.nodes {
		if a, ok := on[nd.Name]; ok {
			out = append(out, api.PeerInfo{Name: nd.Name, IP: a.String()})
		}
	}
	return out
}
