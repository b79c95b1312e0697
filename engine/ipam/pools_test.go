package ipam

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func used(subnets ...string) []Used {
	var out []Used
	for i, s := range subnets {
		out = append(out, Used{netip.MustParsePrefix(s), fmt.Sprintf("net%d", i)})
	}
	return out
}

func TestPickSubnet(t *testing.T) {
	docker0 := "172.17.0.0/16"
	got, err := PickSubnet(used(docker0))
	if err != nil || got.String() != "172.18.0.0/16" {
		t.Fatalf("first user network = %v, %v; want 172.18.0.0/16", got, err)
	}
	// A user subnet inside 172.19/16 makes the picker skip that pool.
	got, _ = PickSubnet(used(docker0, "172.18.0.0/16", "172.19.5.0/24"))
	if got.String() != "172.20.0.0/16" {
		t.Fatalf("with 172.19.5.0/24 taken, got %v, want 172.20.0.0/16", got)
	}
	// Freed subnets are reused first.
	got, _ = PickSubnet(used(docker0, "172.19.0.0/16"))
	if got.String() != "172.18.0.0/16" {
		t.Fatalf("after freeing 172.18, got %v", got)
	}
	// 31 pools in all; then the error Docker gives.
	if n := len(DefaultPools()); n != 31 {
		t.Fatalf("%d default pools, want 31", n)
	}
	var all []Used
	for _, p := range DefaultPools() {
		all = append(all, Used{Subnet: p})
	}
	if _, err := PickSubnet(all); err == nil {
		t.Fatal("PickSubnet found a subnet with every pool taken")
	}
	if p := DefaultPools()[15]; p.String() != "192.168.0.0/20" {
		t.Fatalf("16th pool = %v, want 192.168.0.0/20", p)
	}
}

func TestRequestSubnet(t *testing.T) {
	taken := used("172.17.0.0/16", "10.10.0.0/24")
	if p, err := RequestSubnet("10.20.0.0/24", taken); err != nil || p.String() != "10.20.0.0/24" {
		t.Fatalf("free subnet: %v, %v", p, err)
	}
	for in, want := range map[string]string{
		"10.10.0.0/16":   "Pool overlaps with other one on this address space",
		"10.10.0.128/25": "Pool overlaps with other one on this address space",
		"127.0.0.0/24":   "it overlaps 127.0.0.0/8, loopback",
		"10.20.0.1/24":   "it should be 10.20.0.0/24",
		"10.20.0.0/31":   "has no room for a gateway",
		"fd00::/64":      "nslab networks are IPv4",
		"bogus":          "Invalid subnet bogus : invalid CIDR address: bogus",
	} {
		if _, err := RequestSubnet(in, taken, SpecialPurpose); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("RequestSubnet(%q) = %v; want an error containing %q", in, err, want)
		}
	}
}
