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

func TestPickRoundRobin(t *testing.T) {
	docker0 := "172.17.0.0/16"
	var pk Picker
	pick := func(u []Used, want string) {
		t.Helper()
		got, err := pk.Pick(u)
		if err != nil || got.String() != want {
			t.Fatalf("Pick = %v, %v; want %s", got, err, want)
		}
	}
	// docker0 holds the first pool: the first user network gets 172.18.
	pick(used(docker0), "172.18.0.0/16")
	// A user subnet inside 172.19/16 makes the picker skip that pool.
	pick(used(docker0, "172.18.0.0/16", "172.19.5.0/24"), "172.20.0.0/16")
	// 172.18 and 172.19 are free again, but round-robin goes on: 172.21,
	// as Docker 20.10 and v24 do (v27+ would reuse 172.18).
	pick(used(docker0, "172.20.0.0/16"), "172.21.0.0/16")
	// 31 pools in all; the list wraps to the lowest free one.
	if n := len(DefaultPools()); n != 31 {
		t.Fatalf("%d default pools, want 31", n)
	}
	if p := DefaultPools()[15]; p.String() != "192.168.0.0/20" {
		t.Fatalf("16th pool = %v, want 192.168.0.0/20", p)
	}
	pk = Picker{next: 30}
	pick(used(docker0), "192.168.240.0/20")
	pick(used(docker0), "172.18.0.0/16")
	var all []Used
	for _, p := range DefaultPools() {
		all = append(all, Used{Subnet: p})
	}
	if _, err := pk.Pick(all); err == nil || !strings.Contains(err.Error(), "could not find an available, non-overlapping IPv4 address pool") {
		t.Fatalf("Pick with every pool taken: %v, want Docker 20.10's message", err)
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
