package ipam

import (
	"net/netip"
	"strings"
	"testing"
)

func TestCheckSubnetRefusesSpecialRanges(t *testing.T) {
	lab := []Reserved{{netip.MustParsePrefix("198.51.100.0/24"), "the lab host's uplink"}}
	for _, tc := range []struct {
		subnet, want string
	}{
		{"127.0.0.0/8", "invalid subnet 127.0.0.0/8: it overlaps 127.0.0.0/8, loopback"},
		{"127.5.0.0/16", "it overlaps 127.0.0.0/8, loopback"},
		{"0.0.0.0/8", `it overlaps 0.0.0.0/8, "this network"`},
		{"0.0.0.0/0", "it overlaps 0.0.0.0/8"},
		{"255.255.255.0/24", "it overlaps 255.255.255.255/32, the limited broadcast address"},
		{"240.0.0.0/4", "it overlaps 255.255.255.255/32"},
		{"198.51.100.0/25", "it overlaps 198.51.100.0/24, the lab host's uplink"},
		{"198.0.0.0/8", "it overlaps 198.51.100.0/24"},
	} {
		err := CheckSubnet(netip.MustParsePrefix(tc.subnet), SpecialPurpose, lab)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckSubnet(%s) = %v, want an error containing %q", tc.subnet, err, tc.want)
		}
	}
	for _, ok := range []string{"10.0.0.0/8", "128.0.0.0/8", "126.0.0.0/8", "1.0.0.0/8", "254.0.0.0/8", "198.51.101.0/24", "172.17.0.0/16"} {
		if err := CheckSubnet(netip.MustParsePrefix(ok), SpecialPurpose, lab); err != nil {
			t.Errorf("CheckSubnet(%s) = %v, want nil", ok, err)
		}
	}
}
