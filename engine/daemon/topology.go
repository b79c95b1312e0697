package daemon

import (
	"sort"
	"strings"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/labhost"
)

// Topology is the lab host's current state, for pictures.
type Topology struct {
	Uplink, UplinkAddr, OutsideLink, OutsideAddr, UpstreamDNS, OutsideWeb string
	Networks                                                              []TopoNetwork
	Containers                                                            []TopoContainer
}

// TopoNetwork is a bridge network.
type TopoNetwork struct {
	Name, Bridge, Subnet, Gateway string
	Internal                      bool
}

// TopoContainer is a running container.
type TopoContainer struct {
	Name, ShortID, NetworkMode string
	Endpoints                  []TopoEndpoint
	ResolverUDP, ResolverTCP   int
	Ports                      []string
}

// TopoEndpoint is one veth pair: HostVeth on Bridge, IfName inside.
type TopoEndpoint struct {
	Network, Bridge, HostVeth, IfName, Addr, MAC string
}

func init() {
	handlers["topology"] = func(d *Daemon, s *api.ServerConn) (any, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		t := Topology{
			Uplink: labhost.UplinkName, UplinkAddr: labhost.UplinkAddr.String(),
			OutsideLink: labhost.OutsideLink, OutsideAddr: labhost.OutsideAddr.String(),
			UpstreamDNS: labhost.UpstreamDNS.String(), OutsideWeb: labhost.OutsideWeb.String(),
		}
		for _, n := range d.networks {
			if n.Driver == "bridge" {
				t.Networks = append(t.Networks, TopoNetwork{n.Name, n.Bridge, n.Subnet.String(), n.Gateway.String(), n.Internal})
			}
		}
		sort.Slice(t.Networks, func(i, j int) bool { return naturalLess(t.Networks[i].Name, t.Networks[j].Name) })
		for _, c := range d.containers {
			if !c.running() {
				continue
			}
			tc := TopoContainer{Name: c.Name, ShortID: c.ID[:12], NetworkMode: c.NetworkMode}
			if strings.HasPrefix(c.NetworkMode, "container:") {
				if x, err := d.container(strings.TrimPrefix(c.NetworkMode, "container:")); err == nil {
					tc.NetworkMode = "container:" + x.Name
				}
			}
			for _, ep := range c.Endpoints {
				br := ""
				if n, ok := d.networks[ep.NetworkID]; ok {
					br = n.Bridge
				}
				tc.Endpoints = append(tc.Endpoints, TopoEndpoint{ep.Network, br, ep.HostVeth, ep.IfName, ep.Addr.String(), ep.MAC})
			}
			if c.resolver != nil {
				tc.ResolverUDP, tc.ResolverTCP = c.resolver.UDPPort, c.resolver.TCPPort
			}
			for _, p := range c.Ports {
				tc.Ports = append(tc.Ports, p.String())
			}
			t.Containers = append(t.Containers, tc)
		}
		sort.Slice(t.Containers, func(i, j int) bool { return t.Containers[i].Name < t.Containers[j].Name })
		return t, nil
	}
}
