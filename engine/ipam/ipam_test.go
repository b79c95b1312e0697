package ipam

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func mustPool(t *testing.T, s string) *Pool {
	t.Helper()
	p, err := NewPool(netip.MustParsePrefix(s))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLowestFreeWithReuse(t *testing.T) {
	p := mustPool(t, "172.17.0.0/16")
	want := []string{"172.17.0.1", "172.17.0.2", "172.17.0.3", "172.17.0.4"}
	var got []netip.Addr
	for i, w := range want {
		a, err := p.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		if a.String() != w {
			t.Fatalf("allocation %d = %s, want %s (lowest free first, like Docker)", i, a, w)
		}
		got = append(got, a)
	}
	// Docker frees a container's address when it stops; the next container
	// takes the lowest free address, so .2 comes back before .5.
	if err := p.Release(got[1]); err != nil {
		t.Fatal(err)
	}
	a, _ := p.Allocate()
	if a.String() != "172.17.0.2" {
		t.Fatalf("after releasing .2, got %s, want 172.17.0.2", a)
	}
	a, _ = p.Allocate()
	if a.String() != "172.17.0.5" {
		t.Fatalf("next allocation = %s, want 172.17.0.5", a)
	}
}

func TestSmallSubnetFills(t *testing.T) {
	p := mustPool(t, "10.9.0.0/30") // .0 network, .3 broadcast: .1 and .2 usable
	if p.Free() != 2 {
		t.Fatalf("Free() = %d, want 2", p.Free())
	}
	p.Allocate()
	p.Allocate()
	_, err := p.Allocate()
	if !errors.Is(err, ErrPoolFull) {
		t.Fatalf("third allocation in a /30: err = %v, want ErrPoolFull", err)
	}
}

func TestReserve(t *testing.T) {
	p := mustPool(t, "172.18.0.0/16")
	for _, tc := range []struct {
		addr, wantErr string
	}{
		{"172.18.0.10", ""},
		{"172.18.0.10", "address 172.18.0.10 is already in use in 172.18.0.0/16"},
		{"172.19.0.10", "address 172.19.0.10 is outside subnet 172.18.0.0/16"},
		{"172.18.0.0", "address 172.18.0.0 is the network or broadcast address of 172.18.0.0/16"},
		{"172.18.255.255", "address 172.18.255.255 is the network or broadcast address of 172.18.0.0/16"},
	} {
		err := p.Reserve(netip.MustParseAddr(tc.addr))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.wantErr {
			t.Errorf("Reserve(%s) error = %q, want %q", tc.addr, got, tc.wantErr)
		}
	}
	if err := p.Release(netip.MustParseAddr("172.18.0.11")); err == nil {
		t.Error("releasing an unallocated address succeeded")
	}
}

func TestBroadcast(t *testing.T) {
	for in, want := range map[string]string{
		"172.17.0.0/16":   "172.17.255.255",
		"192.168.16.0/20": "192.168.31.255",
		"10.0.0.0/8":      "10.255.255.255",
	} {
		if got := Broadcast(netip.MustParsePrefix(in)).String(); got != want {
			t.Errorf("Broadcast(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestInvalidSubnet(t *testing.T) {
	if _, err := NewPool(netip.MustParsePrefix("fd00::/64")); err == nil {
		t.Error("NewPool accepted an IPv6 subnet")
	}
	if _, err := NewPool(netip.MustParsePrefix("10.0.0.0/4")); err == nil {
		t.Error("NewPool accepted a /4")
	}
}

// TestRange: with --ip-range, dynamic addresses come from the range only,
// lowest first and reused (its first address included: only the subnet's
// network address is never handed out), while Reserve still takes any
// address of the subnet; a range outside the subnet is refused.
func TestRange(t *testing.T) {
	p, err := NewPool(netip.MustParsePrefix("10.5.0.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetRange(netip.MustParsePrefix("10.5.0.192/30")); err != nil {
		t.Fatal(err)
	}
	if err := p.Reserve(netip.MustParseAddr("10.5.0.193")); err != nil {
		t.Fatal(err)
	}
	if err := p.Reserve(netip.MustParseAddr("10.5.0.10")); err != nil {
		t.Fatalf("Reserve outside the range: %v", err)
	}
	var got []string
	for {
		a, err := p.Allocate()
		if err != nil {
			if !errors.Is(err, ErrPoolFull) || err.Error() != "range 10.5.0.192/30: no available IPv4 addresses" {
				t.Fatalf("Allocate on a full range = %v", err)
			}
			break
		}
		got = append(got, a.String())
	}
	if want := "10.5.0.192 10.5.0.194 10.5.0.195"; strings.Join(got, " ") != want {
		t.Errorf("Allocate in range 10.5.0.192/30 gave %v, want %s", got, want)
	}
	p.Release(netip.MustParseAddr("10.5.0.194"))
	if a, err := p.Allocate(); err != nil || a.String() != "10.5.0.194" {
		t.Errorf("after releasing .194, Allocate = %v, %v", a, err)
	}
	for _, r := range []string{"10.6.0.0/25", "10.5.0.0/16", "10.4.0.0/8"} {
		if err := p.SetRange(netip.MustParsePrefix(r)); err == nil {
			t.Errorf("SetRange(%s) in 10.5.0.0/24: want an error", r)
		}
	}
	// A range at the start of the subnet skips the network address.
	q, _ := NewPool(netip.MustParsePrefix("10.3.0.0/24"))
	q.SetRange(netip.MustParsePrefix("10.3.0.0/30"))
	if a, _ := q.Allocate(); a.String() != "10.3.0.1" {
		t.Errorf("first address of range 10.3.0.0/30 = %v, want 10.3.0.1", a)
	}
	// A range that crosses 64-address words.
	w, _ := NewPool(netip.MustParsePrefix("10.7.0.0/16"))
	w.SetRange(netip.MustParsePrefix("10.7.1.0/24"))
	for i := 0; i < 70; i++ {
		w.Allocate()
	}
	if a, _ := w.Allocate(); a.String() != "10.7.1.70" {
		t.Errorf("71st address of range 10.7.1.0/24 = %v, want 10.7.1.70", a)
	}
}
