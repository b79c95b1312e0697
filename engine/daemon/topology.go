package daemon

import (
	"sort"
	"strings"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/labhost"
	"github.com/nslab/nslab/engine/overlay"
)

// handleTopology is the lab host's state, for pictures.
func (d *Daemon) handleTopology(api.TopologyRequest) (api.Topology, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := api.Topology{
		Uplink: labhost.UplinkName, UplinkAddr: labhost.UplinkAddr.String(),
		OutsideLink: labhost.OutsideLink, OutsideAddr: labhost.OutsideAddr.String(),
		UpstreamDNS: labhost.UpstreamDNS.String(), OutsideWeb: labhost.OutsideWeb.String(),
	}
	for _, n := range d.networks {
		switch n.Driver {
		case driverBridge:
			t.Networks = append(t.Networks, api.TopoNetwork{Name: n.Name, Bridge: n.Bridge, Subnet: n.Subnet.String(), Gateway: n.Gateway.String(), Internal: n.Internal})
		case driverOverlay:
			if d.localEndpoints(n.ID) == 0 {
				continue // no namespace on this node
			}
			t.Networks = append(t.Networks, api.TopoNetwork{Name: n.Name, Driver: n.Driver, Bridge: overlay.Bridge, VNI: n.VNI, Namespace: overlay.NamespaceName(n.ID), Subnet: n.Subnet.String(), Gateway: n.Gateway.String(), Internal: n.Internal})
		case driverMacvlan:
			t.Networks = append(t.Networks, api.TopoNetwork{Name: n.Name, Driver: n.Driver, Parent: n.Parent, Mode: n.macvlanMode(), Subnet: n.Subnet.String(), Gateway: n.Gateway.String(), Internal: n.Internal})
		}
	}
	sort.Slice(t.Networks, func(i, j int) bool { return naturalLess(t.Networks[i].Name, t.Networks[j].Name) })
	for _, c := range d.containers {
		if !c.running() {
			continue
		}
		tc := api.TopoContainer{Name: c.Name, ShortID: c.ID[:12], NetworkMode: c.NetworkMode}
		if strings.HasPrefix(c.NetworkMode, "container:") {
			if x, err := d.container(strings.TrimPrefix(c.NetworkMode, "container:")); err == nil {
				tc.NetworkMode = "container:" + x.Name
			}
		}
		for _, ep := range c.Endpoints {
			br := ""
			if n, ok := d.networks[ep.NetworkID]; ok {
				br = n.Bridge
				if n.Driver == driverOverlay {
					br = "overlay:" + n.Name
				}
			}
			tc.Endpoints = append(tc.Endpoints, api.TopoEndpoint{Network: ep.Network, Bridge: br, HostVeth: ep.HostVeth, IfName: ep.IfName, Addr: ep.Addr.String(), MAC: ep.MAC})
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
