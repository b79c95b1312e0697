// Package ipam hands out IPv4 addresses inside a subnet the way Docker's
// default IPAM driver does: the network and broadcast addresses are reserved,
// the gateway takes the lowest free address (.1), and every container then
// gets the lowest address that is free at that moment, so a released .2 is
// handed out again by the very next request. --ip-range narrows where
// those dynamic addresses come from (SetRange); fixed ones (--ip, the
// gateway, --aux-address) may be anywhere in the subnet.
//
// The package is pure: no kernel objects, only arithmetic, so it is unit
// tested without root.
package ipam

import (
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
)

// ErrPoolFull is returned when a subnet has no free address left.
var ErrPoolFull = errors.New("no available IPv4 addresses")

// Pool tracks the addresses in use in one IPv4 subnet. It is not safe for
// concurrent use; its owner serialises access.
type Pool struct {
	prefix netip.Prefix
	size   uint32 // addresses in the subnet
	used   []uint64
	free   uint32 // usable addresses still free
	// lo and hi bound the offsets Allocate hands out: the whole subnet,
	// or the --ip-range that SetRange narrowed it to.
	lo, hi uint32
}

// NewPool returns a pool for subnet with the network and broadcast addresses
// already reserved (except for /31 and /32, which have neither).
func NewPool(subnet netip.Prefix) (*Pool, error) {
	if !subnet.IsValid() || !subnet.Addr().Is4() {
		return nil, fmt.Errorf("invalid IPv4 subnet %q", subnet)
	}
	if subnet.Bits() < 8 {
		return nil, fmt.Errorf("subnet %s is too large: the smallest prefix length is /8", subnet)
	}
	subnet = subnet.Masked()
	size := uint32(1) << (32 - subnet.Bits())
	p := &Pool{prefix: subnet, size: size, used: make([]uint64, (size+63)/64), free: size, hi: size}
	if subnet.Bits() < 31 {
		p.mark(0)
		p.mark(size - 1)
	}
	return p, nil
}

// Free is the number of addresses that can still be allocated.
func (p *Pool) Free() int { return int(p.free) }

// SetRange narrows Allocate to the addresses of r, Docker's --ip-range:
// dynamic addresses come from r only, while Reserve (--ip, the gateway,
// --aux-address) still takes any address of the subnet. r must lie inside
// the subnet.
func (p *Pool) SetRange(r netip.Prefix) error {
	r = r.Masked()
	if !r.Addr().Is4() || r.Bits() < p.prefix.Bits() || !p.prefix.Contains(r.Addr()) {
		return fmt.Errorf("range %s is not inside subnet %s", r, p.prefix)
	}
	p.lo = toU32(r.Addr()) - toU32(p.prefix.Addr())
	p.hi = p.lo + uint32(1)<<(32-r.Bits())
	return nil
}

// Allocate returns the lowest free address (of the range, if SetRange
// narrowed it) and marks it used.
func (p *Pool) Allocate() (netip.Addr, error) {
	for off := p.lo; off < p.hi; {
		bit := off % 64
		word := p.used[off/64] >> bit // bits above the word's end read as free
		if word == ^uint64(0)>>bit {
			off += 64 - bit // the rest of this word is used
			continue
		}
		off += uint32(bits.TrailingZeros64(^word))
		if off >= p.hi {
			break
		}
		p.mark(off)
		return p.addr(off), nil
	}
	if p.lo != 0 || p.hi != p.size {
		return netip.Addr{}, fmt.Errorf("range %s: %w", p.rangePrefix(), ErrPoolFull)
	}
	return netip.Addr{}, fmt.Errorf("subnet %s: %w", p.prefix, ErrPoolFull)
}

func (p *Pool) rangePrefix() netip.Prefix {
	return netip.PrefixFrom(p.addr(p.lo), 32-bits.TrailingZeros32(p.hi-p.lo))
}

// Reserve marks a specific address used. It fails if the address is outside
// the subnet, is the network or broadcast address, or is already in use.
func (p *Pool) Reserve(a netip.Addr) error {
	off, err := p.offset(a)
	if err != nil {
		return err
	}
	if p.isUsed(off) {
		if p.prefix.Bits() < 31 && (off == 0 || off == p.size-1) {
			return fmt.Errorf("address %s is the network or broadcast address of %s", a, p.prefix)
		}
		return fmt.Errorf("address %s is already in use in %s", a, p.prefix)
	}
	p.mark(off)
	return nil
}

// Release frees an address. Releasing a free or foreign address is an error,
// because it means the caller's bookkeeping is wrong.
func (p *Pool) Release(a netip.Addr) error {
	off, err := p.offset(a)
	if err != nil {
		return err
	}
	if !p.isUsed(off) || (p.prefix.Bits() < 31 && (off == 0 || off == p.size-1)) {
		return fmt.Errorf("address %s is not allocated in %s", a, p.prefix)
	}
	p.used[off/64] &^= 1 << (off % 64)
	p.free++
	return nil
}

// InUse reports whether a is allocated (or reserved).
func (p *Pool) InUse(a netip.Addr) bool {
	off, err := p.offset(a)
	return err == nil && p.isUsed(off)
}

func (p *Pool) offset(a netip.Addr) (uint32, error) {
	if !a.Is4() || !p.prefix.Contains(a) {
		return 0, fmt.Errorf("address %s is outside subnet %s", a, p.prefix)
	}
	return toU32(a) - toU32(p.prefix.Addr()), nil
}

func (p *Pool) mark(off uint32) {
	p.used[off/64] |= 1 << (off % 64)
	p.free--
}

func (p *Pool) isUsed(off uint32) bool { return p.used[off/64]&(1<<(off%64)) != 0 }

func (p *Pool) addr(off uint32) netip.Addr { return fromU32(toU32(p.prefix.Addr()) + off) }

// Broadcast returns the subnet's broadcast address, as `ip addr` shows after
// "brd".
func Broadcast(subnet netip.Prefix) netip.Addr {
	subnet = subnet.Masked()
	return fromU32(toU32(subnet.Addr()) | (^uint32(0) >> subnet.Bits()))
}

func toU32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func fromU32(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
