// Run options for mounts, the process, DNS and metadata: -v, --mount, -w,
// -u, --entrypoint, --dns*, --add-host, labels, --mac-address, --init and
// --cidfile. applyRunOpts checks them with Docker daemon's messages and
// records them in the container; it changes nothing else, so a refusal
// leaves no trace. Call with d.mu held.

package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/container"
)

// RunOpts is what run asked for beyond the network and security: its
// fields are the container's, as inspect shows them.
type RunOpts struct {
	Binds           []string     // -v, as given (HostConfig.Binds)
	Mounts          []api.Mount  // --mount (HostConfig.Mounts)
	MountPoints     []MountPoint // both, resolved (inspect's Mounts)
	WorkingDir      string
	User            string
	DNS             []string
	DNSSearch       []string
	DNSOptions      []string
	ExtraHosts      []string // NAME:IP or NAME:host-gateway
	Labels          map[string]string
	MacAddress      string
	Init            bool
	ContainerIDFile string

	user *container.User // -u resolved in the image
}

// MountPoint is one bind mount as inspect's Mounts lists it.
type MountPoint struct {
	Type        string // bind
	Source      string
	Destination string
	Mode        string // -v's mode as given ("ro", "rw", ""); "" for --mount
	RW          bool
	Propagation string // rprivate
	create      bool   // -v: make a missing source directory, as Docker does
}

// applyRunOpts checks and records o's run options in c. The image's
// entrypoint and command are settled here too: an --entrypoint replaces the
// image's and drops its Cmd, as in Docker. Call with d.mu held.
func (d *Daemon) applyRunOpts(c *Container, o api.RunOptions, imgEntrypoint, imgCmd []string) error {
	if o.EntrypointSet {
		c.Entrypoint, c.Cmd = o.Entrypoint, o.Cmd
	} else {
		c.Entrypoint = imgEntrypoint
		if len(c.Cmd) == 0 {
			c.Cmd = imgCmd
		}
	}
	if len(c.argv()) == 0 {
		return errors.New("No command specified")
	}
	if err := c.applyMounts(o); err != nil {
		return err
	}
	if o.WorkingDir != "" && !path.IsAbs(o.WorkingDir) {
		return fmt.Errorf("the working directory '%s' is invalid, it needs to be an absolute path", o.WorkingDir)
	}
	c.WorkingDir = o.WorkingDir
	if o.WorkingDir != "" {
		c.WorkingDir = path.Clean(o.WorkingDir)
	}
	if o.User != "" {
		u, err := container.LookupUser(c.lower, o.User)
		if err != nil {
			return err
		}
		c.user, c.User = u, o.User
	}
	joins := strings.HasPrefix(c.NetworkMode, "container:")
	if joins && (len(o.DNS) > 0 || len(o.DNSSearch) > 0 || len(o.DNSOptions) > 0) {
		return errors.New("conflicting options: dns and the network mode")
	}
	if joins && len(o.ExtraHosts) > 0 {
		return errors.New("conflicting options: custom host-to-IP mapping and the network mode")
	}
	if joins && o.MacAddress != "" {
		return errors.New("conflicting options: mac-address and the network mode")
	}
	for _, s := range o.DNS {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("IP address is not correctly formatted: %s", s)
		}
		if a.IsLoopback() {
			c.warnings = append(c.warnings, fmt.Sprintf("Localhost DNS (%s) may fail in containers.", s))
			break
		}
	}
	for _, h := range o.ExtraHosts {
		name, ip, ok := strings.Cut(h, ":")
		if !ok || name == "" || strings.ContainsAny(name, "\n\r\t") {
			return fmt.Errorf("bad format for add-host: %q", h)
		}
		if _, err := netip.ParseAddr(ip); err != nil && ip != "host-gateway" {
			return fmt.Errorf("invalid IP address in add-host: %q", ip)
		}
	}
	if o.MacAddress != "" {
		if m, err := net.ParseMAC(o.MacAddress); err != nil || len(m) != 6 {
			return fmt.Errorf("%s is not a valid mac address", o.MacAddress)
		}
	}
	c.DNS, c.DNSSearch, c.DNSOptions, c.ExtraHosts = o.DNS, o.DNSSearch, o.DNSOptions, o.ExtraHosts
	c.Labels, c.MacAddress, c.Init, c.ContainerIDFile = o.Labels, o.MacAddress, o.Init, o.ContainerIDFile
	return nil
}

// applyMounts checks -v and --mount as Docker's daemon does and records
// the mount points. Sources are the lab host's paths.
func (c *Container) applyMounts(o api.RunOptions) error {
	seen := map[string]bool{}
	add := func(m MountPoint) error {
		if seen[m.Destination] {
			return fmt.Errorf("Duplicate mount point: %s", m.Destination)
		}
		seen[m.Destination] = true
		c.MountPoints = append(c.MountPoints, m)
		return nil
	}
	for _, spec := range o.Binds {
		parts := strings.Split(spec, ":")
		if len(parts) < 2 || !path.IsAbs(parts[0]) {
			return fmt.Errorf("invalid volume specification: '%s': nslab has no volumes, only bind mounts of lab host paths (-v /SOURCE:/TARGET[:ro])", spec)
		}
		if !path.IsAbs(parts[1]) {
			return fmt.Errorf("invalid volume specification: '%s': invalid mount config for type \"bind\": invalid mount path: '%s' mount path must be absolute", spec, parts[1])
		}
		m := MountPoint{Type: "bind", Source: path.Clean(parts[0]), Destination: path.Clean(parts[1]), RW: true, Propagation: "rprivate", create: true}
		if len(parts) == 3 {
			m.Mode = parts[2]
			for _, opt := range strings.Split(parts[2], ",") {
				switch opt {
				case "ro":
					m.RW = false
				case "rw", "z", "Z", "private", "rprivate":
				case "shared", "rshared", "slave", "rslave":
					return fmt.Errorf("invalid mode: %s: nslab binds are rprivate only", parts[2])
				default:
					return fmt.Errorf("invalid mode: %s", parts[2])
				}
			}
		}
		if m.Destination == "/" {
			return errors.New("invalid specification: destination can't be '/'")
		}
		if err := add(m); err != nil {
			return err
		}
	}
	for _, ms := range o.Mounts {
		bad := func(format string, a ...any) error {
			return fmt.Errorf("invalid mount config for type %q: %s", ms.Type, fmt.Sprintf(format, a...))
		}
		switch ms.Type {
		case "bind":
		case "volume", "tmpfs", "npipe":
			return bad("nslab has no %s mounts, only bind mounts of lab host paths (type=bind)", ms.Type)
		default:
			return bad("mount type unknown")
		}
		if ms.Source == "" {
			return bad("field Source must not be empty")
		}
		if !path.IsAbs(ms.Target) {
			return bad("invalid mount path: '%s' mount path must be absolute", ms.Target)
		}
		if !path.IsAbs(ms.Source) {
			return bad("invalid mount path: '%s' mount path must be absolute", ms.Source)
		}
		if _, err := os.Stat(ms.Source); err != nil {
			return bad("bind source path does not exist: %s", ms.Source)
		}
		if path.Clean(ms.Target) == "/" {
			return errors.New("invalid specification: destination can't be '/'")
		}
		if err := add(MountPoint{Type: "bind", Source: path.Clean(ms.Source), Destination: path.Clean(ms.Target), RW: !ms.ReadOnly, Propagation: "rprivate"}); err != nil {
			return err
		}
	}
	c.Binds, c.Mounts = o.Binds, o.Mounts
	return nil
}

// containerMounts makes the missing sources of -v (Docker makes them as
// directories; --mount refuses them) and returns the binds for the init.
// Call at start.
func (c *Container) containerMounts() ([]container.Mount, error) {
	var out []container.Mount
	for _, m := range c.MountPoints {
		if m.create {
			if _, err := os.Stat(m.Source); os.IsNotExist(err) {
				if err := os.MkdirAll(m.Source, 0o755); err != nil {
					return nil, fmt.Errorf("error while creating mount source path '%s': %w", m.Source, err)
				}
			}
		}
		out = append(out, container.Mount{Source: m.Source, Target: m.Destination, ReadOnly: !m.RW})
	}
	// Parents before children, as Docker sorts them.
	sort.SliceStable(out, func(i, j int) bool {
		return strings.Count(out[i].Target, "/") < strings.Count(out[j].Target, "/")
	})
	return out, nil
}

// hostsFile is the container's /etc/hosts: Docker's, with --add-host
// entries after the well-known names and before the container's own
// addresses. host-gateway is the default bridge's gateway, as Docker's
// default host-gateway-ip. Call with d.mu held.
func (d *Daemon) hostsFile(c *Container, addrs []netip.Addr) string {
	full := container.HostsFile(c.Hostname, addrs)
	if len(c.ExtraHosts) == 0 {
		return full
	}
	base := container.HostsFile(c.Hostname, nil)
	var extra strings.Builder
	for _, h := range c.ExtraHosts {
		name, ip, _ := strings.Cut(h, ":")
		if ip == "host-gateway" {
			if n := d.networkByName("bridge"); n != nil {
				ip = n.Gateway.String()
			}
		}
		fmt.Fprintf(&extra, "%s\t%s\n", ip, name)
	}
	return base + extra.String() + strings.TrimPrefix(full, base)
}

// customResolvConf is resolv.conf with --dns, --dns-search and --dns-option,
// as libnetwork builds it: each replaces the lab host's list of the same
// kind, and the file lists search, then nameservers, then options. With the
// embedded server (embedded), the nameservers become its upstreams (Docker's
// ExtServers) and the file names 127.0.0.11, with ndots:0 added unless an
// ndots option is there. ok is false when no such flag was given.
func customResolvConf(c *Container, host string, embedded bool) (string, bool) {
	if len(c.DNS) == 0 && len(c.DNSSearch) == 0 && len(c.DNSOptions) == 0 {
		return "", false
	}
	var servers, search, opts []string
	for _, line := range strings.Split(host, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			servers = append(servers, f[1])
		case "search", "domain":
			search = f[1:]
		case "options":
			opts = append(opts, f[1:]...)
		}
	}
	if len(c.DNS) > 0 {
		servers = c.DNS
	}
	if len(c.DNSSearch) > 0 {
		search = c.DNSSearch
	}
	if len(c.DNSOptions) > 0 {
		opts = c.DNSOptions
	}
	if embedded {
		servers = []string{"127.0.0.11"}
		ndots := false
		for _, o := range opts {
			ndots = ndots || strings.HasPrefix(o, "ndots:")
		}
		if !ndots {
			opts = append(append([]string{}, opts...), "ndots:0")
		}
	}
	var b strings.Builder
	if s := strings.Join(search, " "); len(search) > 0 && strings.Trim(s, " ") != "." {
		b.WriteString("search " + s + "\n")
	}
	for _, s := range servers {
		b.WriteString("nameserver " + s + "\n")
	}
	if o := strings.Join(opts, " "); strings.Trim(o, " ") != "" {
		b.WriteString("options " + o + "\n")
	}
	return b.String(), true
}

// upstreamFor is where the container's embedded DNS server forwards: its
// --dns servers (IPv4, as Docker's ExtServers) when it has them, else the
// lab host's. Call with d.mu held.
func (d *Daemon) upstreamFor(c *Container) []string {
	var out []string
	for _, s := range c.DNS {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
			out = append(out, netip.AddrPortFrom(a, 53).String())
		}
	}
	if len(c.DNS) == 0 {
		return d.upstream
	}
	return out
}

// mountPointsJSON is inspect's Mounts, sorted by destination.
func (c *Container) mountPointsJSON() []api.MountPoint {
	out := []api.MountPoint{}
	for _, m := range c.MountPoints {
		out = append(out, api.MountPoint{Type: m.Type, Source: m.Source, Destination: m.Destination, Mode: m.Mode, RW: m.RW, Propagation: m.Propagation})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Destination < out[j].Destination })
	return out
}

// runOptsHostConfig fills inspect's HostConfig fields of the run options,
// as Docker shows them: Binds and ExtraHosts null when not given, the DNS
// lists empty, Init only when --init was given.
func (c *Container) runOptsHostConfig(h *api.HostConfig) {
	h.Binds, h.Mounts, h.ExtraHosts, h.ContainerIDFile = c.Binds, c.Mounts, c.ExtraHosts, c.ContainerIDFile
	if len(c.DNS) > 0 {
		h.DNS = c.DNS
	}
	if len(c.DNSSearch) > 0 {
		h.DNSSearch = c.DNSSearch
	}
	if len(c.DNSOptions) > 0 {
		h.DNSOptions = c.DNSOptions
	}
	if c.Init {
		t := true
		h.Init = &t
	}
}

// runOptsConfig fills inspect's Config fields of the run options.
func (c *Container) runOptsConfig(cfg *api.Config) {
	cfg.User, cfg.WorkingDir, cfg.MacAddress = c.User, c.WorkingDir, c.MacAddress
	if len(c.Labels) > 0 {
		cfg.Labels = c.Labels
	}
}

// runMAC is --mac-address for the container's first endpoint (the network
// run named), nil otherwise. Call with d.mu held.
func runMAC(c *Container) net.HardwareAddr {
	if c.MacAddress == "" || len(c.Endpoints) > 0 {
		return nil
	}
	m, err := net.ParseMAC(c.MacAddress)
	if err != nil {
		return nil
	}
	return m
}
