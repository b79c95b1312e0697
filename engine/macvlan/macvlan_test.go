package macvlan

import (
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nslab/nslab/engine/internal/nstest"
	"github.com/nslab/nslab/engine/netns"
	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
)

func TestCheckMode(t *testing.T) {
	for _, m := range []string{"bridge", "private", "vepa", "passthru"} {
		if err := CheckMode(m); err != nil {
			t.Errorf("CheckMode(%q) = %v, want nil", m, err)
		}
	}
	err := CheckMode("fast")
	if want := "requested macvlan mode 'fast' is not valid, 'bridge' mode is the macvlan driver default"; err == nil || err.Error() != want {
		t.Errorf("CheckMode(fast) = %v, want Docker's %q", err, want)
	}
}

// testParent makes up0, a bridge, as a parent: macvlan takes any
// Ethernet-like link, and this kernel may have no dummy links.
func testParent(t *testing.T) (*netlink.Handle, netlink.Link) {
	t.Helper()
	h, err := netlink.NewHandle()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "up0"}}); err != nil {
		t.Fatal(err)
	}
	l, made, err := EnsureParent(h, "up0", strings.Repeat("ab", 32))
	if err != nil || made {
		t.Fatalf("EnsureParent(up0) = %v, made %v; want the existing link, not made", err, made)
	}
	return h, l
}

// TestEnsureParentRefuses: each bad parent gets Docker's message, and
// nothing is made.
func TestEnsureParentRefuses(t *testing.T) {
	if !nstest.Rerun(t) {
		return
	}
	h, _ := testParent(t)
	before, _ := h.LinkList()
	for parent, want := range map[string]string{
		"lo":        "loopback interface is not a valid macvlan parent link",
		"eth9":      "invalid subinterface vlan name eth9, example formatting is eth0.10",
		"eth9.10":   "-o parent interface was not found on the host: eth9",
		"up0.x":     "vlan id must be between 1-4094, received: x",
		"up0.4095":  "vlan id must be between 1-4094, received: 4095",
		"up0.0":     "vlan id must be between 1-4094, received: 0",
		"up0.10.10": "vlan id must be between 1-4094, received: 10.10",
	} {
		_, _, err := EnsureParent(h, parent, strings.Repeat("ab", 32))
		if err == nil || err.Error() != want {
			t.Errorf("EnsureParent(%q) = %v, want %q", parent, err, want)
		}
	}
	if after, _ := h.LinkList(); len(after) != len(before) {
		t.Errorf("refusals changed the links: %d before, %d after", len(before), len(after))
	}
}

// TestAttachDetach: the link is born inside the container's namespace as
// a macvlan of the parent, with the MAC, mode, address and route asked
// for; Check finds it, Detach deletes it, and a second Detach is no error.
func TestAttachDetach(t *testing.T) {
	if !nstest.Rerun(t) {
		return
	}
	h, parent := testParent(t)
	if err := h.LinkSetUp(parent); err != nil {
		t.Fatal(err)
	}
	nsPath := filepath.Join(t.TempDir(), "c1")
	if err := netns.Create(nsPath); err != nil {
		t.Fatal(err)
	}
	defer netns.Remove(nsPath)
	mac, _ := net.ParseMAC("02:42:0a:63:00:05")
	ep := Endpoint{IfName: "eth0", Addr: netip.MustParsePrefix("10.99.0.5/24"), Gateway: netip.MustParseAddr("10.99.0.1"), MAC: mac, Mode: "private"}
	if err := Attach(h, parent, nsPath, ep); err != nil {
		t.Fatal(err)
	}
	if err := Check(nsPath, "eth0"); err != nil {
		t.Fatalf("Check after Attach: %v", err)
	}
	ns, err := vnetns.GetFromPath(nsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	ch, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	l, err := ch.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	mv, ok := l.(*netlink.Macvlan)
	if !ok || mv.Mode != netlink.MACVLAN_MODE_PRIVATE || mv.HardwareAddr.String() != mac.String() || mv.ParentIndex != parent.Attrs().Index {
		t.Errorf("eth0 in the container = %T %+v; want a private-mode macvlan of up0 with MAC %s", l, l.Attrs(), mac)
	}
	routes, _ := ch.RouteList(l, netlink.FAMILY_V4)
	gw := false
	for _, r := range routes {
		gw = gw || r.Gw.Equal(net.ParseIP("10.99.0.1"))
	}
	if !gw {
		t.Errorf("no default route via 10.99.0.1 in the container: %v", routes)
	}
	if _, err := h.LinkByName("eth0"); err == nil {
		t.Error("eth0 exists in the parent's namespace too")
	}
	if err := Detach(nsPath, "eth0"); err != nil {
		t.Fatal(err)
	}
	if err := Check(nsPath, "eth0"); err == nil {
		t.Error("Check finds eth0 after Detach")
	}
	if err := Detach(nsPath, "eth0"); err != nil {
		t.Errorf("a second Detach: %v, want nil", err)
	}
}
