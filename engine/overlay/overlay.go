// Package overlay is the overlay network driver's data plane on one node:
// what Docker's overlay driver builds in the kernel, without the control
// plane that tells it what to build (package swarm does that).
//
// For each overlay network with a container on the node there is a
// namespace of its own, Docker's "1-" and the network ID's first ten
// characters. It holds br0, the network's bridge with the gateway address,
// and vxlan0, the VXLAN device that carries the bridge's frames to the other
// nodes in UDP on port 4789. vxlan0 is created in the node's own namespace
// and then moved, as Docker does: its UDP socket stays in the node's
// namespace, so the encapsulated packets leave by the node's routes, over
// the underlay, while the frames inside them never meet the node's tables.
//
// Every remote container is programmed statically, as Docker's control
// plane does: a permanent neighbour entry (its IP and MAC, so that vxlan0
// answers ARP for it itself: "proxy") and a permanent forwarding entry (its
// MAC behind the underlay address of its node). vxlan0 also learns, as
// Docker's does (dockerd 20.10 leaves the kernel's learning on): a frame
// that arrives from a MAC with no entry leaves a dynamic one behind. A
// frame for a MAC with no entry at all goes nowhere.
package overlay

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/nslab/nslab/engine/bridge"
	"github.com/nslab/nslab/engine/netns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const (
	// Port is VXLAN's IANA port, Docker's default data path port.
	Port = 4789
	// MTU is the overlay's: 1500 less VXLAN's 50 bytes of outer
	// Ethernet, IP, UDP and VXLAN headers.
	MTU = 1450
	// Bridge and VXLAN are the link names inside the network's namespace.
	Bridge = "br0"
	VXLAN  = "vxlan0"
)

// NamespaceName is the name of the network's namespace, Docker's
// "1-<first 10 characters of the network ID>".
func NamespaceName(networkID string) string {
	if len(networkID) > 10 {
		networkID = networkID[:10]
	}
	return "1-" + networkID
}

// Network is what a node needs to know to build an overlay network.
type Network struct {
	VNI     int
	Gateway netip.Prefix // br0's address: the gateway and the subnet's length
}

// Ensure builds the network's namespace at nsPath with br0 and vxlan0 in
// it, unless it is there already. h is a handle on the node's own
// namespace, where vxlan0 is born. On failure nothing is left behind.
func Ensure(h *netlink.Handle, nsPath string, n Network) (err error) {
	if _, serr := os.Stat(nsPath); serr == nil {
		return nil
	}
	if err := netns.Create(nsPath); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			Remove(nsPath) // vxlan0 first, freeing its VNI at once
		}
	}()
	if err := netns.LoopbackUp(nsPath); err != nil {
		return err
	}
	nh, err := netns.HandleAt(nsPath)
	if err != nil {
		return err
	}
	defer nh.Close()
	br, err := bridge.Ensure(nh, Bridge, n.Gateway, MTU)
	if err != nil {
		return fmt.Errorf("overlay namespace %s: %w", nsPath, err)
	}
	// A name unique in the node's namespace while the device is there:
	// Docker's "vx-" with the VNI in hex.
	tmp := fmt.Sprintf("vx-%06x", n.VNI)
	vx := &netlink.Vxlan{
		LinkAttrs: netlink.LinkAttrs{Name: tmp, MTU: MTU},
		VxlanId:   n.VNI, Port: Port,
		Learning: true, Proxy: true, L2miss: true, L3miss: true,
	}
	if err := h.LinkAdd(vx); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create %s for VNI %d: a VXLAN device with this VNI and port %d already exists on this node: %w", tmp, n.VNI, Port, err)
		}
		return fmt.Errorf("create %s for VNI %d: %w", tmp, n.VNI, err)
	}
	l, err := h.LinkByName(tmp)
	if err != nil {
		return fmt.Errorf("find %s: %w", tmp, err)
	}
	ns, err := netns.Open(nsPath)
	if err != nil {
		h.LinkDel(l)
		return err
	}
	defer ns.Close()
	if err := h.LinkSetNsFd(l, int(ns)); err != nil {
		h.LinkDel(l)
		return fmt.Errorf("move %s into %s: %w", tmp, nsPath, err)
	}
	if l, err = nh.LinkByName(tmp); err != nil {
		return fmt.Errorf("find %s in %s: %w", tmp, nsPath, err)
	}
	if err := nh.LinkSetName(l, VXLAN); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp, VXLAN, err)
	}
	if err := nh.LinkSetMaster(l, br); err != nil {
		return fmt.Errorf("put %s on %s: %w", VXLAN, Bridge, err)
	}
	if err := nh.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", VXLAN, err)
	}
	return nil
}

// Remove deletes the network's namespace, and br0, vxlan0 and every
// veth end still in it with it. A missing namespace is not an error.
func Remove(nsPath string) error {
	if _, err := os.Stat(nsPath); err != nil {
		return nil
	}
	if nh, err := netns.HandleAt(nsPath); err == nil {
		// Delete vxlan0 first and at once: its VNI's socket is freed
		// now rather than when the kernel gets round to the namespace.
		if l, err := nh.LinkByName(VXLAN); err == nil {
			nh.LinkDel(l)
		}
		nh.Close()
	}
	return netns.Remove(nsPath)
}

// Endpoint is one container's interface on an overlay network.
type Endpoint struct {
	IfName string // in the container: eth0, eth1, ...
	Addr   netip.Prefix
	MAC    net.HardwareAddr
}

// Attach makes a veth with one end on br0 in the network's namespace
// (nsPath) and the other, ep.IfName, born in the container's namespace
// (ctrPath) with ep's address and MAC, MTU 1450 and no default route:
// containers leave the overlay through docker_gwbridge. It returns the
// name of the end on br0, once the kernel can carry its first frame
// (netns.WaitUp).
func Attach(nsPath, ctrPath string, ep Endpoint) (string, error) {
	nh, err := netns.HandleAt(nsPath)
	if err != nil {
		return "", err
	}
	defer nh.Close()
	br, err := nh.LinkByName(Bridge)
	if err != nil {
		return "", fmt.Errorf("find %s in %s: %w", Bridge, nsPath, err)
	}
	ctr, err := netns.Open(ctrPath)
	if err != nil {
		return "", err
	}
	defer ctr.Close()
	ch, err := netns.HandleIn(ctr)
	if err != nil {
		return "", fmt.Errorf("netlink handle in %s: %w", ctrPath, err)
	}
	defer ch.Close()
	// Docker names the ends on br0 veth0, veth1, ...: the lowest free.
	name := ""
	for i := 0; name == ""; i++ {
		if _, err := nh.LinkByName(fmt.Sprintf("veth%d", i)); err != nil {
			name = fmt.Sprintf("veth%d", i)
		}
	}
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: name, MTU: MTU, MasterIndex: br.Attrs().Index},
		PeerName:  ep.IfName, PeerHardwareAddr: ep.MAC, PeerNamespace: netlink.NsFd(int(ctr)),
		PeerMTU: MTU,
	}
	if err := nh.LinkAdd(veth); err != nil {
		return "", fmt.Errorf("create veth %s on %s (peer %s in %s): %w", name, Bridge, ep.IfName, ctrPath, err)
	}
	undo := func() {
		if l, err := nh.LinkByName(name); err == nil {
			nh.LinkDel(l)
		}
	}
	if err := netns.ConfigureLink(ch, ep.IfName, ep.Addr, netip.Addr{}); err != nil {
		undo()
		return "", err
	}
	l, err := nh.LinkByName(name)
	if err == nil {
		err = nh.LinkSetUp(l)
	}
	if err != nil {
		undo()
		return "", fmt.Errorf("set %s up: %w", name, err)
	}
	if err := netns.WaitUp(ch, ep.IfName, nh, name, Bridge); err != nil {
		undo()
		return "", fmt.Errorf("attach %s to %s: %w", name, Bridge, err)
	}
	return name, nil
}

// Detach deletes the veth whose end on br0 is called veth; the kernel
// deletes the container's end with it. A missing veth is not an error.
func Detach(nsPath, veth string) error {
	nh, err := netns.HandleAt(nsPath)
	if err != nil {
		if _, serr := os.Stat(nsPath); serr != nil {
			return nil
		}
		return err
	}
	defer nh.Close()
	l, err := nh.LinkByName(veth)
	if err != nil {
		return nil
	}
	if err := nh.LinkDel(l); err != nil {
		return fmt.Errorf("delete %s in %s: %w", veth, nsPath, err)
	}
	return nil
}

// Peer is a container on another node, as the control plane tells of it.
type Peer struct {
	IP       netip.Addr
	MAC      net.HardwareAddr
	Underlay netip.Addr // its node's address on the underlay: the VTEP
}

// AddPeer programs a remote container into vxlan0: a permanent
// neighbour entry, IP to MAC, and a forwarding entry, MAC to the peer's
// node. Adding what is there already is not an error.
func AddPeer(nsPath string, p Peer) error {
	return peerOp(nsPath, p, true)
}

// RemovePeer takes both entries away again; missing ones are not an error.
func RemovePeer(nsPath string, p Peer) error {
	return peerOp(nsPath, p, false)
}

func peerOp(nsPath string, p Peer, add bool) error {
	nh, err := netns.HandleAt(nsPath)
	if err != nil {
		return err
	}
	defer nh.Close()
	vx, err := nh.LinkByName(VXLAN)
	if err != nil {
		return fmt.Errorf("find %s in %s: %w", VXLAN, nsPath, err)
	}
	neigh := &netlink.Neigh{
		LinkIndex: vx.Attrs().Index, Family: unix.AF_INET, State: netlink.NUD_PERMANENT,
		IP: p.IP.AsSlice(), HardwareAddr: p.MAC,
	}
	fdb := &netlink.Neigh{
		LinkIndex: vx.Attrs().Index, Family: unix.AF_BRIDGE, State: netlink.NUD_PERMANENT,
		Flags: netlink.NTF_SELF, IP: p.Underlay.AsSlice(), HardwareAddr: p.MAC,
	}
	if add {
		if err := nh.NeighSet(fdb); err != nil {
			return fmt.Errorf("fdb entry %s dst %s on %s: %w", p.MAC, p.Underlay, VXLAN, err)
		}
		if err := nh.NeighSet(neigh); err != nil {
			return fmt.Errorf("neighbour entry %s lladdr %s on %s: %w", p.IP, p.MAC, VXLAN, err)
		}
		return nil
	}
	if err := nh.NeighDel(neigh); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete neighbour entry %s on %s: %w", p.IP, VXLAN, err)
	}
	if err := nh.NeighDel(fdb); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete fdb entry %s on %s: %w", p.MAC, VXLAN, err)
	}
	return nil
}

// Check reports whether an endpoint's end on br0, veth, is still in the
// network's namespace: what a restarted daemon checks before it adopts a
// container on the network.
func Check(nsPath, veth string) error {
	nh, err := netns.HandleAt(nsPath)
	if err != nil {
		return err
	}
	defer nh.Close()
	if _, err := nh.LinkByName(veth); err != nil {
		return fmt.Errorf("find %s in %s: %w", veth, nsPath, err)
	}
	return nil
}

// FlushPeers deletes every permanent entry of vxlan0, neighbour and
// forwarding, but its own: what a restarted daemon does before it writes
// the control plane's entries again, so that none of an endpoint that
// left meanwhile survives (with proxy on, a stale neighbour entry would
// answer ARP for an address someone else may now have).
func FlushPeers(nsPath string) error {
	nh, err := netns.HandleAt(nsPath)
	if err != nil {
		return err
	}
	defer nh.Close()
	vx, err := nh.LinkByName(VXLAN)
	if err != nil {
		return fmt.Errorf("find %s in %s: %w", VXLAN, nsPath, err)
	}
	for _, fam := range []int{unix.AF_INET, unix.AF_BRIDGE} {
		ns, err := nh.NeighList(vx.Attrs().Index, fam)
		if err != nil {
			return fmt.Errorf("list %s's entries: %w", VXLAN, err)
		}
		for _, n := range ns {
			if n.State&netlink.NUD_PERMANENT == 0 || n.HardwareAddr.String() == vx.Attrs().HardwareAddr.String() {
				continue
			}
			if fam == unix.AF_BRIDGE && n.Flags&netlink.NTF_SELF == 0 {
				continue // br0's own entries for the port
			}
			n := n
			if err := nh.NeighDel(&n); err != nil && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("delete %s entry %s: %w", VXLAN, n.HardwareAddr, err)
			}
		}
	}
	return nil
}
