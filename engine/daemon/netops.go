package daemon

import (
	"errors"
	"fmt"
	"log"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/bridge"
	"github.com/nslab/nslab/engine/container"
	"github.com/nslab/nslab/engine/firewall"
	"github.com/nslab/nslab/engine/ipam"
)

const optBridgeName = "com.docker.network.bridge.name"

// handleNetworkCreate creates a bridge network.
func (d *Daemon) handleNetworkCreate(req api.NetworkCreate) (api.NetworkCreateResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, err := d.createNetwork(req)
	if err != nil {
		return api.NetworkCreateResponse{}, err
	}
	d.stateChanged()
	return api.NetworkCreateResponse{ID: n.ID}, nil
}

// handleNetworkRm removes each named network.
func (d *Daemon) handleNetworkRm(req api.NetworkRmRequest) ([]string, error) {
	return eachName(req.Names, func(ref string) error {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.stateChanged()
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
			return fmt.Errorf("container %s is not connected to network %s", c.ID[:12], n.Name)
		}
		d.detach(c, ep)
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
	d.stateChanged()
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
	if n.Driver != "bridge" {
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

// createNetwork validates a network create and builds the bridge. On any
// error nothing has changed. Call with d.mu held.
func (d *Daemon) createNetwork(req api.NetworkCreate) (*Network, error) {
	if req.Name == "" {
		return nil, errors.New("a network needs a name")
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
		ID: container.NewID(), Name: req.Name, Driver: "bridge", Created: time.Now(),
		Internal: req.Internal, Options: map[string]string{}, OwnBridge: true,
	}
	for k, v := range req.Options {
		switch k {
		case optBridgeName, "com.docker.network.bridge.enable_icc", "com.docker.network.bridge.enable_ip_masquerade":
			n.Options[k] = v
		default:
			return nil, fmt.Errorf("unknown network option %q (nslab knows %s, enable_icc and enable_ip_masquerade)", k, optBridgeName)
		}
	}
	if req.Subnet != "" {
		p, err := ipam.RequestSubnet(req.Subnet, used)
		if err != nil {
			return nil, err
		}
		n.Subnet, n.UserSubnet = p, true
	} else {
		if req.Gateway != "" {
			return nil, errors.New("--gateway needs --subnet: a gateway only makes sense inside a subnet you chose")
		}
		p, err := ipam.PickSubnet(used)
		if err != nil {
			return nil, err
		}
		n.Subnet = p
	}
	pool, err := ipam.NewPool(n.Subnet)
	if err != nil {
		return nil, err
	}
	if req.Gateway != "" {
		gw, err := netip.ParseAddr(req.Gateway)
		if err != nil || !gw.Is4() {
			return nil, fmt.Errorf("invalid gateway %q: want an IPv4 address", req.Gateway)
		}
		if !n.Subnet.Contains(gw) {
			return nil, fmt.Errorf("invalid gateway %s: it is outside subnet %s", gw, n.Subnet)
		}
		if err := pool.Reserve(gw); err != nil {
			return nil, fmt.Errorf("invalid gateway: %w", err)
		}
		n.Gateway = gw
	} else if n.Gateway, err = pool.Allocate(); err != nil {
		return nil, err
	}
	n.pool = pool
	n.Bridge = "br-" + n.ID[:12]
	if name, ok := n.Options[optBridgeName]; ok {
		if name == "" || len(name) > 15 || strings.ContainsAny(name, "/ \t") {
			return nil, fmt.Errorf("invalid bridge name %q: a Linux interface name has 1 to 15 characters, without '/' or spaces", name)
		}
		for _, o := range d.networks {
			if o.Bridge == name {
				return nil, fmt.Errorf("bridge name %s is already used by network %s", name, o.Name)
			}
		}
		n.Bridge = name
		if _, err := d.nl.LinkByName(name); err == nil {
			n.OwnBridge = false
		}
	}
	if n.link, err = bridge.Ensure(d.nl, n.Bridge, netip.PrefixFrom(n.Gateway, n.Subnet.Bits()), 0); err != nil {
		return nil, err
	}
	if err := firewall.AddNetwork(n.firewall()); err != nil {
		if n.OwnBridge {
			bridge.Delete(d.nl, n.Bridge)
		}
		return nil, err
	}
	d.networks[n.ID] = n
	return n, nil
}

// firewall is what the firewall needs to know of n.
func (n *Network) firewall() firewall.Network {
	return firewall.Network{
		Bridge:     n.Bridge,
		Subnet:     n.Subnet,
		ICC:        n.Options["com.docker.network.bridge.enable_icc"] != "false",
		Masquerade: n.Options["com.docker.network.bridge.enable_ip_masquerade"] != "false",
		Internal:   n.Internal,
	}
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
	var users []string
	for _, c := range d.containers {
		for _, ep := range c.Endpoints {
			if ep.NetworkID == n.ID {
				users = append(users, c.Name)
			}
		}
	}
	if len(users) > 0 {
		return fmt.Errorf("error while removing network: network %s id %s has active endpoints (%s)", n.Name, n.ID, strings.Join(users, ", "))
	}
	if n.OwnBridge {
		if err := bridge.Delete(d.nl, n.Bridge); err != nil {
			return err
		}
	}
	if err := firewall.RemoveNetwork(n.firewall()); err != nil {
		return err
	}
	delete(d.networks, n.ID)
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
	if err := os.WriteFile(c.file("hosts"), []byte(container.HostsFile(c.Hostname, addrs)), 0o644); err != nil {
		log.Printf("container %s: %v", c.Name, err)
	}
}
