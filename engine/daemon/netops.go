package daemon

import (
	"errors"
	"fmt"
	"log"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/bridge"
	"github.com/nslab/nslab/engine/container"
	"github.com/nslab/nslab/engine/firewall"
	"github.com/nslab/nslab/engine/ipam"
	"github.com/nslab/nslab/engine/labhost"
	"github.com/nslab/nslab/engine/macvlan"
)

// handleNetworkCreate creates a bridge or macvlan network.
func (d *Daemon) handleNetworkCreate(req api.NetworkCreate) (api.NetworkCreateResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, err := d.createNetwork(req)
	if err != nil {
		return api.NetworkCreateResponse{}, err
	}
	d.saveNetwork(n)
	return api.NetworkCreateResponse{ID: n.ID}, nil
}

// handleNetworkRm removes each named network.
func (d *Daemon) handleNetworkRm(req api.NetworkRmRequest) ([]string, error) {
	return eachName(req.Names, func(ref string) error {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.removeNetwork(ref)
	})
}

// handleNetworkConnect connects a running container to a network.
func (d *Daemon) handleNetworkConnect(req api.NetworkConnectRequest) (struct{}, error) {
	return struct{}{}, d.endpointOp(req.Network, req.Container, func(c *Container, n *Network, ep *Endpoint) error {
		if ep != nil {
			return fmt.Errorf("endpoint with name %s already exists in network %s", c.Name, n.Name)
		}
		_, err := d.attach(c, n, req.Aliases, req.IP)
		return err
	})
}

// handleNetworkDisconnect disconnects a container from a network.
func (d *Daemon) handleNetworkDisconnect(req api.NetworkDisconnectRequest) (struct{}, error) {
	return struct{}{}, d.endpointOp(req.Network, req.Container, func(c *Container, n *Network, ep *Endpoint) error {
		if ep == nil {
			return fmt.Errorf("container %s is not connected to network %s", c.ID, n.Name)
		}
		d.detach(c, ep)
		d.repickGateway(c)
		return nil
	})
}

// endpointOp is a connect or disconnect: it resolves the container and
// network under the lock, finds the container's endpoint on that network
// (nil if none), and runs fn.
func (d *Daemon) endpointOp(network, ctr string, fn func(c *Container, n *Network, ep *Endpoint) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, n, err := d.connectTarget(network, ctr)
	if err != nil {
		return err
	}
	var ep *Endpoint
	for _, e := range c.Endpoints {
		if e.NetworkID == n.ID {
			ep = e
		}
	}
	if err := fn(c, n, ep); err != nil {
		return err
	}
	d.saveContainer(c)
	return nil
}

// connectTarget resolves the container and network of a connect or
// disconnect and checks that the container can have endpoints.
func (d *Daemon) connectTarget(network, ctr string) (*Container, *Network, error) {
	n, err := d.network(network)
	if err != nil {
		return nil, nil, err
	}
	c, err := d.container(ctr)
	if err != nil {
		return nil, nil, err
	}
	if !n.hasEndpoints() {
		return nil, nil, fmt.Errorf("container cannot be disconnected from host network or connected to host network")
	}
	if c.NetworkMode == "host" || strings.HasPrefix(c.NetworkMode, "container:") {
		return nil, nil, errors.New("container sharing network namespace with another container or host cannot be connected to any other network")
	}
	if !c.running() {
		return nil, nil, fmt.Errorf("container %s is not running: nslab connects and disconnects running containers only", c.Name)
	}
	return c, n, nil
}

// Options of the bridge driver that nslab implements.
const (
	optBridgeName = "com.docker.network.bridge.name"
	optICC        = "com.docker.network.bridge.enable_icc"
	optMasquerade = "com.docker.network.bridge.enable_ip_masquerade"
)

// labHostRanges are the lab host's own links. A bridge subnet there takes
// over the route to the outside, which cuts DNS and the internet for every
// container, so it is refused as overlapping the uplink or the outside.
var labHostRanges = []ipam.Reserved{
	{Prefix: labhost.UplinkAddr.Masked(), Why: "the lab host's uplink to the outside (its eth0): a bridge there would take the route to the outside and cut DNS and internet access for every container"},
	{Prefix: netip.PrefixFrom(labhost.UpstreamDNS, 24).Masked(), Why: fmt.Sprintf("the outside's servers (the lab host's DNS server %s and example.com): a bridge there would cut DNS for every container", labhost.UpstreamDNS)},
}

// checkNetworkName refuses names Docker refuses, and names that would break
// `network ls` or could never be used with --network.
func checkNetworkName(name string) error {
	switch {
	case name == "":
		return errors.New("a network needs a name")
	case name == "bridge" || name == "host" || name == "none" || name == "default":
		// Docker's PredefinedNetworkError, trailing space included.
		return fmt.Errorf("operation is not permitted on predefined %s network ", name)
	case name == "container" || strings.HasPrefix(name, "container:"):
		return fmt.Errorf("invalid network name %q: it is reserved, because --network container:NAME means \"share container NAME's network namespace\", so a network of that name could never be used", name)
	case strings.IndexFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0:
		return fmt.Errorf("invalid network name %q: it contains a control character such as a newline, which would break `network ls`", name)
	}
	return nil
}

// Drivers of network create, and the macvlan driver's options.
const (
	driverBridge   = "bridge"
	driverMacvlan  = "macvlan"
	optParent      = "parent"
	optMacvlanMode = "macvlan_mode"
)

// notSwarm is dockerd's refusal of an overlay network on a node outside a
// swarm, word for word.
const notSwarm = `This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.`

// checkDriver refuses the drivers nslab does not have, with Docker's
// messages where Docker refuses them too.
func (d *Daemon) checkDriver(driver string) error {
	switch driver {
	case driverBridge, driverMacvlan:
		return nil
	case driverOverlay:
		if d.swarm == nil {
			return errors.New(notSwarm)
		}
		return nil
	case "host", "null":
		return fmt.Errorf("only one instance of %q network is allowed", driver)
	case "ipvlan":
		// Docker accepts the network and fails each run on it ("failed
		// to create the ipvlan port: operation not supported"): refuse
		// it now, saying why, before anything exists.
		why := "nslab has the bridge and macvlan drivers only"
		if up, err := d.nl.LinkByName(labhost.UplinkName); err == nil {
			if err := macvlan.IPVlanSupported(d.nl, up); err != nil {
				why = err.Error()
			}
		}
		return fmt.Errorf("ipvlan networks are not available: %s", why)
	}
	return fmt.Errorf("plugin %q not found", driver)
}

// checkOptions checks -o against what the driver knows, keeping them in n.
func checkOptions(n *Network, opts map[string]string) error {
	for k, v := range opts {
		switch {
		case n.Driver == driverBridge && k == optBridgeName:
		case n.Driver == driverBridge && (k == optICC || k == optMasquerade):
			// As Docker's bridge driver parses them: strconv.ParseBool,
			// so 0, f and False mean false, and anything else is refused.
			if _, err := strconv.ParseBool(v); err != nil {
				return fmt.Errorf("failed to parse %s value: %v (%s)", k, v, err)
			}
		case n.Driver == driverMacvlan && k == optParent:
		case n.Driver == driverMacvlan && k == optMacvlanMode:
			if err := macvlan.CheckMode(v); err != nil {
				return err
			}
		case n.Driver == driverBridge:
			return fmt.Errorf("unknown network option %q (nslab knows %s, enable_icc and enable_ip_masquerade)", k, optBridgeName)
		default:
			return fmt.Errorf("unknown network option %q for the macvlan driver (nslab knows %s and %s)", k, optParent, optMacvlanMode)
		}
		n.Options[k] = v
	}
	return nil
}

// createNetwork validates a network create and builds the bridge, or finds
// the macvlan network's parent. On any error nothing has changed. Call with
// d.mu held.
func (d *Daemon) createNetwork(req api.NetworkCreate) (*Network, error) {
	if err := checkNetworkName(req.Name); err != nil {
		return nil, err
	}
	driver := req.Driver
	if driver == "" {
		driver = driverBridge
	}
	if err := d.checkDriver(driver); err != nil {
		return nil, err
	}
	if driver == driverOverlay {
		return d.createOverlay(req)
	}
	if d.networkByName(req.Name) != nil {
		return nil, fmt.Errorf("network with name %s already exists", req.Name)
	}
	var used []ipam.Used
	for _, o := range d.networks {
		if o.Subnet.IsValid() {
			used = append(used, ipam.Used{Subnet: o.Subnet, Network: o.Name})
		}
	}
	n := &Network{
		ID: container.NewID(), Name: req.Name, Driver: driver, Created: time.Now(),
		Internal: req.Internal, Options: map[string]string{}, OwnBridge: driver == driverBridge,
		Attachable: req.Attachable, // shown by inspect, as dockerd keeps it
	}
	if err := checkOptions(n, req.Options); err != nil {
		return nil, err
	}
	if req.Subnet != "" {
		// A macvlan network's subnet is its parent's LAN, the uplink's
		// included: that is the point of it. A bridge there would take
		// the lab host's own routes.
		reserved := labHostRanges
		if driver == driverMacvlan {
			reserved = nil
		}
		p, err := ipam.RequestSubnet(req.Subnet, used, ipam.SpecialPurpose, reserved)
		if err != nil {
			return nil, err
		}
		n.Subnet, n.UserSubnet = p, true
	} else {
		if req.Gateway != "" {
			return nil, errors.New("every ip-range or gateway must have a corresponding subnet")
		}
		p, err := d.subnets.Pick(used)
		if err != nil {
			return nil, err
		}
		n.Subnet = p
	}
	pool, err := ipam.NewPool(n.Subnet)
	if err != nil {
		return nil, err
	}
	if req.IPRange != "" {
		if req.Subnet == "" {
			return nil, errors.New("every ip-range or gateway must have a corresponding subnet")
		}
		if err := setRange(pool, n.Subnet, req.IPRange); err != nil {
			return nil, err
		}
		n.IPRange = req.IPRange
	}
	if req.Gateway != "" {
		gw, err := netip.ParseAddr(req.Gateway)
		if err != nil || !gw.Is4() {
			return nil, fmt.Errorf("invalid gateway %q: want an IPv4 address", req.Gateway)
		}
		if !n.Subnet.Contains(gw) {
			return nil, fmt.Errorf("no matching subnet for gateway %s", gw)
		}
		if err := pool.Reserve(gw); err != nil {
			return nil, fmt.Errorf("invalid gateway: %w", err)
		}
		n.Gateway, n.UserGateway = gw, true
	} else if n.Gateway, err = pool.Allocate(); err != nil {
		return nil, err
	}
	if err := reserveAux(pool, n.Subnet, req.AuxAddress); err != nil {
		return nil, err
	}
	if len(req.AuxAddress) > 0 {
		n.AuxAddress = req.AuxAddress
	}
	n.pool = pool
	if driver == driverMacvlan {
		if err := d.ensureParent(n); err != nil {
			return nil, err
		}
	} else if err := d.ensureBridge(n); err != nil {
		return nil, err
	}
	d.networks[n.ID] = n
	return n, nil
}

// setRange narrows pool to --ip-range r, with the docker CLI's messages.
func setRange(pool *ipam.Pool, subnet netip.Prefix, r string) error {
	p, err := netip.ParsePrefix(r)
	if err != nil || !p.Addr().Is4() {
		return fmt.Errorf("invalid CIDR address: %s", r)
	}
	if p.Bits() < subnet.Bits() || !subnet.Contains(p.Addr()) {
		return fmt.Errorf("no matching subnet for range %s", r)
	}
	return pool.SetRange(p)
}

// reserveAux takes each --aux-address out of pool, after the gateway as
// dockerd does (so one on the gateway is refused), in name order.
func reserveAux(pool *ipam.Pool, subnet netip.Prefix, aux map[string]string) error {
	names := make([]string, 0, len(aux))
	for name := range aux {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		a, err := netip.ParseAddr(aux[name])
		if err != nil || !subnet.Contains(a) {
			return fmt.Errorf("no matching subnet for aux-address %s", aux[name])
		}
		if err := pool.Reserve(a); err != nil {
			return fmt.Errorf("failed to allocate secondary ip address (%s:%s): Address already in use", name, aux[name])
		}
	}
	return nil
}

// ensureParent finds or makes a macvlan network's parent link, refusing a
// parent another macvlan network uses, as Docker's driver does.
func (d *Daemon) ensureParent(n *Network) error {
	parent := n.Options[optParent] // "": a dummy parent of its own
	name := parent
	if name == "" {
		name = macvlan.DummyName(n.ID)
	}
	for _, o := range d.networks {
		if o.Driver == driverMacvlan && o.Parent == name {
			// Docker's message, which names the other network by the
			// dummy parent it would have had: dm- and its short ID.
			return fmt.Errorf("network %s is already using parent interface %s", macvlan.DummyName(o.ID), name)
		}
	}
	l, made, err := macvlan.EnsureParent(d.nl, parent, n.ID)
	if err != nil {
		return err
	}
	n.link, n.Parent, n.OwnParent, n.MTU = l, l.Attrs().Name, made, l.Attrs().MTU
	return nil
}

// ensureBridge makes a bridge network's bridge and its firewall rules.
func (d *Daemon) ensureBridge(n *Network) error {
	n.Bridge = "br-" + n.ID[:12]
	if name, ok := n.Options[optBridgeName]; ok {
		if name == "" || len(name) > 15 || strings.ContainsAny(name, "/ \t") {
			return fmt.Errorf("invalid bridge name %q: a Linux interface name has 1 to 15 characters, without '/' or spaces", name)
		}
		for _, o := range d.networks {
			if o.Bridge == name {
				return fmt.Errorf("bridge name %s is already used by network %s", name, o.Name)
			}
		}
		n.Bridge = name
		if _, err := d.nl.LinkByName(name); err == nil {
			n.OwnBridge = false
		}
	}
	var err error
	if n.link, err = bridge.Ensure(d.nl, n.Bridge, netip.PrefixFrom(n.Gateway, n.Subnet.Bits()), 0); err != nil {
		return err
	}
	if err := firewall.AddNetwork(n.firewall()); err != nil {
		if n.OwnBridge {
			bridge.Delete(d.nl, n.Bridge)
		}
		return err
	}
	return nil
}

// firewall is what the firewall needs to know of n.
func (n *Network) firewall() firewall.Network {
	return firewall.Network{
		Bridge:     n.Bridge,
		Subnet:     n.Subnet,
		ICC:        n.boolOption(optICC),
		Masquerade: n.boolOption(optMasquerade),
		Internal:   n.Internal,
	}
}

// boolOption is a boolean driver option, true when unset as in Docker.
// createNetwork has checked that it parses.
func (n *Network) boolOption(key string) bool {
	v, ok := n.Options[key]
	if !ok {
		return true
	}
	b, _ := strconv.ParseBool(v)
	return b
}

// removeNetwork refuses predefined networks and networks in use, as Docker
// does; otherwise it deletes the bridge in one link deletion and frees the
// subnet. Call with d.mu held.
func (d *Daemon) removeNetwork(ref string) error {
	n, err := d.network(ref)
	if err != nil {
		return err
	}
	if !n.userDefined() {
		return fmt.Errorf("%s is a pre-defined network and cannot be removed", n.Name)
	}
	for _, c := range d.containers {
		for _, ep := range c.Endpoints {
			if ep.NetworkID == n.ID {
				// Docker's message, word for word: scripts match it.
				return fmt.Errorf("error while removing network: network %s id %s has active endpoints", n.Name, n.ID)
			}
		}
	}
	switch {
	case n.Driver == driverOverlay:
		return d.removeOverlay(n)
	case n.Driver == driverMacvlan:
		if n.OwnParent {
			if err := macvlan.DeleteParent(d.nl, n.Parent); err != nil {
				return err
			}
		}
	default:
		if n.OwnBridge {
			if err := bridge.Delete(d.nl, n.Bridge); err != nil {
				return err
			}
		}
		if err := firewall.RemoveNetwork(n.firewall()); err != nil {
			return err
		}
	}
	delete(d.networks, n.ID)
	d.saveNetwork(n)
	return nil
}

// ifName returns the lowest unused ethN in a container.
func ifName(c *Container) string {
	for i := 0; ; i++ {
		name := fmt.Sprintf("eth%d", i)
		used := false
		for _, ep := range c.Endpoints {
			used = used || ep.IfName == name
		}
		if !used {
			return name
		}
	}
}

// rewriteHosts rewrites the container's /etc/hosts after its addresses
// changed. os.WriteFile truncates and writes the same inode, which is what
// the container's bind mount shows.
func (d *Daemon) rewriteHosts(c *Container) {
	if c.NetworkMode == "host" {
		return
	}
	var addrs []netip.Addr
	for _, ep := range c.Endpoints {
		addrs = append(addrs, ep.Addr.Addr())
	}
	if err := os.WriteFile(c.file("hosts"), []byte(d.hostsFile(c, addrs)), 0o644); err != nil {
		log.Printf("container %s: %v", c.Name, err)
	}
}
