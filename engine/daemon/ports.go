package daemon

import (
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/firewall"
	"github.com/nslab/nslab/engine/labhost"
	"github.com/nslab/nslab/engine/portmap"
)

// checkPorts parses and validates a run's -p, -P and --expose, as Docker
// does, before anything is created. Call with d.mu held.
func (d *Daemon) checkPorts(c *Container, o api.RunOptions) error {
	var bs []portmap.Binding
	for _, spec := range o.Publish {
		b, err := portmap.Parse(spec)
		if err != nil {
			return err
		}
		bs = append(bs, b)
	}
	for _, spec := range o.Expose {
		b, err := portmap.ParseExposed(spec)
		if err != nil {
			return err
		}
		c.Exposed = append(c.Exposed, b)
	}
	for _, b := range bs {
		c.Exposed = append(c.Exposed, portmap.Binding{Proto: b.Proto, ContainerPort: b.ContainerPort})
	}
	c.Exposed = portmap.Dedup(c.Exposed)
	if o.PublishAll {
		// -P publishes the exposed ports that no -p binds already, as
		// Docker does: -p 127.0.0.1:8081:80 keeps 80/tcp off 0.0.0.0.
		bound := map[string]bool{}
		for _, b := range bs {
			bound[b.Key()] = true
		}
		for _, e := range c.Exposed {
			if !bound[e.Key()] {
				e.HostIP = netip.IPv4Unspecified()
				bs = append(bs, e)
			}
		}
	}
	bs = portmap.Dedup(bs)
	if len(bs) == 0 {
		return nil
	}
	switch {
	case strings.HasPrefix(c.NetworkMode, "container:"):
		return errors.New("conflicting options: port publishing and the container type network mode")
	case c.NetworkMode == "host", c.NetworkMode == "none":
		// Docker accepts the flags and ignores them, with a warning.
		c.warnings = append(c.warnings, fmt.Sprintf("Published ports are discarded when using %s network mode", c.NetworkMode))
		return nil
	}
	// A host port already allocated is found when the container starts,
	// as Docker finds it: the container stays, Created.
	c.Bindings = bs
	return nil
}

// publish allocates host ports, starts a docker-proxy for each (and for
// its [::] twin), and adds the DNAT and ACCEPT rules in one transaction.
// On failure nothing is left. Call with d.mu held, after the container's
// first endpoint exists.
func (d *Daemon) publish(c *Container) (err error) {
	ep := d.portEndpoint(c)
	if ep == nil {
		return nil
	}
	n := d.networks[ep.NetworkID]
	if n.Driver == driverMacvlan {
		// As Docker's macvlan driver: nothing to map, the container
		// has an address of its own on the parent's LAN. -p is kept in
		// the container's configuration and otherwise ignored.
		return nil
	}
	active, err := d.ports.Allocate(c.Bindings)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			for _, p := range c.proxies {
				p.Close()
			}
			c.proxies = nil
			d.ports.Release(active)
		}
	}()
	path, err := proxyPath()
	if err != nil {
		return err
	}
	var ports []portmap.Binding
	for _, b := range active {
		bs := []portmap.Binding{b}
		if b.HostIP == netip.IPv4Unspecified() && v6Listenable() {
			// Docker (20.10.3 on) also binds [::] for a binding without
			// an address when the host can listen on IPv6: a second
			// docker-proxy, to the container's IPv4 address.
			b6 := b
			b6.HostIP = netip.IPv6Unspecified()
			bs = append(bs, b6)
		}
		ports = append(ports, bs...)
	}
	ps, err := portmap.StartProxies(path, ports, ep.Addr.Addr())
	if err != nil {
		return err
	}
	c.proxies = ps
	if err := firewall.AddPorts(fwPorts(ports, ep.Addr.Addr(), n.Bridge)); err != nil {
		return err
	}
	c.Ports = ports
	return nil
}

var (
	v6Once sync.Once
	v6OK   bool
)

// v6Listenable is Docker's IsV6Listenable: whether the lab host can listen
// on [::1]. Containers have no IPv6, but the lab host itself does.
func v6Listenable() bool {
	v6Once.Do(func() {
		if l, err := net.Listen("tcp6", "[::1]:0"); err == nil {
			l.Close()
			v6OK = true
		}
	})
	return v6OK
}

// portEndpoint is the endpoint a container's published ports lead to:
// its first, or, when that is on an overlay network, its endpoint on
// docker_gwbridge, as in Docker (nil on an internal overlay network,
// which has none). Call with d.mu held.
func (d *Daemon) portEndpoint(c *Container) *Endpoint {
	if len(c.Endpoints) == 0 {
		return nil
	}
	if c.Endpoints[0].OverlayNS != "" {
		return d.gatewayEndpoint(c)
	}
	return c.Endpoints[0]
}

// unpublish removes a container's port rules in one transaction, stops its
// proxies and frees its host ports. Call with d.mu held.
func (d *Daemon) unpublish(c *Container) {
	if ep := d.portEndpoint(c); len(c.Ports) > 0 && ep != nil {
		if n, ok := d.networks[ep.NetworkID]; ok {
			if err := firewall.RemovePorts(fwPorts(c.Ports, ep.Addr.Addr(), n.Bridge)); err != nil {
				log.Printf("container %s: %v", c.Name, err)
			}
		}
	}
	for _, p := range c.proxies {
		p.Close()
	}
	c.proxies = nil
	d.ports.Release(c.Ports)
	c.Ports = nil
}

var (
	proxyOnce sync.Once
	proxyExe  string
	proxyErr  error
)

// proxyPath is the docker-proxy the daemon runs for each binding: a link
// named docker-proxy to nslab's own binary, in the lab host's bin
// directory (on its PATH, as /usr/bin/docker-proxy is on Docker's host).
// The kernel names a process after the file it executes, so ps, ss -ltnp
// and netstat -ltnp show "docker-proxy".
func proxyPath() (string, error) {
	proxyOnce.Do(func() {
		link := filepath.Join(labhost.BinDir, portmap.ProxyName)
		if _, err := os.Stat(link); err == nil {
			proxyExe = link
			return
		}
		exe, err := os.Executable()
		if err != nil {
			proxyErr = fmt.Errorf("find nslab's binary for %s: %w", portmap.ProxyName, err)
			return
		}
		if err := os.Symlink(exe, link); err != nil && !errors.Is(err, os.ErrExist) {
			proxyErr = fmt.Errorf("link %s to %s: %w", link, exe, err)
			return
		}
		proxyExe = link
	})
	return proxyExe, proxyErr
}

// fwPorts are the iptables rules of a container's bindings: IPv4 only, as
// in Docker without ip6tables; the [::] bindings have their proxy alone.
func fwPorts(bs []portmap.Binding, ip netip.Addr, bridge string) []firewall.Port {
	var out []firewall.Port
	for _, b := range bs {
		if b.HostIP.Is4() {
			out = append(out, firewall.Port{Proto: b.Proto, HostIP: b.HostIP, HostPort: b.HostPort, ContainerIP: ip, ContainerPort: b.ContainerPort, Bridge: bridge})
		}
	}
	return out
}

func portsColumn(c *Container) string {
	var parts []string
	for _, b := range c.Ports {
		parts = append(parts, b.String())
	}
	if len(parts) == 0 {
		for _, e := range c.Exposed {
			parts = append(parts, e.Key())
		}
	}
	return strings.Join(parts, ", ")
}

// exposedJSON is Config.ExposedPorts: the image's and --expose's ports.
func exposedJSON(c *Container) map[string]struct{} {
	out := map[string]struct{}{}
	for _, e := range c.Exposed {
		out[e.Key()] = struct{}{}
	}
	return out
}

// portsJSON is NetworkSettings.Ports: each exposed port, with its host
// bindings while the container runs, or null.
func portsJSON(c *Container) api.PortMap {
	out := api.PortMap{}
	for _, e := range c.Exposed {
		out[e.Key()] = nil
	}
	for _, b := range c.Ports {
		out[b.Key()] = append(out[b.Key()], api.PortBinding{HostIP: b.HostIP.String(), HostPort: fmt.Sprint(b.HostPort)})
	}
	return out
}

// portBindingsJSON is HostConfig.PortBindings: what was asked for.
func portBindingsJSON(c *Container) api.PortMap {
	out := api.PortMap{}
	for _, b := range c.Bindings {
		hp := ""
		if b.HostPort != 0 {
			hp = fmt.Sprint(b.HostPort)
		}
		ip := b.HostIP.String()
		if b.HostIP.IsUnspecified() {
			ip = ""
		}
		out[b.Key()] = append(out[b.Key()], api.PortBinding{HostIP: ip, HostPort: hp})
	}
	return out
}

// handlePort lists a container's published ports.
func (d *Daemon) handlePort(req api.PortRequest) ([]portmap.Binding, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.container(req.Container)
	if err != nil {
		return nil, err
	}
	return c.Ports, nil
}
