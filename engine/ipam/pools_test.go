package ipam

import (
	"net/netip"
	"testing"
)

func TestPickSubnet(t *testing.T) {
	docker0 := netip.MustParsePrefix("172.17.0.0/16")
	got, err := PickSubnet([]netip.Prefix{docker0})
	if err != nil || got.String() != "172.18.0.0/16" {
		t.Fatalf("first user network = %v, %v; want 172.18.0.0/16", got, err)
	}
	// A user subnet inside 172.19/16 makes the picker skip that pool.
	got, _ = PickSubnet([]netip.Prefix{docker0, netip.MustParsePrefix("172.18.0.0/16"), netip.MustParsePrefix("172.19.5.0/24")})
	if got.String() != "172.20.0.0/16" {
		t.Fatalf("with 172.19.5.0/24 taken, got %v, want 172.20.0.0/16", got)
	}
	// Freed subnets are reused first.
	got, _ = PickSubnet([]netip.Prefix{docker0, netip.MustParsePrefix("172.19.0.0/16")})
	if got.String() != "172.18.0.0/16" {
		t.Fatalf("after freeing 172.18, got %v", got)
	}
	// 31 pools in all; then the error Docker gives.
	if n := len(DefaultPools()); n != 31 {
		t.Fatalf("%d default pools, want 31", n)
	}
	if _, err := PickSubnet(DefaultPools()); err == nil {
		t.Fatal("PickSubnet found a subnet with every pool taken")
	}
	if p := DefaultPools()[15]; p.String() != "192.168.0.0/20" {
		t.Fatalf("16th pool = %v, want 192.168.0.0/20", p)
	}
}
