// Package portmap is port publishing: Docker's -p syntax, the allocation of
// host ports, and the userland proxy.
//
// Why a userland proxy: the DNAT rules in nat PREROUTING and OUTPUT catch
// traffic that arrives from outside and traffic the lab host sends to its
// own non-loopback addresses, but not traffic to 127.0.0.1 (OUTPUT skips
// 127.0.0.0/8, since DNAT from loopback would need route_localnet) nor a
// container reaching a published port through its own bridge's gateway.
// Docker's default answer, which nslab follows, is docker-proxy: a process
// listening on the host port that copies each connection to the container.
// The alternative, hairpin NAT with route_localnet, is documented in
// engine/README.md.
package portmap

import (
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Binding is one published port.
type Binding struct {
	Proto         string     // "tcp" or "udp"
	HostIP        netip.Addr // 0.0.0.0 for every address
	HostPort      uint16     // 0 until allocated when the spec left it open
	ContainerPort uint16
}

// Key is the container side, as Docker writes it: "80/tcp".
func (b Binding) Key() string { return fmt.Sprintf("%d/%s", b.ContainerPort, b.Proto) }

// String is Docker's ps form: "0.0.0.0:8080->80/tcp".
func (b Binding) String() string {
	return fmt.Sprintf("%s:%d->%d/%s", b.HostIP, b.HostPort, b.ContainerPort, b.Proto)
}

var anyIPv4 = netip.IPv4Unspecified()

// Parse reads a -p value: [IP:][HOSTPORT:]CONTAINERPORT[/PROTO], where an
// empty or missing HOSTPORT means "pick a free one".
func Parse(spec string) (Binding, error) {
	b := Binding{Proto: "tcp", HostIP: anyIPv4}
	rest := spec
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		raw := rest[i+1:]
		b.Proto = strings.ToLower(raw)
		rest = rest[:i]
		if b.Proto != "tcp" && b.Proto != "udp" {
			return Binding{}, fmt.Errorf("invalid proto %q in -p %s: nslab publishes tcp and udp", raw, spec)
		}
	}
	parts := strings.Split(rest, ":")
	var ip, host, cport string
	switch len(parts) {
	case 1:
		cport = parts[0]
	case 2:
		host, cport = parts[0], parts[1]
	case 3:
		ip, host, cport = parts[0], parts[1], parts[2]
	default:
		return Binding{}, fmt.Errorf("invalid port format -p %s: want [IP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp]", spec)
	}
	if ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil || !a.Is4() {
			return Binding{}, fmt.Errorf("invalid IP address %q in -p %s", ip, spec)
		}
		b.HostIP = a
	}
	p, err := port(cport)
	if err != nil || p == 0 {
		return Binding{}, fmt.Errorf("invalid containerPort %q in -p %s: want a number from 1 to 65535", cport, spec)
	}
	b.ContainerPort = p
	if host != "" {
		if strings.Contains(host, "-") {
			return Binding{}, fmt.Errorf("invalid hostPort %q in -p %s: nslab does not publish port ranges", host, spec)
		}
		p, err := port(host)
		if err != nil || p == 0 {
			return Binding{}, fmt.Errorf("invalid hostPort %q in -p %s: want a number from 1 to 65535", host, spec)
		}
		b.HostPort = p
	}
	return b, nil
}

func port(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	return uint16(n), err
}

// ParseExposed reads an --expose value or an image's exposed port:
// PORT[/PROTO].
func ParseExposed(spec string) (Binding, error) {
	b, err := Parse(spec)
	if err != nil || strings.Contains(spec, ":") {
		return Binding{}, fmt.Errorf("invalid --expose %q: want PORT[/tcp|/udp]", spec)
	}
	return b, nil
}

// Allocator tracks which host ports are published. It is not safe for
// concurrent use; its owner serialises access.
type Allocator struct {
	used       map[string]bool // "tcp/0.0.0.0/8080"
	first, end uint16          // ephemeral range for automatic ports
}

// NewAllocator returns an allocator whose automatic ports come from the
// kernel's ephemeral range (net.ipv4.ip_local_port_range), as Docker's do,
// or 49153-65535 if that cannot be read.
func NewAllocator() *Allocator {
	a := &Allocator{used: map[string]bool{}, first: 49153, end: 65535}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 {
			lo, e1 := port(f[0])
			hi, e2 := port(f[1])
			if e1 == nil && e2 == nil && lo > 0 && lo <= hi {
				a.first, a.end = lo, hi
			}
		}
	}
	return a
}

func key(proto string, ip netip.Addr, p uint16) string { return fmt.Sprintf("%s/%s/%d", proto, ip, p) }

// conflict reports whether b's host side clashes with a published port:
// the same protocol and port on the same address, or on 0.0.0.0 against
// any address.
func (a *Allocator) conflict(b Binding) bool {
	if a.used[key(b.Proto, b.HostIP, b.HostPort)] {
		return true
	}
	if b.HostIP == anyIPv4 {
		prefix := b.Proto + "/"
		suffix := fmt.Sprintf("/%d", b.HostPort)
		for k := range a.used {
			if strings.HasPrefix(k, prefix) && strings.HasSuffix(k, suffix) {
				return true
			}
		}
		return false
	}
	return a.used[key(b.Proto, anyIPv4, b.HostPort)]
}

// Check fails, naming the port, if any binding's fixed host port is
// already published, or if two of them clash with each other.
func (a *Allocator) Check(bs []Binding) error {
	tmp := &Allocator{used: map[string]bool{}, first: a.first, end: a.end}
	for k := range a.used {
		tmp.used[k] = true
	}
	for _, b := range bs {
		if b.HostPort == 0 {
			continue
		}
		if tmp.conflict(b) {
			return fmt.Errorf("Bind for %s:%d failed: port is already allocated", b.HostIP, b.HostPort)
		}
		tmp.used[key(b.Proto, b.HostIP, b.HostPort)] = true
	}
	return nil
}

// Allocate reserves every binding, choosing free ephemeral ports for those
// without a host port. It changes nothing on error.
func (a *Allocator) Allocate(bs []Binding) ([]Binding, error) {
	if err := a.Check(bs); err != nil {
		return nil, err
	}
	out := make([]Binding, len(bs))
	for i, b := range bs {
		if b.HostPort == 0 {
			for p := int(a.first); p <= int(a.end); p++ {
				c := b
				c.HostPort = uint16(p)
				if !a.conflict(c) {
					b = c
					break
				}
			}
			if b.HostPort == 0 {
				a.Release(out[:i])
				return nil, fmt.Errorf("no free host port in %d-%d for %s", a.first, a.end, b.Key())
			}
		}
		a.used[key(b.Proto, b.HostIP, b.HostPort)] = true
		out[i] = b
	}
	return out, nil
}

// Release frees bindings.
func (a *Allocator) Release(bs []Binding) {
	for _, b := range bs {
		delete(a.used, key(b.Proto, b.HostIP, b.HostPort))
	}
}

// Dedup removes repeated bindings and sorts them by container port.
func Dedup(bs []Binding) []Binding {
	seen := map[Binding]bool{}
	var out []Binding
	for _, b := range bs {
		if !seen[b] {
			seen[b] = true
			out = append(out, b)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].ContainerPort != out[j].ContainerPort {
			return out[i].ContainerPort < out[j].ContainerPort
		}
		return out[i].Proto < out[j].Proto
	})
	return out
}
