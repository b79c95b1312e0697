package overlay

import (
	"errors"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nslab/nslab/engine/internal/nstest"
	"github.com/nslab/nslab/engine/netns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

var (
	gw   = netip.MustParsePrefix("10.0.0.1/24")
	addA = netip.MustParsePrefix("10.0.0.2/24")
	addB = netip.MustParsePrefix("10.0.0.3/24")
)

func mac(p netip.Prefix) net.HardwareAddr {
	b := p.Addr().As4()
	return net.HardwareAddr{2, 0x42, b[0], b[1], b[2], b[3]}
}

// node is a node's own namespace: the test's for node A, a pinned one for
// node B, joined to A by a veth as by the underlay.
type node struct {
	path string // "" for the test's own namespace
	h    *netlink.Handle
	dir  string
}

func (n node) ns(name string) string { return filepath.Join(n.dir, name) }

func twoNodes(t *testing.T) (a, b node) {
	t.Helper()
	dir := t.TempDir()
	ha, err := netlink.NewHandle()
	if err != nil {
		t.Fatal(err)
	}
	lo, _ := ha.LinkByName("lo")
	ha.LinkSetUp(lo)
	bPath := filepath.Join(dir, "nodeB")
	container(t, bPath)
	bns, err := netns.Open(bPath)
	if err != nil {
		t.Fatal(err)
	}
	defer bns.Close()
	if err := ha.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth1", MTU: 1500}, PeerName: "eth1", PeerNamespace: netlink.NsFd(int(bns))}); err != nil {
		t.Fatal(err)
	}
	ethA, _ := ha.LinkByName("eth1")
	ha.AddrAdd(ethA, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(192, 0, 2, 1), Mask: net.CIDRMask(24, 32)}})
	ha.LinkSetUp(ethA)
	hb, err := netns.HandleAt(bPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := netns.ConfigureLink(hb, "eth1", netip.MustParsePrefix("192.0.2.2/24"), netip.Addr{}); err != nil {
		t.Fatal(err)
	}
	return node{h: ha, dir: filepath.Join(dir, "a")}, node{path: bPath, h: hb, dir: filepath.Join(dir, "b")}
}

// container pins a namespace at path, unpinned when the test ends.
func container(t *testing.T, path string) {
	t.Helper()
	if err := netns.Create(path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netns.Remove(path) })
}

// ensure is Ensure, with the namespace removed when the test ends.
func ensure(t *testing.T, nd node, name string, n Network) error {
	t.Helper()
	t.Cleanup(func() { Remove(nd.ns(name)) })
	return Ensure(nd.h, nd.ns(name), n)
}

// TestOverlayCarriesPackets builds one overlay network on two nodes and
// sends a UDP datagram from a container on A to one on B: through br0,
// vxlan0, the underlay, and back out of B's br0. Without the forwarding
// entry it goes nowhere.
func TestOverlayCarriesPackets(t *testing.T) {
	if !nstest.Rerun(t) {
		return
	}
	a, b := twoNodes(t)
	n := Network{VNI: 4097, Gateway: gw}
	for _, nd := range []node{a, b} {
		if err := ensure(t, nd, "1-net", n); err != nil {
			t.Fatal(err)
		}
		if err := ensure(t, nd, "1-net", n); err != nil {
			t.Fatalf("Ensure again: %v", err)
		}
	}
	// vxlan0 is in the network's namespace, under its own name, with
	// Docker's settings; nothing is left in the node's namespace.
	if l, err := a.h.LinkByName("vx-001001"); err == nil {
		t.Errorf("%s is still in the node's namespace", l.Attrs().Name)
	}
	nh, err := netns.HandleAt(a.ns("1-net"))
	if err != nil {
		t.Fatal(err)
	}
	vl, err := nh.LinkByName(VXLAN)
	if err != nil {
		t.Fatal(err)
	}
	vx := vl.(*netlink.Vxlan)
	br, _ := nh.LinkByName(Bridge)
	if vx.VxlanId != 4097 || vx.Port != Port || !vx.Learning || !vx.Proxy || vx.MTU != MTU || vx.MasterIndex != br.Attrs().Index {
		t.Errorf("vxlan0 = id %d port %d learning %v proxy %v mtu %d master %d; want 4097, 4789, learning, proxy, 1450, on br0 (%d)",
			vx.VxlanId, vx.Port, vx.Learning, vx.Proxy, vx.MTU, vx.MasterIndex, br.Attrs().Index)
	}

	ca, cb := filepath.Join(a.dir, "ca"), filepath.Join(b.dir, "cb")
	container(t, ca)
	container(t, cb)
	vethA, err := Attach(a.ns("1-net"), ca, Endpoint{IfName: "eth0", Addr: addA, MAC: mac(addA)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Attach(b.ns("1-net"), cb, Endpoint{IfName: "eth0", Addr: addB, MAC: mac(addB)}); err != nil {
		t.Fatal(err)
	}
	ch, _ := netns.HandleAt(ca)
	eth0, err := ch.LinkByName("eth0")
	if err != nil || eth0.Attrs().MTU != MTU || eth0.Attrs().HardwareAddr.String() != "02:42:0a:00:00:02" {
		t.Fatalf("container eth0 = %v, %v; want MTU 1450 and MAC 02:42:0a:00:00:02", eth0, err)
	}

	// No forwarding entry yet: the datagram is dropped.
	if got := sendUDP(t, ca, cb, addB.Addr(), time.Second); got {
		t.Fatal("a datagram crossed the overlay before any peer was programmed")
	}
	if err := AddPeer(a.ns("1-net"), Peer{IP: addB.Addr(), MAC: mac(addB), Underlay: netip.MustParseAddr("192.0.2.2")}); err != nil {
		t.Fatal(err)
	}
	if err := AddPeer(a.ns("1-net"), Peer{IP: addB.Addr(), MAC: mac(addB), Underlay: netip.MustParseAddr("192.0.2.2")}); err != nil {
		t.Fatalf("AddPeer again: %v", err)
	}
	if err := AddPeer(b.ns("1-net"), Peer{IP: addA.Addr(), MAC: mac(addA), Underlay: netip.MustParseAddr("192.0.2.1")}); err != nil {
		t.Fatal(err)
	}
	neighs, _ := nh.NeighList(vx.Index, unix.AF_INET)
	if len(neighs) != 1 || neighs[0].State != netlink.NUD_PERMANENT {
		t.Errorf("vxlan0's neighbours = %+v, want one permanent entry", neighs)
	}
	// ARP for .3 failed a moment ago: forget that, so the next send asks
	// again at once, and vxlan0 answers now.
	ch.NeighDel(&netlink.Neigh{LinkIndex: eth0.Attrs().Index, Family: unix.AF_INET, IP: addB.Addr().AsSlice()})
	if !sendUDP(t, ca, cb, addB.Addr(), 5*time.Second) {
		t.Fatal("no datagram crossed the overlay with both peers programmed")
	}
	if err := RemovePeer(a.ns("1-net"), Peer{IP: addB.Addr(), MAC: mac(addB), Underlay: netip.MustParseAddr("192.0.2.2")}); err != nil {
		t.Fatal(err)
	}
	if err := RemovePeer(a.ns("1-net"), Peer{IP: addB.Addr(), MAC: mac(addB), Underlay: netip.MustParseAddr("192.0.2.2")}); err != nil {
		t.Errorf("RemovePeer again: %v", err)
	}
	if neighs, _ := nh.NeighList(vx.Index, unix.AF_INET); len(neighs) != 0 {
		t.Errorf("after RemovePeer, vxlan0's neighbours = %+v", neighs)
	}

	// Detach, then Remove: the container loses eth0, the namespace goes.
	if err := Detach(a.ns("1-net"), vethA); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.LinkByName("eth0"); err == nil {
		t.Error("eth0 is still in the container after Detach")
	}
	if err := Remove(a.ns("1-net")); err != nil {
		t.Fatal(err)
	}
	if err := Remove(a.ns("1-net")); err != nil {
		t.Errorf("Remove again: %v", err)
	}
	if err := Check(a.ns("1-net"), vethA); err == nil {
		t.Error("Check found the endpoint in a removed namespace")
	}
}

// TestEnsureRefusesATakenVNI: a second network with a VNI that a VXLAN
// device of the node already has is refused, saying so, and leaves no
// namespace behind.
func TestEnsureRefusesATakenVNI(t *testing.T) {
	if !nstest.Rerun(t) {
		return
	}
	a, _ := twoNodes(t)
	if err := ensure(t, a, "1-one", Network{VNI: 4097, Gateway: gw}); err != nil {
		t.Fatal(err)
	}
	err := ensure(t, a, "1-two", Network{VNI: 4097, Gateway: gw})
	if err == nil || !strings.Contains(err.Error(), "a VXLAN device with this VNI and port 4789 already exists") {
		t.Fatalf("Ensure with a taken VNI = %v, want a refusal naming it", err)
	}
	if !errors.Is(err, unix.EEXIST) {
		t.Errorf("err = %v, want it to wrap EEXIST", err)
	}
	if err := Check(a.ns("1-two"), "x"); err == nil {
		t.Error("the refused network's namespace is still there")
	}
}

// sendUDP sends one datagram from the container at from to to:9999 in the
// container at at, and reports whether it arrived within wait.
func sendUDP(t *testing.T, from, at string, to netip.Addr, wait time.Duration) bool {
	t.Helper()
	var conn *net.UDPConn
	if err := netns.Do(at, func() error {
		var err error
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 9999})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var out *net.UDPConn
	if err := netns.Do(from, func() error {
		var err error
		out, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: to.AsSlice(), Port: 9999})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	out.Write([]byte("over the overlay"))
	conn.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 64)
	k, _, err := conn.ReadFromUDP(buf)
	return err == nil && string(buf[:k]) == "over the overlay"
}
