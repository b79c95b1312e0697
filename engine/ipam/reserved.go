package ipam

import (
	"fmt"
	"net/netip"
)

// Reserved is an address range no bridge network may overlap, and why.
type Reserved struct {
	Prefix netip.Prefix
	Why    string
}

// SpecialPurpose are the IPv4 ranges that cannot work as a bridge subnet on
// any host: the kernel treats their addresses specially, so a network there
// would be created and then silently fail to carry packets.
var SpecialPurpose = []Reserved{
	{netip.MustParsePrefix("0.0.0.0/8"), `"this network" (RFC 1122): the kernel neither sends to nor forwards these addresses`},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback: the kernel drops packets with these addresses on every interface but lo"},
	{netip.MustParsePrefix("255.255.255.255/32"), "the limited broadcast address, which no interface can own"},
}

// CheckSubnet refuses a subnet that overlaps a reserved range, naming the
// range and the reason.
func CheckSubnet(p netip.Prefix, reserved ...[]Reserved) error {
	for _, list := range reserved {
		for _, r := range list {
			if p.Overlaps(r.Prefix) {
				return fmt.Errorf("invalid subnet %s: it overlaps %s, %s", p, r.Prefix, r.Why)
			}
		}
	}
	return nil
}
