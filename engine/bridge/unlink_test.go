package bridge

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/nslab/nslab/engine/internal/nstest"
	"github.com/nslab/nslab/engine/netns"
	"github.com/vishvananda/netlink"
)

// TestDetachFastLeavesTheFinalState: when DetachFast returns, the state is
// the one a synchronous deletion leaves: the host end is gone, so is eth0 in
// the container's namespace, the bridge has no port and has lost its
// carrier. Only the kernel's RCU barrier may still run, which Settle waits
// for. A missing veth is not an error.
func TestDetachFastLeavesTheFinalState(t *testing.T) {
	if !nstest.Rerun(t) {
		return
	}
	h, br := testBridge(t)
	dir := t.TempDir()
	for i := 0; i < 5; i++ {
		ns := filepath.Join(dir, fmt.Sprintf("c%d", i))
		if err := netns.Create(ns); err != nil {
			t.Fatal(err)
		}
		defer netns.Remove(ns)
		veth, err := Attach(h, br, ns, Endpoint{IfName: "eth0", Addr: netip.MustParsePrefix(fmt.Sprintf("10.99.0.%d/24", i+2))})
		if err != nil {
			t.Fatal(err)
		}
		if ports := bridgePorts(t, h, br); len(ports) != 1 || ports[0] != veth {
			t.Fatalf("bridge ports before the deletion: %v, want [%s]", ports, veth)
		}
		start := time.Now()
		if err := DetachFast(h, veth); err != nil {
			t.Fatal(err)
		}
		returned := time.Since(start)
		if _, err := h.LinkByName(veth); err == nil {
			t.Errorf("%s still listed when DetachFast returned", veth)
		}
		if ports := bridgePorts(t, h, br); len(ports) != 0 {
			t.Errorf("bridge ports when DetachFast returned: %v, want none", ports)
		}
		ch, err := netns.Open(ns)
		if err != nil {
			t.Fatal(err)
		}
		nh, err := netlink.NewHandleAt(ch)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nh.LinkByName("eth0"); err == nil {
			t.Errorf("eth0 still in the container's namespace when DetachFast returned")
		}
		nh.Close()
		ch.Close()
		Settle()
		t.Logf("DetachFast returned after %v; the kernel's deletion after %v", returned, time.Since(start))
	}
	// The bridge's carrier: lost once its last port went (the kernel's
	// link watch sets the operational state a moment later: bounded).
	for i := 0; ; i++ {
		l, err := h.LinkByName("brtest0")
		if err != nil {
			t.Fatal(err)
		}
		if l.Attrs().OperState == netlink.OperDown {
			break
		}
		if i == 100 {
			t.Fatalf("brtest0 still %s 5 s after its last port went", l.Attrs().OperState)
		}
		time.Sleep(50 * time.Millisecond) // between bounded retries
	}
	if err := DetachFast(h, "vethnothere"); err != nil {
		t.Errorf("DetachFast of a missing veth: %v, want nil", err)
	}
}

// bridgePorts lists the links whose master is br.
func bridgePorts(t *testing.T, h *netlink.Handle, br netlink.Link) []string {
	t.Helper()
	links, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var ports []string
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			ports = append(ports, l.Attrs().Name)
		}
	}
	return ports
}
