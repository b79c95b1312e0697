package ipam

import (
	"fmt"
	"net/netip"
)

// DefaultPools are Docker's default local address pools, in order: 172.17
// to 172.31 as /16s (15 networks), then 192.168.0.0/16 as /20s (16
// networks).
func DefaultPools() []netip.Prefix {
	var out []netip.Prefix
	for b := 17; b <= 31; b++ {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(b), 0, 0}), 16))
	}
	for c := 0; c < 256; c += 16 {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(c), 0}), 20))
	}
	return out
}

// PickSubnet returns the first default pool that overlaps none of taken,
// first fit and lowest first, so a subnet freed by `network rm` is the one
// the next `network create` gets.
func PickSubnet(taken []netip.Prefix) (netip.Prefix, error) {
	for _, p := range DefaultPools() {
		free := true
		for _, t := range taken {
			if p.Overlaps(t) {
				free = false
				break
			}
		}
		if free {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("all predefined address pools have been fully subnetted")
}
