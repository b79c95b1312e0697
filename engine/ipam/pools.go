package ipam

import (
	"errors"
	"fmt"
	"net"
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

// Used is a subnet in use, and the name of the network that uses it.
type Used struct {
	Subnet  netip.Prefix
	Network string
}

// overlap returns the first subnet in used that p overlaps. It is the one
// overlap test, for picked and requested subnets alike.
func overlap(p netip.Prefix, used []Used) (Used, bool) {
	for _, u := range used {
		if u.Subnet.IsValid() && u.Subnet.Overlaps(p) {
			return u, true
		}
	}
	return Used{}, false
}

// PickSubnet returns the first default pool that overlaps none of used,
// first fit and lowest first, so a subnet freed by `network rm` is the one
// the next `network create` gets.
func PickSubnet(used []Used) (netip.Prefix, error) {
	for _, p := range DefaultPools() {
		if _, taken := overlap(p, used); !taken {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("all predefined address pools have been fully subnetted")
}

// RequestSubnet validates a subnet the user asked for (--subnet): a CIDR
// as Docker parses it (net.ParseCIDR, and Docker's message), IPv4, in
// canonical form, with room for a gateway and a container, overlapping no
// reserved range, and overlapping no subnet in use, with Docker's "Pool
// overlaps" message word for word.
func RequestSubnet(s string, used []Used, reserved ...[]Reserved) (netip.Prefix, error) {
	if _, _, err := net.ParseCIDR(s); err != nil {
		return netip.Prefix{}, fmt.Errorf("Invalid subnet %s : %v", s, err)
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("invalid subnet %q: nslab networks are IPv4, such as 10.10.0.0/24", s)
	}
	if p != p.Masked() {
		return netip.Prefix{}, fmt.Errorf("invalid subnet %s: it should be %s", p, p.Masked())
	}
	if p.Bits() > 30 {
		return netip.Prefix{}, fmt.Errorf("invalid subnet %s: a /%d has no room for a gateway and a container; use /30 or larger", p, p.Bits())
	}
	if err := CheckSubnet(p, reserved...); err != nil {
		return netip.Prefix{}, err
	}
	if _, taken := overlap(p, used); taken {
		return netip.Prefix{}, errors.New("Pool overlaps with other one on this address space")
	}
	return p, nil
}
