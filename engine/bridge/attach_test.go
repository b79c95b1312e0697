package bridge

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nslab/nslab/engine/netns"
	"github.com/vishvananda/netlink"
)

// inThrowawayNamespaces re-runs the calling test in private network and
// mount namespaces (unshare(1)), so the bridge, veths and pinned namespaces
// it makes live and die there and the machine sees none of them. It returns
// true in the child, which does the work.
func inThrowawayNamespaces(t *testing.T) bool {
	t.Helper()
	if os.Getenv("NSLAB_BRIDGE_TEST_CHILD") == "1" {
		return true
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to make namespaces")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux)")
	}
	cmd := exec.Command("unshare", "--net", "--mount", "--propagation", "private",
		os.Args[0], "-test.run", "^"+t.Name()+"$", "-test.v")
	cmd.Env = append(os.Environ(), "NSLAB_BRIDGE_TEST_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s in throwaway namespaces: %v\n%s", t.Name(), err, out)
	}
	return false
}

// TestAttachRedrawsTakenName: when the drawn host-side name already exists,
// Attach draws again instead of failing the container's start.
func TestAttachRedrawsTakenName(t *testing.T) {
	if !inThrowawayNamespaces(t) {
		return
	}
	h, err := netlink.NewHandle()
	if err != nil {
		t.Fatal(err)
	}
	br, err := Ensure(h, "brtest0", netip.MustParsePrefix("10.99.0.1/24"), 1500)
	if err != nil {
		t.Fatal(err)
	}
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
