package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/ipam"
	"github.com/nslab/nslab/engine/macvlan"
	"github.com/vishvananda/netlink"
)

// Network is one network: a bridge, a macvlan network, or the predefined
// host and none.
type Network struct {
	ID     string
	Name   string
	Driver string // bridge, macvlan, host, null
	Bridge string `json:",omitempty"`
	// Parent is a macvlan network's parent link in the lab host; OwnParent
	// says the network made it (a dummy or 802.1q link) and deletes it.
	Parent    string `json:",omitempty"`
	OwnParent bool   `json:",omitempty"`
	Subnet    netip.Prefix
	Gateway   netip.Addr
	MTU       int
	Default   bool // the predefined "bridge" network
	Created   time.Time
	// Internal networks have no default route and no outside access.
	Internal bool
	// UserSubnet is set when --subnet was given; only then may a
	// container ask for a fixed address with --ip, as in Docker.
	UserSubnet bool
	// UserGateway is set when --gateway was given. Docker's IPAM config
	// lists the gateway of a --subnet only then (of a pool it chose, always).
	UserGateway bool `json:",omitempty"`
	// IPRange (--ip-range, as given) narrows the pool's dynamic
	// addresses; AuxAddress (--aux-address) are addresses it never hands
	// out, for machines on a macvlan network's LAN.
	IPRange    string            `json:",omitempty"`
	AuxAddress map[string]string `json:",omitempty"`
	// OwnBridge is false when the bridge existed before (a named bridge
	// the user made); network rm then leaves it alone, as Docker does.
	OwnBridge bool
	Options   map[string]string
	// Attachable and VNI are an overlay network's (--attachable, and its
	// VXLAN network identifier).
	Attachable bool `json:",omitempty"`
	VNI        int  `json:",omitempty"`
	// LB is this node's load-balancer endpoint on an overlay network,
	// while a container here is on it (overlay.go).
	LB   *lbEndpoint `json:",omitempty"`
	pool *ipam.Pool
	link netlink.Link // the bridge, as bridge.Ensure returned it; a macvlan network's parent
}

// userDefined reports whether n is a network made by network create: the
// ones with an embedded DNS server.
func (n *Network) userDefined() bool {
	switch n.Driver {
	case driverBridge:
		// docker_gwbridge is made by dockerd, and has no names.
		return !n.Default && n.Name != gwBridge
	case driverMacvlan, driverOverlay:
		return true
	}
	return false
}

// hasEndpoints reports whether containers attach to n with endpoints of
// their own: bridge and macvlan networks, not host or none.
func (n *Network) hasEndpoints() bool {
	return n.Driver == driverBridge || n.Driver == driverMacvlan || n.Driver == driverOverlay
}

// scope is network ls's SCOPE: swarm for overlay networks, which every
// node of the swarm shares.
func (n *Network) scope() string {
	if n.Driver == driverOverlay {
		return "swarm"
	}
	return "local"
}

// macvlanMode is a macvlan network's mode: -o macvlan_mode, or bridge.
func (n *Network) macvlanMode() string {
	if m, ok := n.Options[optMacvlanMode]; ok {
		return m
	}
	return macvlan.DefaultMode
}

// network finds a network by name, full ID or unique ID prefix. Call with
// d.mu held.
func (d *Daemon) network(ref string) (*Network, error) {
	if ref == "" {
		// Every ID has the empty prefix: say what is wrong instead.
		return nil, errors.New(`network "" not found: the network name is empty`)
	}
	for _, n := range d.networks {
		if n.Name == ref || n.ID == ref {
			return n, nil
		}
	}
	var found *Network
	for _, n := range d.networks {
		if strings.HasPrefix(n.ID, ref) {
			if found != nil {
				return nil, fmt.Errorf("network %s is ambiguous", ref)
			}
			found = n
		}
	}
	if found == nil {
		if d.refreshSwarm() {
			// A swarm network made a moment ago on the manager
			// may not have reached this node's poller yet.
			return d.network(ref)
		}
		return nil, fmt.Errorf("network %s not found", ref)
	}
	return found, nil
}

func (d *Daemon) networkByName(name string) *Network {
	for _, n := range d.networks {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// handleNetworkLs lists the networks in docker network ls's order.
func (d *Daemon) handleNetworkLs(api.NetworkLsRequest) ([]api.NetworkSummary, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []api.NetworkSummary
	for _, n := range d.networks {
		if n.Driver == driverOverlay && d.swarm != nil && !d.swarm.manager && d.localEndpoints(n.ID) == 0 {
			// A worker lists a swarm network only while one of its
			// containers is on it, as in Docker.
			continue
		}
		out = append(out, api.NetworkSummary{ID: n.ID, Name: n.Name, Driver: n.Driver, Scope: n.scope(), Created: n.Created, Internal: n.Internal})
	}
	sort.Slice(out, func(i, j int) bool { return naturalLess(out[i].Name, out[j].Name) })
	return out, nil
}

// handleNetworkInspect inspects networks.
func (d *Daemon) handleNetworkInspect(req api.NetworkInspectRequest) (api.InspectResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out api.InspectResponse
	for _, ref := range req.Names {
		n, err := d.network(ref)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(d.networkJSON(n))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// networkJSON renders a network in Docker's `network inspect` shape (the
// struct order of Docker before v29). Call with d.mu held.
func (d *Daemon) networkJSON(n *Network) api.NetworkResource {
	containers := map[string]api.EndpointResource{}
	for _, c := range d.containers {
		for _, ep := range c.Endpoints {
			if ep.NetworkID == n.ID && c.running() {
				name := c.Name
				if ep.Hidden {
					// Docker names a container's docker_gwbridge
					// endpoint after its sandbox.
					name = "gateway_" + c.SandboxID[:12]
				}
				containers[c.ID] = api.EndpointResource{
					Name: name, EndpointID: ep.EndpointID, MacAddress: ep.MAC, IPv4Address: ep.Addr.String(),
				}
			}
		}
	}
	if n.LB != nil {
		// Docker lists the node's load balancer as a container.
		containers["lb-"+n.Name] = api.EndpointResource{
			Name: n.Name + "-endpoint", EndpointID: n.LB.ID, MacAddress: n.LB.MAC, IPv4Address: netip.PrefixFrom(n.LB.Addr, n.Subnet.Bits()).String(),
		}
	}
	if n.Driver == "host" || n.Driver == "null" {
		for _, c := range d.containers {
			if c.running() && c.NetworkMode == n.Name {
				containers[c.ID] = api.EndpointResource{Name: c.Name, EndpointID: c.Inspect.ModeEndpointID}
			}
		}
	}
	ipam := api.IPAM{Driver: "default", Options: map[string]string{}, Config: []api.IPAMConfig{}}
	options := map[string]string{}
	for k, v := range n.Options {
		options[k] = v
	}
	if n.hasEndpoints() {
		cfg := api.IPAMConfig{Subnet: n.Subnet.String(), Gateway: n.Gateway.String(), IPRange: n.IPRange, AuxAddress: n.AuxAddress}
		if n.UserSubnet && !n.UserGateway {
			cfg.Gateway = ""
		}
		ipam.Config = append(ipam.Config, cfg)
	}
	if n.Driver == "host" || n.Driver == "null" || n.Driver == driverOverlay {
		// The predefined networks' IPAM options are null, as the default
		// bridge's and a swarm network's; a network create makes them {}.
		ipam.Options = nil
	}
	if n.Default {
		ipam.Options = nil
		options = map[string]string{
			"com.docker.network.bridge.default_bridge":       "true",
			"com.docker.network.bridge.enable_icc":           "true",
			"com.docker.network.bridge.enable_ip_masquerade": "true",
			"com.docker.network.bridge.host_binding_ipv4":    "0.0.0.0",
			"com.docker.network.bridge.name":                 n.Bridge,
			"com.docker.network.driver.mtu":                  fmt.Sprint(n.MTU),
		}
	}
	var peers []api.PeerInfo
	if n.Driver == driverOverlay {
		peers = d.overlayPeers(n)
	}
	return api.NetworkResource{
		Peers:      peers,
		Attachable: n.Attachable,
		Name:       n.Name,
		ID:         n.ID,
		Created:    n.Created,
		Scope:      n.scope(),
		Driver:     n.Driver,
		IPAM:       ipam,
		Internal:   n.Internal,
		Containers: containers,
		Options:    options,
		Labels:     map[string]string{},
	}
}

// naturalLess orders names as docker network ls does: runs of digits
// compare as numbers, so net2 sorts before net10.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitPrefix(a), digitPrefix(b)
		if da != "" && db != "" {
			na, nb := strings.TrimLeft(da, "0"), strings.TrimLeft(db, "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitPrefix(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}
