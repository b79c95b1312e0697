package bridge

import (
	"net/netip"
	"regexp"
	"testing"
)

func TestMAC(t *testing.T) {
	for ip, want := range map[string]string{
		"172.17.0.2":   "02:42:ac:11:00:02",
		"172.18.0.3":   "02:42:ac:12:00:03",
		"192.168.16.2": "02:42:c0:a8:10:02",
	} {
		if got := MAC(netip.MustParseAddr(ip)).String(); got != want {
			t.Errorf("MAC(%s) = %s, want %s", ip, got, want)
		}
	}
}

func TestVethName(t *testing.T) {
	re := regexp.MustCompile(`^veth[0-9a-f]{7}$`)
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		n := VethName()
		if !re.MatchString(n) {
			t.Fatalf("VethName() = %q, want veth + 7 hex digits", n)
		}
		if len(n) > 15 {
			t.Fatalf("VethName() = %q is longer than IFNAMSIZ-1", n)
		}
		seen[n] = true
	}
	if len(seen) < 95 {
		t.Errorf("only %d distinct names in 100 draws", len(seen))
	}
}
