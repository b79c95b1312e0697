package bridge

import (
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nslab/nslab/engine/internal/nstest"
	"github.com/nslab/nslab/engine/netns"
	"github.com/vishvananda/netlink"
)

// testBridge makes brtest0, 10.99.0.1/24, in the test's throwaway
// namespace, and returns it with the netlink handle that made it.
func testBridge(t *testing.T) (*netlink.Handle, netlink.Link) {
	t.Helper()
	h, err := netlink.NewHandle()
	if err != nil {
		t.Fatal(err)
	}
	br, err := Ensure(h, "brtest0", netip.MustParsePrefix("10.99.0.1/24"), 1500)
	if err != nil {
		t.Fatal(err)
	}
	return h, br
}

// TestAttachRedrawsTakenName: when the drawn host-side name already exists,
// Attach draws again instead of failing the container's start.
func TestAttachRedrawsTakenName(t *testing.T) {
	if !nstest.Rerun(t) {
		return
	}
	h, br := testBridge(t)
	if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "vethtaken"}}); err != nil {
		t.Fatal(err)
	}
	names := []string{"vethtaken", "vethfresh"}
	drawVethName = func() string { n := names[0]; names = names[1:]; return n }
	defer func() { drawVethName = VethName }()

	nsPath := filepath.Join(t.TempDir(), "c1")
	if err := netns.Create(nsPath); err != nil {
		t.Fatal(err)
	}
	defer netns.Remove(nsPath)
	got, err := Attach(h, br, nsPath, Endpoint{IfName: "eth0", Addr: netip.MustParsePrefix("10.99.0.2/24")})
	if err != nil {
		t.Fatalf("Attach with a taken first name: %v", err)
	}
	if got != "vethfresh" {
		t.Fatalf("Attach used %q, want the second draw vethfresh", got)
	}
	l, err := h.LinkByName("vethfresh")
	if err != nil || l.Attrs().MasterIndex != br.Attrs().Index {
		t.Fatalf("vethfresh is not on the bridge: %v", err)
	}
	// A name the caller chose is not redrawn: the clash is reported.
	if _, err := Attach(h, br, nsPath, Endpoint{HostVeth: "vethtaken", IfName: "eth1", Addr: netip.MustParsePrefix("10.99.0.3/24")}); err == nil {
		t.Fatal("Attach with a caller-chosen taken name succeeded")
	}
}

// TestAttachAdjacentIndices: as Docker v24 numbers them, the container's
// eth0 gets N and the host's veth N+1 (the notes' 7: eth0@if8 and
// 8: veth4866e91@if7), the next pair N+2 and N+3; an index taken in the host
// or in the container's namespace moves the pair on.
func TestAttachAdjacentIndices(t *testing.T) {
	if !nstest.Rerun(t) {
		return
	}
	h, br := testBridge(t)
	attach := func(name string, host int) (eth, veth int, ns string) {
		t.Helper()
		ns = filepath.Join(t.TempDir(), name)
		if err := netns.Create(ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { netns.Remove(ns) })
		v, err := Attach(h, br, ns, Endpoint{IfName: "eth0", Addr: netip.MustParsePrefix(fmt.Sprintf("10.99.0.%d/24", host)), Gateway: netip.MustParseAddr("10.99.0.1")})
		if err != nil {
			t.Fatalf("Attach %s: %v", name, err)
		}
		l, err := h.LinkByName(v)
		if err != nil {
			t.Fatal(err)
		}
		o, err := netns.Open(ns)
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		ch, err := netlink.NewHandleAt(o)
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		e, err := ch.LinkByName("eth0")
		if err != nil {
			t.Fatal(err)
		}
		if e.Attrs().ParentIndex != l.Attrs().Index || l.Attrs().ParentIndex != e.Attrs().Index {
			t.Errorf("%s: eth0 %d@if%d and %s %d@if%d are not each other's peer", name, e.Attrs().Index, e.Attrs().ParentIndex, v, l.Attrs().Index, l.Attrs().ParentIndex)
		}
		if l.Attrs().MasterIndex != br.Attrs().Index {
			t.Errorf("%s: %s is not on the bridge", name, v)
		}
		return e.Attrs().Index, l.Attrs().Index, ns
	}
	e1, v1, _ := attach("c1", 2)
	if e1 <= br.Attrs().Index || v1 != e1+1 {
		t.Fatalf("first pair eth0=%d veth=%d (bridge %d); want eth0=N > bridge, veth=N+1", e1, v1, br.Attrs().Index)
	}
	e2, v2, _ := attach("c2", 3)
	if e2 != v1+1 || v2 != e2+1 {
		t.Fatalf("second pair eth0=%d veth=%d; want %d and %d", e2, v2, v1+1, v1+2)
	}
	// Take the next host-side index (v2+2) with a bridge: the pair
	// moves past it.
	if out, err := exec.Command("ip", "link", "add", "blocktaken", "index", fmt.Sprint(v2+2), "type", "bridge").CombinedOutput(); err != nil {
		t.Fatalf("ip link add blocktaken: %v: %s", err, out)
	}
	e3, v3, _ := attach("c3", 4)
	if v3 != e3+1 || e3 <= v2+2 {
		t.Fatalf("pair after a taken host index %d: eth0=%d veth=%d; want adjacent and past it", v2+2, e3, v3)
	}
	// Take the next container-side index inside the namespace first.
	ns4 := filepath.Join(t.TempDir(), "c4")
	if err := netns.Create(ns4); err != nil {
		t.Fatal(err)
	}
	defer netns.Remove(ns4)
	o, err := netns.Open(ns4)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	ch, err := netlink.NewHandleAt(o)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if out, err := exec.Command("nsenter", "--net="+ns4, "ip", "link", "add", "blockin", "index", fmt.Sprint(v3+1), "type", "bridge").CombinedOutput(); err != nil {
		t.Fatalf("ip link add blockin: %v: %s", err, out)
	}
	v4, err := Attach(h, br, ns4, Endpoint{IfName: "eth0", Addr: netip.MustParsePrefix("10.99.0.5/24")})
	if err != nil {
		t.Fatalf("Attach with the peer's index taken in its namespace: %v", err)
	}
	l4, _ := h.LinkByName(v4)
	e4, _ := ch.LinkByName("eth0")
	if l4 == nil || e4 == nil || l4.Attrs().Index != e4.Attrs().Index+1 || e4.Attrs().Index == v3+1 {
		t.Fatalf("pair after a taken container index %d: %v %v", v3+1, e4, l4)
	}
}
