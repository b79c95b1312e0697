// Endpoints and attach: a container's attachments to bridge and macvlan
// networks, each an address from the network's pool and a veth on the
// network's bridge or a macvlan link on its parent. Everything here runs
// with d.mu held.

package daemon

import (
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"strings"

	"github.com/nslab/nslab/engine/bridge"
	"github.com/nslab/nslab/engine/container"
	"github.com/nslab/nslab/engine/ipam"
	"github.com/nslab/nslab/engine/macvlan"
	"github.com/nslab/nslab/engine/netns"
)

// Endpoint is a container's attachment to a bridge or macvlan network.
type Endpoint struct {
	NetworkID  string
	Network    string
	EndpointID string
	HostVeth   string // "" for a macvlan link, which has no host end
	IfName     string
	Addr       netip.Prefix
	Gateway    netip.Addr
	MAC        string
	Aliases    []string // --network-alias / --alias
	IPv4Req    string   // --ip as asked, inspect's IPAMConfig
	DNSNames   []string // names the embedded DNS server answers, first one for PTR
	// OverlayNS is, for an endpoint on an overlay network, the network's
	// namespace on this node, where HostVeth is (on br0).
	OverlayNS string `json:",omitempty"`
	// Hidden marks a container's endpoint on docker_gwbridge, which
	// Docker keeps out of the container's inspect.
	Hidden bool `json:",omitempty"`
}

// attach allocates an address on n (ip, if given) and wires a veth for it
// as the container's lowest unused ethN. Call with d.mu held.
func (d *Daemon) attach(c *Container, n *Network, aliases []string, ipReq string) (*Endpoint, error) {
	if err := checkEndpointRequest(n, aliases, ipReq); err != nil {
		return nil, err
	}
	if n.Driver == driverOverlay {
		return d.attachOverlay(c, n, aliases, ipReq)
	}
	var ip netip.Addr
	if ipReq != "" {
		ip = netip.MustParseAddr(ipReq)
		if err := reserveIP(n, ip); err != nil {
			return nil, err
		}
	} else {
		var err error
		if ip, err = n.pool.Allocate(); err != nil {
			if errors.Is(err, ipam.ErrPoolFull) {
				return nil, fmt.Errorf("%w on this network's address pools: %s (%s)", ipam.ErrPoolFull, n.Name, n.ID)
			}
			return nil, fmt.Errorf("network %s: %w", n.Name, err)
		}
	}
	ep := &Endpoint{
		NetworkID: n.ID, Network: n.Name, EndpointID: container.NewID(),
		IfName: ifName(c), Addr: netip.PrefixFrom(ip, n.Subnet.Bits()),
		MAC: bridge.MAC(ip).String(), Aliases: aliases, Gateway: n.Gateway, IPv4Req: ipReq,
	}
	if m := runMAC(c); m != nil {
		ep.MAC = m.String()
	}
	// A first endpoint brings the default route with it, unless its
	// network is internal: then there is none, as in newer Docker. A
	// later one may move it (pickGateway).
	var route netip.Addr
	if !n.Internal && len(c.Endpoints) == 0 {
		route = n.Gateway
	}
	if n.userDefined() {
		ep.DNSNames = dedup(append(append([]string{c.Name}, aliases...), c.ID[:12], c.Hostname))
	}
	if err := d.wire(c, n, ep, route); err != nil {
		n.pool.Release(ip)
		return nil, err
	}
	c.Endpoints = append(c.Endpoints, ep)
	if len(c.Endpoints) > 1 {
		if err := d.pickGateway(c); err != nil {
			d.detach(c, ep)
			d.repickGateway(c)
			return nil, err
		}
	}
	if n.userDefined() {
		d.dns.Add(n.Name, ep.DNSNames, ip)
		d.updateDNSView(c)
		if err := d.ensureResolver(c); err != nil {
			d.detach(c, ep)
			d.repickGateway(c)
			return nil, err
		}
	}
	if c.running() {
		d.rewriteHosts(c)
	}
	return ep, nil
}

// pickGateway points the container's default route where dockerd does:
// through the gateway of its endpoint on the non-internal network whose
// name sorts first (libnetwork orders a sandbox's endpoints so: internal
// networks last, then by name). So `network connect` can move the way
// out, and disconnect move it back. With only internal networks, there is
// none. Call with d.mu held, the container's namespace in place.
func (d *Daemon) pickGateway(c *Container) error {
	var best *Endpoint
	bestName := ""
	for _, ep := range c.Endpoints {
		n, ok := d.networks[ep.NetworkID]
		if !ok || n.Internal || n.Driver == driverOverlay {
			// An overlay network gives no way out: its containers
			// leave through docker_gwbridge.
			continue
		}
		if best == nil || n.Name < bestName {
			best, bestName = ep, n.Name
		}
	}
	if best == nil {
		return netns.SetDefaultRoute(c.SandboxKey, "", netip.Addr{})
	}
	return netns.SetDefaultRoute(c.SandboxKey, best.IfName, best.Gateway)
}

// repickGateway is pickGateway after an endpoint went (a disconnect, or
// a connect undone): the link that held the default route may have taken
// it with it. A failure is logged; the endpoint is gone either way.
func (d *Daemon) repickGateway(c *Container) {
	if len(c.Endpoints) == 0 || c.SandboxKey == "" {
		return
	}
	if err := d.pickGateway(c); err != nil {
		log.Printf("container %s: default route: %v", c.Name, err)
	}
}

// wire makes the endpoint's link: a veth on n's bridge, or a macvlan link
// on n's parent, named ep.IfName inside the container.
func (d *Daemon) wire(c *Container, n *Network, ep *Endpoint, route netip.Addr) error {
	if n.Driver == driverMacvlan {
		// The parent by its name, each time, as Docker's driver does:
		// one deleted and made again has another index.
		parent, err := d.nl.LinkByName(n.Parent)
		if err != nil {
			return fmt.Errorf("network %s: its parent interface %s is gone from the lab host: %w", n.Name, n.Parent, err)
		}
		n.link = parent
		mac, _ := net.ParseMAC(ep.MAC)
		return macvlan.Attach(d.nl, parent, c.SandboxKey, macvlan.Endpoint{
			IfName: ep.IfName, Addr: ep.Addr, Gateway: route, MAC: mac, Mode: n.macvlanMode(),
		})
	}
	veth, err := bridge.Attach(d.nl, n.link, c.SandboxKey, bridge.Endpoint{
		IfName: ep.IfName, Addr: ep.Addr, Gateway: route, MTU: n.MTU, MAC: runMAC(c),
	})
	ep.HostVeth = veth
	return err
}

// unwire deletes the endpoint's link: the host end of its veth (the
// kernel deletes the peer), or its macvlan link inside the container.
func (d *Daemon) unwire(c *Container, ep *Endpoint) error {
	if ep.OverlayNS != "" {
		return nil // detachOverlay
	}
	if ep.HostVeth == "" {
		return macvlan.Detach(c.SandboxKey, ep.IfName)
	}
	return bridge.DetachFast(d.nl, ep.HostVeth) // see teardown.go
}

// checkRunEndpoint is what run checks before it creates a container: the
// aliases, and that --ip is an IPv4 address. Whether the network takes an
// --ip, and that address, is checked when the endpoint is made, as dockerd
// does: such a run leaves its container Created.
func checkRunEndpoint(n *Network, aliases []string, ipReq string) error {
	if err := checkEndpointRequest(n, aliases, ""); err != nil {
		return err
	}
	if ip, err := netip.ParseAddr(ipReq); ipReq != "" && (err != nil || !ip.Is4()) {
		return fmt.Errorf("invalid IPv4 address: %s", ipReq)
	}
	return nil
}

// checkEndpointRequest validates --network-alias and --ip for network n.
func checkEndpointRequest(n *Network, aliases []string, ipReq string) error {
	if n.Driver == driverOverlay && !n.Attachable {
		// dockerd's words: only services may join such a network.
		return fmt.Errorf("Could not attach to network %s: rpc error: code = PermissionDenied desc = network %s not manually attachable", n.Name, n.Name)
	}
	if len(aliases) > 0 && !n.userDefined() {
		return errors.New("network-scoped alias is supported only for containers in user defined networks")
	}
	for _, a := range aliases {
		if a == "" || strings.ContainsAny(a, " \t/") {
			return fmt.Errorf("invalid alias %q", a)
		}
	}
	if ipReq == "" {
		return nil
	}
	if !n.userDefined() {
		return errors.New("user specified IP address is supported on user defined networks only")
	}
	if !n.UserSubnet {
		return errors.New("user specified IP address is supported only when connecting to networks with user configured subnets")
	}
	ip, err := netip.ParseAddr(ipReq)
	if err != nil || !ip.Is4() {
		return fmt.Errorf("invalid IPv4 address: %s", ipReq)
	}
	return nil
}

// reserveIP takes the address --ip asks for, with dockerd's messages. It
// runs when the endpoint is made, as in Docker: a run whose --ip is outside
// the subnet or taken leaves its container Created.
func reserveIP(n *Network, ip netip.Addr) error {
	if !n.Subnet.Contains(ip) {
		return fmt.Errorf("Invalid address %s: It does not belong to any of this network's subnets", ip)
	}
	if n.pool.InUse(ip) {
		return errors.New("Address already in use")
	}
	if err := n.pool.Reserve(ip); err != nil {
		return fmt.Errorf("invalid --ip for network %s: %w", n.Name, err)
	}
	return nil
}

func dedup(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// detach deletes an endpoint's veth and releases its address. As with
// Docker's synchronous deletion, when stop or rm returns the bridge already
// shows the port gone: DetachFast returns once the kernel has unlisted the
// veth, leaving only the kernel's RCU barrier to run on. Call with d.mu held.
func (d *Daemon) detach(c *Container, ep *Endpoint) {
	if len(c.Ports) > 0 && d.portEndpoint(c) == ep {
		// Published ports go to the first endpoint's address: they go
		// with it, as Docker drops the mapping with the endpoint.
		d.unpublish(c)
	}
	if len(ep.DNSNames) > 0 {
		d.dns.Remove(ep.Network, ep.DNSNames, ep.Addr.Addr())
	}
	if err := d.unwire(c, ep); err != nil {
		log.Printf("container %s: %v", c.Name, err)
	}
	if n, ok := d.networks[ep.NetworkID]; ok && n.pool != nil {
		if err := n.pool.Release(ep.Addr.Addr()); err != nil {
			log.Printf("container %s: %v", c.Name, err)
		}
	}
	for i, e := range c.Endpoints {
		if e == ep {
			c.Endpoints = append(c.Endpoints[:i], c.Endpoints[i+1:]...)
			break
		}
	}
	if ep.OverlayNS != "" {
		d.detachOverlay(c, ep)
	}
	d.updateDNSView(c)
	if c.running() {
		d.rewriteHosts(c)
	}
}
