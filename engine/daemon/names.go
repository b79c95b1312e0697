// Names and DNS view: finding a container by name or ID, Docker-style
// random names, and what the container's embedded DNS server answers. Call
// with d.mu held, except where a function says otherwise.

package daemon

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"

	edns "github.com/nslab/nslab/engine/dns"

	"github.com/nslab/nslab/engine/container"
	"github.com/nslab/nslab/engine/firewall"
)

var validName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`) })

// container finds a container by name, full ID or unique ID prefix. Call
// with d.mu held.
func (d *Daemon) container(ref string) (*Container, error) {
	ref = strings.TrimPrefix(ref, "/")
	if ref == "" {
		return nil, errors.New("no container name given")
	}
	for _, c := range d.containers {
		if c.Name == ref || c.ID == ref {
			return c, nil
		}
	}
	var found *Container
	for _, c := range d.containers {
		if strings.HasPrefix(c.ID, ref) {
			if found != nil {
				return nil, fmt.Errorf("multiple IDs found with provided prefix: %s", ref)
			}
			found = c
		}
	}
	if found == nil {
		return nil, fmt.Errorf("No such container: %s", ref)
	}
	return found, nil
}

var adjectives = strings.Fields("admiring brave clever dazzling eager festive gallant happy jolly keen loving modest nifty peaceful quirky relaxed serene tender upbeat vibrant wizardly youthful zealous")

var surnames = strings.Fields("babbage bohr cerf curie dijkstra euler faraday hopper kahn lamarr liskov lovelace mccarthy noether pike postel ritchie shannon thompson torvalds turing wozniak")

func (d *Daemon) randomName() string {
	for i := 0; ; i++ {
		b := []byte(container.NewID())
		n := adjectives[int(b[0])%len(adjectives)] + "_" + surnames[int(b[1])%len(surnames)]
		if i > 20 {
			n += "_" + string(b[2:4])
		}
		if _, err := d.container(n); err != nil {
			return n
		}
	}
}

// ensureResolver starts the container's embedded DNS server on its first
// user-defined network: sockets on 127.0.0.11 in its netns, Docker's NAT
// rules there, and resolv.conf pointing at 127.0.0.11. Call with d.mu held.
func (d *Daemon) ensureResolver(c *Container) error {
	if c.resolver != nil {
		return nil
	}
	r := edns.NewResolver(edns.View{T: d.dns, Networks: func() []string { return *c.dnsNets.Load() }}, d.upstreamFor(c), c.external.Load)
	if err := r.StartIn(c.SandboxKey); err != nil {
		return err
	}
	if err := firewall.RestoreIn(c.SandboxKey, firewall.ResolverRules(r.UDPPort, r.TCPPort)); err != nil {
		r.Close()
		return fmt.Errorf("embedded DNS rules: %w", err)
	}
	c.resolver = r
	if c.running() {
		if err := os.WriteFile(c.file("resolv.conf"), []byte(d.resolvConf(c)), 0o644); err != nil {
			return fmt.Errorf("rewrite resolv.conf for the embedded DNS server: %w", err)
		}
	}
	return nil
}

// updateDNSView publishes the container's user-defined networks, in the
// order it joined them, to its resolver. Call with d.mu held.
func (d *Daemon) updateDNSView(c *Container) {
	var nets []string
	external := false
	for _, ep := range c.Endpoints {
		if n, ok := d.networks[ep.NetworkID]; ok {
			if n.userDefined() {
				nets = append(nets, n.Name)
			}
			external = external || !n.Internal
		}
	}
	c.dnsNets.Store(&nets)
	c.external.Store(external)
}

// resolvConf is the container's resolv.conf: the embedded server's form
// once it has one, else the lab host's file without loopback servers.
func (d *Daemon) resolvConf(c *Container) string {
	host, _ := os.ReadFile("/etc/resolv.conf")
	if s, ok := customResolvConf(c, string(host), c.resolver != nil); ok {
		return s
	}
	if c.resolver != nil {
		return container.InternalResolvConf(string(host))
	}
	return container.LegacyResolvConf(string(host))
}
