// Package macvlan is the macvlan network driver: each container endpoint is
// a macvlan link on a parent interface of the lab host (its eth0, the lab
// host's "LAN" to the outside), with a MAC of its own. The container sits
// on the parent's segment as one more machine: the outside reaches it at
// its own address, with no bridge, NAT, docker-proxy or iptables rule in
// between.
//
// Why the lab host cannot reach its own macvlan containers: in bridge mode
// the kernel switches frames between the macvlan links of one parent, but
// the parent itself is not one of them. A frame the lab host sends to a
// child's MAC goes out on the parent's wire, and a frame that arrives on the
// wire for a child goes to the child without passing the lab host's stack.
// The lab host's packets come back only if something on the wire sends them
// back, which no switch does through the port it learned them on. The
// usual way round is a macvlan link of the host's own on the same parent.
//
// The choices are Docker's (libnetwork's macvlan driver): mode bridge unless
// -o macvlan_mode says otherwise, one network per parent, a parent
// "eth0.10" made as an 802.1q link when it does not exist (and deleted with
// the network), a dummy link "dm-" plus twelve hex digits of the network's
// ID when no parent is given, and the container's MAC 02:42 followed by its
// address. Links are created directly inside the container's namespace,
// named eth0 there, as the bridge driver does with its veth peers.
package macvlan

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/nslab/nslab/engine/netns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// DefaultMode is the macvlan mode of a network without -o macvlan_mode.
const DefaultMode = "bridge"

var modes = map[string]netlink.MacvlanMode{
	"bridge":   netlink.MACVLAN_MODE_BRIDGE,
	"private":  netlink.MACVLAN_MODE_PRIVATE,
	"vepa":     netlink.MACVLAN_MODE_VEPA,
	"passthru": netlink.MACVLAN_MODE_PASSTHRU,
}

// CheckMode refuses a macvlan_mode the kernel does not have, with Docker's
// message.
func CheckMode(mode string) error {
	if _, ok := modes[mode]; !ok {
		return fmt.Errorf("requested macvlan mode '%s' is not valid, '%s' mode is the macvlan driver default", mode, DefaultMode)
	}
	return nil
}

// EnsureParent returns the parent link a macvlan network named by netID
// uses, creating it when Docker would: an 802.1q link for a missing
// "NAME.VLAN", a dummy link "dm-<id>" when parent is empty. made says
// whether it created the link, which is then the network's to delete. The
// errors are Docker's, with the kernel's own where it refuses a link type.
func EnsureParent(h *netlink.Handle, parent, netID string) (l netlink.Link, made bool, err error) {
	if parent == "" {
		name := DummyName(netID)
		if err := h.LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
			return nil, false, fmt.Errorf("no -o parent was given, so the network needs a dummy link %s as its parent, and the kernel refused it: %w", name, err)
		}
		return up(h, name)
	}
	if l, err := h.LinkByName(parent); err == nil {
		if l.Attrs().Flags&net.FlagLoopback != 0 {
			return nil, false, errors.New("loopback interface is not a valid macvlan parent link")
		}
		return l, false, nil
	}
	master, vid, ok := strings.Cut(parent, ".")
	if !ok {
		return nil, false, fmt.Errorf("invalid subinterface vlan name %s, example formatting is eth0.10", parent)
	}
	id, err := strconv.Atoi(vid)
	if err != nil || id < 1 || id > 4094 {
		return nil, false, fmt.Errorf("vlan id must be between 1-4094, received: %s", vid)
	}
	m, err := h.LinkByName(master)
	if err != nil {
		return nil, false, fmt.Errorf("-o parent interface was not found on the host: %s", master)
	}
	vl := &netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: parent, ParentIndex: m.Attrs().Index}, VlanId: id}
	if err := h.LinkAdd(vl); err != nil {
		return nil, false, fmt.Errorf("failed to create %s vlan link: %w", parent, err)
	}
	return up(h, parent)
}

func up(h *netlink.Handle, name string) (netlink.Link, bool, error) {
	l, err := h.LinkByName(name)
	if err == nil {
		err = h.LinkSetUp(l)
	}
	if err != nil {
		DeleteParent(h, name)
		return nil, false, fmt.Errorf("set parent %s up: %w", name, err)
	}
	return l, true, nil
}

// DummyName is the parent Docker makes for a macvlan network without one.
func DummyName(netID string) string { return "dm-" + netID[:12] }

// DeleteParent deletes a parent link that EnsureParent made. A missing
// link is not an error.
func DeleteParent(h *netlink.Handle, name string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return nil
	}
	if err := h.LinkDel(l); err != nil {
		return fmt.Errorf("delete parent link %s: %w", name, err)
	}
	return nil
}

// Endpoint is one container interface on a macvlan network.
type Endpoint struct {
	IfName  string       // eth0, eth1, ... inside the container
	Addr    netip.Prefix // with the network's prefix length
	Gateway netip.Addr   // default route; invalid means none
	MAC     net.HardwareAddr
	Mode    string // a mode CheckMode accepts
}

// Attach creates ep's macvlan link on parent directly inside the namespace
// pinned at nsPath and configures it there. On failure nothing is left.
func Attach(h *netlink.Handle, parent netlink.Link, nsPath string, ep Endpoint) error {
	ns, err := netns.Open(nsPath)
	if err != nil {
		return err
	}
	defer ns.Close()
	mv := &netlink.Macvlan{
		LinkAttrs: netlink.LinkAttrs{
			Name: ep.IfName, ParentIndex: parent.Attrs().Index, MTU: parent.Attrs().MTU,
			HardwareAddr: ep.MAC, Namespace: netlink.NsFd(int(ns)),
		},
		Mode: modes[ep.Mode],
	}
	if err := h.LinkAdd(mv); err != nil {
		return fmt.Errorf("create macvlan %s on %s in %s: %w", ep.IfName, parent.Attrs().Name, nsPath, err)
	}
	ch, err := netns.HandleIn(ns)
	if err == nil {
		err = netns.ConfigureLink(ch, ep.IfName, ep.Addr, ep.Gateway)
		if err == nil {
			// As on a bridge: until the kernel's link watch has run,
			// the new link drops what the container sends first.
			err = netns.WaitUp(ch, ep.IfName, h)
		}
		ch.Close()
	}
	if err != nil {
		Detach(nsPath, ep.IfName)
		return err
	}
	return nil
}

// Detach deletes a container's macvlan link. A missing link or namespace
// is not an error: the kernel deletes a namespace's macvlan links with it.
func Detach(nsPath, ifName string) error {
	h, err := netns.HandleAt(nsPath)
	if err != nil {
		return nil
	}
	defer h.Close()
	l, err := h.LinkByName(ifName)
	if err != nil {
		return nil
	}
	if err := h.LinkDel(l); err != nil {
		return fmt.Errorf("delete macvlan %s in %s: %w", ifName, nsPath, err)
	}
	return nil
}

// Check says whether the container's namespace still holds its macvlan
// link: what a restarted daemon checks before it re-adopts the endpoint.
func Check(nsPath, ifName string) error {
	h, err := netns.HandleAt(nsPath)
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(ifName)
	if err != nil {
		return fmt.Errorf("find %s in %s: %w", ifName, nsPath, err)
	}
	if l.Type() != "macvlan" {
		return fmt.Errorf("%s in %s is a %s, not a macvlan", ifName, nsPath, l.Type())
	}
	return nil
}

// IPVlanSupported says whether the kernel has ipvlan, by making an ipvlan
// link on parent and deleting it: ipvlan is macvlan's sibling, and kernels
// built without it refuse the link type with EOPNOTSUPP before they look
// at the parent.
func IPVlanSupported(h *netlink.Handle, parent netlink.Link) error {
	name := "nslab-ipvl"
	err := h.LinkAdd(&netlink.IPVlan{LinkAttrs: netlink.LinkAttrs{Name: name, ParentIndex: parent.Attrs().Index}, Mode: netlink.IPVLAN_MODE_L2})
	if err == nil {
		DeleteParent(h, name)
		return nil
	}
	if errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("this kernel has no ipvlan support (creating an ipvlan link fails: %w)", err)
	}
	// Any other refusal (EBUSY: the parent already has macvlan links;
	// EEXIST: a probe left behind) comes from the ipvlan driver itself,
	// so the kernel has it.
	return nil
}
