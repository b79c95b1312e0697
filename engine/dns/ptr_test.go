package dns

import (
	"net/netip"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

// TestPTRLongContainerName: a container name longer than a DNS label (63
// bytes) cannot be the PTR answer, because the reply would not pack and
// the client would time out. The next name that fits answers instead, and
// the reply packs.
func TestPTRLongContainerName(t *testing.T) {
	long := strings.Repeat("n", 64)
	ip := netip.MustParseAddr("172.18.0.2")
	tb := NewTable()
	tb.Add("mynet", []string{long, "3162e0d73cab"}, ip)
	name, ok := tb.Reverse([]string{"mynet"}, ip)
	if !ok || name != "3162e0d73cab.mynet." {
		t.Fatalf("Reverse = %q, %v; want 3162e0d73cab.mynet.", name, ok)
	}
	m := new(mdns.Msg)
	m.SetQuestion("2.0.18.172.in-addr.arpa.", mdns.TypePTR)
	m.Answer = []mdns.RR{&mdns.PTR{Hdr: mdns.RR_Header{Name: m.Question[0].Name, Rrtype: mdns.TypePTR, Class: mdns.ClassINET}, Ptr: name}}
	if _, err := m.Pack(); err != nil {
		t.Fatalf("the PTR reply does not pack: %v", err)
	}
	// A 63-byte name still answers itself.
	ok63 := strings.Repeat("m", 63)
	tb.Add("mynet", []string{ok63, "aaaaaaaaaaaa"}, netip.MustParseAddr("172.18.0.3"))
	if name, _ := tb.Reverse([]string{"mynet"}, netip.MustParseAddr("172.18.0.3")); name != ok63+".mynet." {
		t.Errorf("Reverse of a 63-byte name = %q, want it unchanged", name)
	}
}
