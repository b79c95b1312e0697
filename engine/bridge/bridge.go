// Package bridge is the bridge network driver: a Linux bridge in the lab host
// with the gateway address on it, and one veth pair per container endpoint.
//
// It makes Docker's choices of the notes' era: host-side veth names are
// "veth" plus 7 hex digits, the container side is created directly inside the
// container's namespace as eth0 (nslab's prototype measured this at about a
// tenth of the cost of creating it in the host and moving it), and a
// container's MAC is 02:42 followed by its IPv4 address.
package bridge

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/nslab/nslab/engine/netns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// MaxPorts is the kernel's limit on ports per bridge (BR_MAX_PORTS is 1024,
// port 0 is reserved), the "exchange full" error Docker users meet.
const MaxPorts = 1023

// Ensure returns the bridge called name, creating it if it does not exist,
// with gw (for example 172.17.0.1/16) as its address and the given MTU. As
// Docker does, the link is set up last. An existing bridge is left as it is.
func Ensure(h *netlink.Handle, name string, gw netip.Prefix, mtu int) (netlink.Link, error) {
	if l, err := h.LinkByName(name); err == nil {
		if l.Type() != "bridge" {
			return nil, fmt.Errorf("link %q exists but is a %s, not a bridge", name, l.Type())
		}
		return l, nil
	}
	mac := make(net.HardwareAddr, 6)
	mac[0], mac[1] = 0x02, 0x42
	rand.Read(mac[2:])
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, HardwareAddr: mac, MTU: mtu, TxQLen: 0}}
	if err := h.LinkAdd(br); err != nil {
		return nil, fmt.Errorf("create bridge %q: %w", name, err)
	}
	l, err := h.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("find new bridge %q: %w", name, err)
	}
	sawIndex(l.Attrs().Index)
	addr := &netlink.Addr{IPNet: prefixToIPNet(gw)}
	if err := h.AddrAdd(l, addr); err != nil {
		h.LinkDel(l)
		return nil, fmt.Errorf("add %s to bridge %q: %w", gw, name, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		h.LinkDel(l)
		return nil, fmt.Errorf("set bridge %q up: %w", name, err)
	}
	return l, nil
}

// Delete removes the bridge in a single link deletion, so the kernel itself
// emits the event sequence that `ip monitor` shows for `docker network rm`.
// A missing bridge is not an error.
func Delete(h *netlink.Handle, name string) error { return deleteLink(h, name) }

// Endpoint describes one container interface on a bridge.
type Endpoint struct {
	HostVeth string       // host-side name, vethXXXXXXX; empty: Attach picks one
	IfName   string       // container-side name, eth0, eth1, ...
	Addr     netip.Prefix // container address with the network's prefix length
	Gateway  netip.Addr   // default route; invalid means no default route
	MTU      int
	MAC      net.HardwareAddr // --mac-address; nil: MAC(Addr), Docker's
}

// Attach wires the namespace pinned at nsPath to bridge br: it creates the
// veth pair with the peer born inside the namespace, sets the MAC, address
// and default route there, and brings both ends and the namespace's lo up,
// returning once the kernel can carry the endpoint's first frame
// (netns.WaitUp).
// It returns the host-side veth's name: ep.HostVeth, or, when that is empty,
// a fresh VethName, drawn again if the name is taken (as the CNI plugins
// do). eth0 and the host veth get adjacent interface indices (see
// ifindex.go); h must be a handle on the calling thread's own network
// namespace, where the veth is created. On failure nothing is left behind.
func Attach(h *netlink.Handle, br netlink.Link, nsPath string, ep Endpoint) (string, error) {
	if br.Attrs().MTU > 0 && ep.MTU == 0 {
		ep.MTU = br.Attrs().MTU
	}
	ns, err := netns.Open(nsPath)
	if err != nil {
		return "", err
	}
	defer ns.Close()
	ch, err := netns.HandleIn(ns)
	if err != nil {
		return "", fmt.Errorf("netlink handle in %s: %w", nsPath, err)
	}
	defer ch.Close()
	pick := ep.HostVeth == ""
	if pick {
		ep.HostVeth = drawVethName()
	}
	var peerIdx, hostIdx int
	for try, names := 0, 1; ; try++ {
		if peerIdx, hostIdx, err = nextPair(h); err != nil {
			return "", err
		}
		mac := ep.MAC
		if mac == nil {
			mac = MAC(ep.Addr.Addr())
		}
		err = addVeth(ep.HostVeth, br.Attrs().Index, ep.MTU, ep.IfName, mac, ns, hostIdx, peerIdx)
		if err == nil {
			break
		}
		if try < indexTries-1 {
			// EBUSY: the peer's index is taken in the container's
			// namespace. EEXIST: the host end's index or name is
			// taken in the host, or the peer's name in the container.
			if errors.Is(err, unix.EBUSY) {
				continue // the counter has moved on already
			}
			if errors.Is(err, unix.EEXIST) && !peerExists(ch, ep.IfName) {
				if _, lerr := h.LinkByName(ep.HostVeth); lerr != nil {
					resync(h)
					continue
				}
				if pick && names < vethNameTries {
					ep.HostVeth = drawVethName()
					names++
					continue
				}
			}
		}
		if errors.Is(err, unix.EXFULL) {
			return "", fmt.Errorf("attach %s to bridge %q: the bridge already has %d ports, the kernel's limit: %w", ep.HostVeth, br.Attrs().Name, MaxPorts, err)
		}
		return "", fmt.Errorf("create veth %s (peer %s in %s): %w", ep.HostVeth, ep.IfName, nsPath, err)
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: ep.HostVeth, Index: hostIdx}}
	if err := netns.ConfigureLink(ch, ep.IfName, ep.Addr, ep.Gateway); err != nil {
		h.LinkDel(veth)
		return "", err
	}
	if err := h.LinkSetUp(veth); err != nil {
		h.LinkDel(veth)
		return "", fmt.Errorf("set %s up: %w", ep.HostVeth, err)
	}
	if err := netns.WaitUp(ch, ep.IfName, h, ep.HostVeth, br.Attrs().Name); err != nil {
		h.LinkDel(veth)
		return "", fmt.Errorf("attach %s to bridge %q: %w", ep.HostVeth, br.Attrs().Name, err)
	}
	return ep.HostVeth, nil
}

// drawVethName is VethName; a test makes it draw a taken name first.
var drawVethName = VethName

// indexTries bounds the attempts at one pair of indices and name.
const indexTries = 16

// vethNameTries bounds the redraws of a clashing host-side name; with 2^28
// names, a second clash in a row means something else is wrong.
const vethNameTries = 5

// peerExists tells a clash of the container-side name (which a new host
// name cannot fix) from a clash of the host-side one.
func peerExists(ch *netlink.Handle, name string) bool {
	_, err := ch.LinkByName(name)
	return err == nil
}

// Detach deletes the host end of an endpoint's veth; the kernel removes the
// peer with it. A missing veth is not an error.
func Detach(h *netlink.Handle, hostVeth string) error { return deleteLink(h, hostVeth) }

func deleteLink(h *netlink.Handle, name string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("find link %q: %w", name, err)
	}
	if err := h.LinkDel(l); err != nil {
		return fmt.Errorf("delete link %q: %w", name, err)
	}
	return nil
}

// VethName returns a host-side veth name in Docker's format: "veth" and
// seven hex digits, 11 characters in all.
func VethName() string {
	b := make([]byte, 4)
	rand.Read(b)
	return "veth" + hex.EncodeToString(b)[:7]
}

// MAC returns Docker's (pre-v28) MAC for an IPv4 address: 02:42 followed by
// the four address bytes, so 172.17.0.2 becomes 02:42:ac:11:00:02.
func MAC(ip netip.Addr) net.HardwareAddr {
	b := ip.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}
}
