package container

import (
	"fmt"
	"net/netip"
	"strings"
)

// HostsFile renders /etc/hosts as Docker (before v28) writes it: localhost,
// the IPv6 well-known names, then one line per address of the container.
// Containers on the default bridge get no entries for each other: that is
// why `ping nstest` fails there.
func HostsFile(hostname string, addrs []netip.Addr) string {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("ff00::0\tip6-mcastprefix\n")
	b.WriteString("ff02::1\tip6-allnodes\n")
	b.WriteString("ff02::2\tip6-allrouters\n")
	for _, a := range addrs {
		fmt.Fprintf(&b, "%s\t%s\n", a, hostname)
	}
	return b.String()
}

// LegacyResolvConf transforms the lab host's resolv.conf for a container on
// a network without the embedded resolver (the default bridge, none): search
// and options lines are kept, loopback nameservers are dropped (they would
// point at the container itself), and so are IPv6 ones because these
// networks have no IPv6. If nothing is left, Docker's defaults are used.
func LegacyResolvConf(host string) string {
	var out []string
	servers := 0
	for _, line := range strings.Split(host, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			a, err := netip.ParseAddr(f[1])
			if err != nil || a.IsLoopback() || !a.Is4() {
				continue
			}
			servers++
		}
		out = append(out, line)
	}
	s := strings.TrimRight(strings.Join(out, "\n"), "\n") + "\n"
	if servers == 0 {
		s += "# Used default nameservers.\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
	}
	return strings.TrimLeft(s, "\n")
}

// InternalResolvConf transforms the lab host's resolv.conf for a container
// on a user-defined network: every nameserver is replaced by the embedded
// server at 127.0.0.11 (the removed ones become its upstream servers),
// search lines are kept, and options are kept with ndots:0 added unless an
// ndots option is already there. The host's "options edns0 trust-ad" thus
// becomes the notes' "options edns0 trust-ad ndots:0".
func InternalResolvConf(host string) string {
	var search []string
	var opts []string
	for _, line := range strings.Split(host, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "search", "domain":
			search = append(search, "search "+strings.Join(f[1:], " "))
		case "options":
			opts = append(opts, f[1:]...)
		}
	}
	hasNdots := false
	for _, o := range opts {
		hasNdots = hasNdots || strings.HasPrefix(o, "ndots:")
	}
	if !hasNdots {
		opts = append(opts, "ndots:0")
	}
	s := "nameserver 127.0.0.11\n"
	for _, l := range search {
		s += l + "\n"
	}
	return s + "options " + strings.Join(opts, " ") + "\n"
}

// Nameservers lists the nameserver addresses of a resolv.conf, as
// host:53, for the embedded server to forward to.
func Nameservers(resolvConf string) []string {
	var out []string
	for _, line := range strings.Split(resolvConf, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil {
				out = append(out, netip.AddrPortFrom(a, 53).String())
			}
		}
	}
	return out
}

// MaxHostname is the kernel's HOST_NAME_MAX: sethostname(2) fails with
// EINVAL above it.
const MaxHostname = 64

// CheckHostname refuses a hostname before anything is created: one the
// kernel would refuse at start ("set hostname: invalid argument"), and one
// whose characters would add lines or names to /etc/hosts, such as a
// newline or a space.
func CheckHostname(h string) error {
	if len(h) > MaxHostname {
		return fmt.Errorf("invalid hostname %q: %d characters, more than the kernel's limit of %d", h, len(h), MaxHostname)
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return fmt.Errorf("invalid hostname %q: %q is not allowed; a hostname has letters, digits, '-', '_' and '.' only (a newline or space would add lines or names to /etc/hosts)", h, r)
		}
	}
	if h[0] == '-' || h[0] == '.' {
		return fmt.Errorf("invalid hostname %q: it must start with a letter or a digit", h)
	}
	return nil
}
