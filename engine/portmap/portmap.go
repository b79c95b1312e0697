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

// String is Docker's ps form: "0.0.0.0:8080->80/tcp", "[::]:8080->80/tcp".
func (b Binding) String() string {
	return fmt.Sprintf("%s->%d/%s", b.HostAddr(), b.ContainerPort, b.Proto)
}

// HostAddr is the host side as docker port prints it: "0.0.0.0:8080",
// "[::]:8080".
func (b Binding) HostAddr() string { return netip.AddrPortFrom(b.HostIP, b.HostPort).String() }

var anyIPv4 = netip.IPv4Unspecified()

// Parse reads a -p value, [IP:][HOSTPORT:]CONTAINERPORT[/PROTO], where an
// empty or missing HOSTPORT means "pick a free one". It follows Docker's
// parser (go-connections' nat.ParsePortSpec): the same splitting, the same
// order of checks and the same messages ("invalid containerPort: abc",
// "invalid hostPort: 99999", "invalid proto: sctpx"). What Docker accepts
// and nslab cannot do (sctp, port ranges, IPv6 host addresses) gets a
// message of its own that names the limit.
func Parse(spec string) (Binding, error) {
	parts := strings.Split(spec, ":")
	n := len(parts)
	var ip, host string
	switch {
	case n == 2:
		host = parts[0]
	case n == 3:
		ip, host = parts[0], parts[1]
	case n > 3:
		ip, host = strings.Join(parts[:n-2], ":"), parts[n-2]
	}
	proto, cport := splitProtoPort(parts[n-1])
	b := Binding{Proto: strings.ToLower(proto), HostIP: anyIPv4}
	if strings.HasPrefix(ip, "[") && strings.HasSuffix(ip, "]") {
		ip = ip[1 : len(ip)-1]
	}
	if ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return Binding{}, fmt.Errorf("invalid IP address: %s", ip)
		}
		if !a.Is4() {
			return Binding{}, fmt.Errorf("invalid IP address: %s: nslab publishes on IPv4 addresses only", ip)
		}
		b.HostIP = a
	}
	if cport == "" {
		return Binding{}, fmt.Errorf("no port specified: %s<empty>", spec)
	}
	if isRange(cport) {
		return Binding{}, fmt.Errorf("invalid containerPort: %s: nslab does not publish port ranges", cport)
	}
	p, err := port(cport)
	if err != nil || p == 0 {
		return Binding{}, fmt.Errorf("invalid containerPort: %s", cport)
	}
	b.ContainerPort = p
	if host != "" {
		if isRange(host) {
			return Binding{}, fmt.Errorf("invalid hostPort: %s: nslab does not publish port ranges", host)
		}
		p, err := port(host)
		if err != nil {
			return Binding{}, fmt.Errorf("invalid hostPort: %s", host)
		}
		b.HostPort = p
	}
	switch b.Proto {
	case "tcp", "udp":
	case "sctp":
		return Binding{}, fmt.Errorf("invalid proto: %s: nslab publishes tcp and udp only", proto)
	default:
		return Binding{}, fmt.Errorf("invalid proto: %s", proto)
	}
	return b, nil
}

// splitProtoPort is go-connections' nat.SplitProtoPort: "80/udp" gives
// ("udp", "80"), "80" and "80/" give ("tcp", "80").
func splitProtoPort(raw string) (proto, port string) {
	parts := strings.Split(raw, "/")
	switch {
	case raw == "" || parts[0] == "":
		return "", ""
	case len(parts) == 1:
		return "tcp", raw
	case parts[1] == "":
		return "tcp", parts[0]
	}
	return parts[1], parts[0]
}

// isRange reports whether s is a port range Docker would accept
// ("8000-8010").
func isRange(s string) bool {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		return false
	}
	_, e1 := port(lo)
	_, e2 := port(hi)
	return e1 == nil && e2 == nil
}

func port(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	return uint16(n), err
}

// ParseExposed reads an --expose value or an image's exposed port:
// PORT[/PROTO], with Docker's messages.
func ParseExposed(spec string) (Binding, error) {
	if strings.Contains(spec, ":") {
		return Binding{}, fmt.Errorf("invalid port format for --expose: %s", spec)
	}
	b, err := Parse(spec)
	if err != nil {
		return Binding{}, fmt.Errorf("invalid range format for --expose: %s, error: %w", spec, err)
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

// taken reports whether b's exact host address, protocol and port is
// published already. Like Docker's port allocator, it keeps one map per
// address: 0.0.0.0:8080 and 198.51.100.2:8080 are different entries, and a
// clash between them shows up when the second proxy binds ("address
// already in use"), as it does under Docker.
func (a *Allocator) taken(b Binding) bool { return a.used[key(b.Proto, b.HostIP, b.HostPort)] }

// busy reports whether b's port is published on any address of its
// protocol, or on 0.0.0.0. Automatic ports skip those, so a -P port never
// collides with a fixed one in the proxy's bind.
func (a *Allocator) busy(b Binding) bool {
	suffix := fmt.Sprintf("/%d", b.HostPort)
	for k := range a.used {
		if strings.HasPrefix(k, b.Proto+"/") && strings.HasSuffix(k, suffix) {
			return true
		}
	}
	return false
}

// Check fails, naming the port, if any binding's fixed host address and
// port is already published, or if two of them are the same, with Docker's
// message "Bind for 0.0.0.0:8080 failed: port is already allocated".
func (a *Allocator) Check(bs []Binding) error {
	tmp := &Allocator{used: map[string]bool{}, first: a.first, end: a.end}
	for k := range a.used {
		tmp.used[k] = true
	}
	for _, b := range bs {
		if b.HostPort == 0 {
			continue
		}
		if tmp.taken(b) {
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
				if !a.busy(c) {
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
