package labhost

import (
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/nslab/nslab/engine/netns"
	"github.com/vishvananda/netlink"
)

// buildOutside creates the simulated outside: a namespace pinned at
// OutsideNetNS, wired to the lab host's eth0 by a veth, with the lab host's
// gateway and the outside's servers' addresses on it.
func buildOutside() error {
	lh, err := netlink.NewHandle()
	if err != nil {
		return fmt.Errorf("netlink handle: %w", err)
	}
	defer lh.Close()
	if lo, err := lh.LinkByName("lo"); err == nil {
		if err := lh.LinkSetUp(lo); err != nil {
			return fmt.Errorf("set lab host lo up: %w", err)
		}
	}
	if err := netns.Create(OutsideNetNS); err != nil {
		return err
	}
	ons, err := netns.Open(OutsideNetNS)
	if err != nil {
		return err
	}
	defer ons.Close()
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: UplinkName, MTU: 1500},
		PeerName:      OutsideLink,
		PeerNamespace: netlink.NsFd(int(ons)),
	}
	if err := lh.LinkAdd(veth); err != nil {
		return fmt.Errorf("create uplink %s: %w", UplinkName, err)
	}
	up, err := lh.LinkByName(UplinkName)
	if err != nil {
		return err
	}
	if err := lh.AddrAdd(up, &netlink.Addr{IPNet: ipnet(UplinkAddr)}); err != nil {
		return fmt.Errorf("address uplink: %w", err)
	}
	if err := lh.LinkSetUp(up); err != nil {
		return err
	}
	if err := lh.RouteAdd(&netlink.Route{LinkIndex: up.Attrs().Index, Gw: OutsideAddr.Addr().AsSlice()}); err != nil {
		return fmt.Errorf("default route via %s: %w", OutsideAddr.Addr(), err)
	}

	oh, err := netns.HandleIn(ons)
	if err != nil {
		return err
	}
	defer oh.Close()
	wan, err := oh.LinkByName(OutsideLink)
	if err != nil {
		return err
	}
	if err := oh.AddrAdd(wan, &netlink.Addr{IPNet: ipnet(OutsideAddr)}); err != nil {
		return fmt.Errorf("address %s: %w", OutsideLink, err)
	}
	if err := oh.LinkSetUp(wan); err != nil {
		return err
	}
	lo, err := oh.LinkByName("lo")
	if err != nil {
		return err
	}
	for _, a := range []netip.Addr{UpstreamDNS, OutsideWeb} {
		if err := oh.AddrAdd(lo, &netlink.Addr{IPNet: ipnet(netip.PrefixFrom(a, 32))}); err != nil {
			return fmt.Errorf("add %s to outside lo: %w", a, err)
		}
	}
	if err := oh.LinkSetUp(lo); err != nil {
		return err
	}
	// The outside answers only the lab host's uplink subnet; traffic from
	// containers reaches it through the lab host's NAT, as a real ISP sees
	// only a home router's address.
	return nil
}

// SetSysctl writes a sysctl of the calling thread's namespaces, for example
// "net/ipv4/ip_forward".
func SetSysctl(key, value string) error {
	if err := os.WriteFile("/proc/sys/"+key, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
	}
	return nil
}

func ipnet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}
}
