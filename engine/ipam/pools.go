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

// Picker hands out default pools round-robin, as Docker 20.10 to v26 do
// (libnetwork's predefined start index): each pick starts after the last
// pool it handed out and wraps at the end of the list, so a subnet freed by
// `network rm` is not reused until the list wraps. Docker v27's new
// allocator reuses the lowest free pool instead; nslab follows the notes'
// version (v24), as measured on 20.10. The zero Picker starts at the first
// pool. Its owner serialises access.
type Picker struct{ next int }

// Pick returns the next default pool, in round-robin order, that overlaps
// none of used.
func (pk *Picker) Pick(used []Used) (netip.Prefix, error) {
	pools := DefaultPools()
	for i := range pools {
		j := (pk.next + i) % len(pools)
		if _, taken := overlap(pools[j], used); !taken {
			pk.next = (j + 1) % len(pools)
			return pools[j], nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
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
