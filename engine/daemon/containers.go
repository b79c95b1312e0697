package daemon

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/bridge"
	"github.com/nslab/nslab/engine/container"
	edns "github.com/nslab/nslab/engine/dns"
	"github.com/nslab/nslab/engine/firewall"
	"github.com/nslab/nslab/engine/image"
	"github.com/nslab/nslab/engine/labhost"
	"github.com/nslab/nslab/engine/netns"
	"github.com/nslab/nslab/engine/portmap"
	"golang.org/x/sys/unix"
)

// Container is one container's state.
type Container struct {
	ID          string
	Name        string
	Image       string
	ImageID     string   // sha256:<hex>, the image's content hash
	Entrypoint  []string // the image's; argv is Entrypoint then Cmd
	Cmd         []string
	Env         []string // the image's Env merged with -e and --env-file
	Hostname    string
	Tty         bool
	OpenStdin   bool
	AutoRemove  bool
	NetworkMode string // bridge, host, none, container:<id>
	PidMode     string // "", host, container:<id>
	Created     time.Time
	StartedAt   time.Time
	FinishedAt  time.Time
	Status      string // created, running, exited
	Pid         int
	ExitCode    int
	SandboxID   string
	SandboxKey  string // pinned netns, empty for host and container modes
	Endpoints   []*Endpoint
	Dir         string
	// What run asked for on its first network.
	RunAliases []string
	RunIP      string
	// Published ports: as asked (HostPort 0 = any), and as running.
	Bindings []portmap.Binding
	Exposed  []portmap.Binding
	Ports    []portmap.Binding
	warnings []string
	// Security and limits (see security.go).
	Privileged      bool
	CapAdd, CapDrop []string
	SecurityOpt     []string
	NoNewPrivileges bool
	Sysctls         map[string]string
	LogConfig       map[string]string // --log-opt as given
	LogMaxSize      int64
	LogMaxFile      int

	lower  string // the image's root filesystem, resolved by create
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has been reaped
	output sync.WaitGroup
	// The embedded DNS server, once the container joins a user-defined
	// network, and what it needs without taking the daemon's lock: the
	// container's user-defined networks, and whether any reaches outside.
	resolver *edns.Resolver
	dnsNets  atomic.Pointer[[]string]
	external atomic.Bool
	proxies  []*portmap.Proxy
	tees     []*teeTarget // an attached run's caller, while it is there
}

// Endpoint is a container's attachment to a bridge network.
type Endpoint struct {
	NetworkID  string
	Network    string
	EndpointID string
	HostVeth   string
	IfName     string
	Addr       netip.Prefix
	Gateway    netip.Addr
	MAC        string
	Aliases    []string // --network-alias / --alias
	DNSNames   []string // names the embedded DNS server answers, first one for PTR
}

func (c *Container) running() bool { return c.Status == "running" }

// argv is what the container runs: the image's entrypoint, then Cmd.
func (c *Container) argv() []string { return append(append([]string{}, c.Entrypoint...), c.Cmd...) }

func (c *Container) file(name string) string { return filepath.Join(c.Dir, name) }

// LogPath is the json-file log, as Docker keeps <id>-json.log.
func (c *Container) LogPath() string { return c.file(c.ID + "-json.log") }

var validName = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// container finds a container by name, full ID or unique ID prefix. Call
// with d.mu held.
func (d *Daemon) container(ref string) (*Container, error) {
	ref = strings.TrimPrefix(ref, "/")
	if ref == "" {
		return nil, errors.New("no container name given")
	}
	for _, c := range d.containers {
		if c.Name == ref || c.ID == ref {
			return c, nil
		}
	}
	var found *Container
	for _, c := range d.containers {
		if strings.HasPrefix(c.ID, ref) {
			if found != nil {
				return nil, fmt.Errorf("multiple IDs found with provided prefix: %s", ref)
			}
			found = c
		}
	}
	if found == nil {
		return nil, fmt.Errorf("No such container: %s", ref)
	}
	return found, nil
}

// create validates a run request and records the container. Nothing is
// changed when it fails. Call with d.mu held.
func (d *Daemon) create(o RunOptions) (*Container, error) {
	img, err := d.images.Get(o.Image)
	if err != nil {
		return nil, err
	}
	c := &Container{
		ID: container.NewID(), Image: o.Image, Cmd: o.Cmd, Tty: o.Tty, OpenStdin: o.Interactive,
		AutoRemove: o.AutoRemove, Created: time.Now(), Status: "created", exited: make(chan struct{}),
	}
	if len(c.Cmd) == 0 {
		c.Cmd = img.Cmd
	}
	c.ImageID, c.Entrypoint = img.ID, img.Entrypoint
	c.Env = image.MergeEnv(img.Env, o.Env)
	for _, p := range img.ExposedPorts {
		b, err := portmap.ParseExposed(p)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", o.Image, err)
		}
		c.Exposed = append(c.Exposed, b)
	}
	c.lower = img.Lower
	c.Name = strings.TrimPrefix(o.Name, "/")
	if o.Name != "" {
		if !validName.MatchString(o.Name) {
			return nil, fmt.Errorf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", o.Name)
		}
		for _, other := range d.containers {
			if other.Name == c.Name {
				return nil, fmt.Errorf("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name.", c.Name, other.ID)
			}
		}
	} else {
		c.Name = d.randomName()
	}
	c.Hostname = c.ID[:12]
	if o.Hostname != "" {
		if err := container.CheckHostname(o.Hostname); err != nil {
			return nil, err
		}
		c.Hostname = o.Hostname
	}

	mode := o.Network
	if mode == "" || mode == "default" {
		mode = "bridge"
	}
	switch {
	case strings.HasPrefix(mode, "container:"):
		if o.Hostname != "" {
			return nil, errors.New("conflicting options: hostname and the network mode")
		}
		x, err := d.joinTarget(strings.TrimPrefix(mode, "container:"), "network namespace")
		if err != nil {
			return nil, err
		}
		c.NetworkMode = "container:" + x.ID
		c.Hostname = x.Hostname
	case mode == "host":
		c.NetworkMode = "host"
		if o.Hostname == "" {
			c.Hostname = labhost.Hostname
		}
	case mode == "none":
		c.NetworkMode = "none"
	default:
		n, err := d.network(mode)
		if err != nil {
			return nil, err
		}
		if n.Driver != "bridge" {
			return nil, fmt.Errorf("network %s is not a bridge network", mode)
		}
		if err := checkEndpointRequest(n, o.Aliases, o.IP); err != nil {
			return nil, err
		}
		c.NetworkMode = n.Name
	}
	if c.NetworkMode == "host" || c.NetworkMode == "none" || strings.HasPrefix(c.NetworkMode, "container:") {
		if len(o.Aliases) > 0 {
			return nil, errors.New("network-scoped alias is supported only for containers in user defined networks")
		}
		if o.IP != "" {
			return nil, errors.New("user specified IP address is supported on user defined networks only")
		}
	}
	c.RunAliases, c.RunIP = o.Aliases, o.IP
	if err := d.checkPorts(c, o); err != nil {
		return nil, err
	}
	switch p := o.Pid; {
	case p == "":
	case p == "host":
		c.PidMode = "host"
	case strings.HasPrefix(p, "container:"):
		x, err := d.joinTarget(strings.TrimPrefix(p, "container:"), "PID")
		if err != nil {
			return nil, err
		}
		c.PidMode = "container:" + x.ID
	default:
		return nil, fmt.Errorf("invalid --pid: %q: use host or container:<name|id>", p)
	}
	if err := applySecurity(c, o); err != nil {
		return nil, err
	}
	c.Dir = filepath.Join(d.dir, "containers", c.ID)
	d.containers[c.ID] = c
	return c, nil
}

// joinTarget checks that a container named for container:X exists and runs.
func (d *Daemon) joinTarget(ref, what string) (*Container, error) {
	if ref == "" {
		return nil, fmt.Errorf("invalid container:<name|id> value: no container named")
	}
	x, err := d.container(ref)
	if err != nil {
		return nil, err
	}
	if !x.running() {
		return nil, fmt.Errorf("cannot join %s of a non running container: %s", what, ref)
	}
	return x, nil
}

var adjectives = strings.Fields("admiring brave clever dazzling eager festive gallant happy jolly keen loving modest nifty peaceful quirky relaxed serene tender upbeat vibrant wizardly youthful zealous")
var surnames = strings.Fields("babbage bohr cerf curie dijkstra euler faraday hopper kahn lamarr liskov lovelace mccarthy noether pike postel ritchie shannon thompson torvalds turing wozniak")

func (d *Daemon) randomName() string {
	for i := 0; ; i++ {
		b := []byte(container.NewID())
		n := adjectives[int(b[0])%len(adjectives)] + "_" + surnames[int(b[1])%len(surnames)]
		if i > 20 {
			n += "_" + string(b[2:4])
		}
		if _, err := d.container(n); err != nil {
			return n
		}
	}
}

// start wires the container's network and starts its process. On failure
// everything it made is undone. Call with d.mu held.
func (d *Daemon) start(c *Container, stdin, stdout, stderr *os.File) (err error) {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	spec := container.Spec{
		Hostname: c.Hostname, Dir: c.Dir, Cmd: c.argv(), Env: c.Env, Tty: c.Tty,
		Stdin: stdin, Stdout: stdout, Stderr: stderr,
		Hosts: c.file("hosts"), HostnameFile: c.file("hostname"), ResolvConf: c.file("resolv.conf"),
		Lower: c.lower, Security: c.security(), Sysctls: c.Sysctls,
	}

	var addrs []netip.Addr
	switch {
	case c.NetworkMode == "host":
		hosts, _ := os.ReadFile("/etc/hosts")
		resolv, _ := os.ReadFile("/etc/resolv.conf")
		if err := writeFiles(c, string(hosts), string(resolv)); err != nil {
			return err
		}
	case strings.HasPrefix(c.NetworkMode, "container:"):
		x, err := d.container(strings.TrimPrefix(c.NetworkMode, "container:"))
		if err != nil || !x.running() {
			return fmt.Errorf("cannot join network namespace of a non running container: %s", strings.TrimPrefix(c.NetworkMode, "container:"))
		}
		spec.NetNS = fmt.Sprintf("/proc/%d/ns/net", x.Pid)
		spec.Hosts, spec.HostnameFile, spec.ResolvConf = x.file("hosts"), x.file("hostname"), x.file("resolv.conf")
	default:
		c.SandboxID = container.NewID()
		c.SandboxKey = filepath.Join(d.dir, "netns", c.SandboxID[:12])
		if err := netns.Create(c.SandboxKey); err != nil {
			return err
		}
		undo = append(undo, func() { netns.Remove(c.SandboxKey); c.SandboxKey = "" })
		spec.NetNS = c.SandboxKey
		if err := netns.Do(c.SandboxKey, disableIPv6); err != nil {
			return err
		}
		if c.NetworkMode == "none" {
			if err := netns.LoopbackUp(c.SandboxKey); err != nil {
				return err
			}
		} else {
			n := d.networkByName(c.NetworkMode)
			ep, err := d.attach(c, n, c.RunAliases, c.RunIP)
			if err != nil {
				return err
			}
			undo = append(undo, func() {
				d.detach(c, ep)
				// The resolver's sockets hold the netns: close them
				// before the unpin that runs next in the undo order.
				if c.resolver != nil {
					c.resolver.Close()
					c.resolver = nil
				}
			})
			addrs = append(addrs, ep.Addr.Addr())
		}
		if err := writeFiles(c, container.HostsFile(c.Hostname, addrs), d.resolvConf(c)); err != nil {
			return err
		}
	}
	if len(c.Bindings) > 0 {
		if err := d.publish(c); err != nil {
			return err
		}
		undo = append(undo, func() { d.unpublish(c) })
	}
	switch c.PidMode {
	case "host":
		spec.PidHost = true
	case "":
	default:
		x, err := d.container(strings.TrimPrefix(c.PidMode, "container:"))
		if err != nil || !x.running() {
			return fmt.Errorf("cannot join PID of a non running container: %s", strings.TrimPrefix(c.PidMode, "container:"))
		}
		spec.PidNS = fmt.Sprintf("/proc/%d/ns/pid", x.Pid)
	}
	cmd, err := container.Start(spec)
	if err != nil {
		return err
	}
	c.cmd = cmd
	c.Pid = cmd.Process.Pid
	c.Status = "running"
	c.StartedAt = time.Now()
	c.exited = make(chan struct{})
	go d.reap(c)
	return nil
}

func writeFiles(c *Container, hosts, resolv string) error {
	for name, body := range map[string]string{
		"hosts": hosts, "hostname": c.Hostname + "\n", "resolv.conf": resolv,
	} {
		if err := os.WriteFile(c.file(name), []byte(body), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

func disableIPv6() error {
	// The notes' containers have no IPv6: no ::1 on lo, no fe80:: on eth0.
	for _, k := range []string{"net/ipv6/conf/all/disable_ipv6", "net/ipv6/conf/default/disable_ipv6"} {
		if err := labhost.SetSysctl(k, "1"); err != nil {
			return err
		}
	}
	return nil
}

// attach allocates an address on n (ip, if given) and wires a veth for it
// as the container's lowest unused ethN. Call with d.mu held.
func (d *Daemon) attach(c *Container, n *Network, aliases []string, ipReq string) (*Endpoint, error) {
	if err := checkEndpointRequest(n, aliases, ipReq); err != nil {
		return nil, err
	}
	var ip netip.Addr
	if ipReq != "" {
		ip = netip.MustParseAddr(ipReq)
		if err := n.pool.Reserve(ip); err != nil {
			return nil, fmt.Errorf("invalid --ip for network %s: %w", n.Name, err)
		}
	} else {
		var err error
		if ip, err = n.pool.Allocate(); err != nil {
			return nil, fmt.Errorf("network %s: %w", n.Name, err)
		}
	}
	ep := &Endpoint{
		NetworkID: n.ID, Network: n.Name, EndpointID: container.NewID(),
		IfName: ifName(c), Addr: netip.PrefixFrom(ip, n.Subnet.Bits()),
		MAC: bridge.MAC(ip).String(), Aliases: aliases, Gateway: n.Gateway,
	}
	// The default route goes through the first network's gateway, unless
	// that network is internal: then there is none, as in Docker.
	var route netip.Addr
	if !n.Internal && len(c.Endpoints) == 0 {
		route = n.Gateway
	}
	if n.userDefined() {
		ep.DNSNames = dedup(append(append([]string{c.Name}, aliases...), c.ID[:12], c.Hostname))
	}
	veth, err := bridge.Attach(d.nl, n.link, c.SandboxKey, bridge.Endpoint{
		IfName: ep.IfName, Addr: ep.Addr, Gateway: route, MTU: n.MTU,
	})
	if err != nil {
		n.pool.Release(ip)
		return nil, err
	}
	ep.HostVeth = veth
	c.Endpoints = append(c.Endpoints, ep)
	if n.userDefined() {
		d.dns.Add(n.Name, ep.DNSNames, ip)
		d.updateDNSView(c)
		if err := d.ensureResolver(c); err != nil {
			d.detach(c, ep)
			return nil, err
		}
	}
	if c.running() {
		d.rewriteHosts(c)
	}
	return ep, nil
}

// ensureResolver starts the container's embedded DNS server on its first
// user-defined network: sockets on 127.0.0.11 in its netns, Docker's NAT
// rules there, and resolv.conf pointing at 127.0.0.11. Call with d.mu held.
func (d *Daemon) ensureResolver(c *Container) error {
	if c.resolver != nil {
		return nil
	}
	r := edns.NewResolver(edns.View{T: d.dns, Networks: func() []string { return *c.dnsNets.Load() }}, d.upstream, c.external.Load)
	if err := r.StartIn(c.SandboxKey); err != nil {
		return err
	}
	if err := firewall.RestoreIn(c.SandboxKey, firewall.ResolverRules(r.UDPPort, r.TCPPort)); err != nil {
		r.Close()
		return fmt.Errorf("embedded DNS rules: %w", err)
	}
	c.resolver = r
	if c.running() {
		if err := os.WriteFile(c.file("resolv.conf"), []byte(d.resolvConf(c)), 0o644); err != nil {
			return fmt.Errorf("rewrite resolv.conf for the embedded DNS server: %w", err)
		}
	}
	return nil
}

// updateDNSView publishes the container's user-defined networks, in the
// order it joined them, to its resolver. Call with d.mu held.
func (d *Daemon) updateDNSView(c *Container) {
	var nets []string
	external := false
	for _, ep := range c.Endpoints {
		if n, ok := d.networks[ep.NetworkID]; ok {
			if n.userDefined() {
				nets = append(nets, n.Name)
			}
			external = external || !n.Internal
		}
	}
	c.dnsNets.Store(&nets)
	c.external.Store(external)
}

// resolvConf is the container's resolv.conf: the embedded server's form
// once it has one, else the lab host's file without loopback servers.
func (d *Daemon) resolvConf(c *Container) string {
	host, _ := os.ReadFile("/etc/resolv.conf")
	if c.resolver != nil {
		return container.InternalResolvConf(string(host))
	}
	return container.LegacyResolvConf(string(host))
}

// checkEndpointRequest validates --network-alias and --ip for network n.
func checkEndpointRequest(n *Network, aliases []string, ipReq string) error {
	if len(aliases) > 0 && !n.userDefined() {
		return errors.New("network-scoped alias is supported only for containers in user defined networks")
	}
	for _, a := range aliases {
		if a == "" || strings.ContainsAny(a, " \t/") {
			return fmt.Errorf("invalid alias %q", a)
		}
	}
	if ipReq == "" {
		return nil
	}
	if !n.userDefined() {
		return errors.New("user specified IP address is supported on user defined networks only")
	}
	if !n.UserSubnet {
		return errors.New("user specified IP address is supported only when connecting to networks with user configured subnets")
	}
	ip, err := netip.ParseAddr(ipReq)
	if err != nil || !ip.Is4() {
		return fmt.Errorf("invalid IPv4 address: %s", ipReq)
	}
	if !n.Subnet.Contains(ip) {
		return fmt.Errorf("Invalid address %s: It does not belong to any of this network's subnets", ip)
	}
	if n.pool.InUse(ip) {
		return fmt.Errorf("invalid --ip %s: Address already in use on network %s", ip, n.Name)
	}
	return nil
}

func dedup(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// detach deletes an endpoint's veth and releases its address. The deletion
// is synchronous, as Docker's is, so when stop or rm returns the bridge
// already shows the port gone. Call with d.mu held.
func (d *Daemon) detach(c *Container, ep *Endpoint) {
	if len(c.Ports) > 0 && c.Endpoints[0] == ep {
		// Published ports go to the first endpoint's address: they go
		// with it, as Docker drops the mapping with the endpoint.
		d.unpublish(c)
	}
	if len(ep.DNSNames) > 0 {
		d.dns.Remove(ep.Network, ep.DNSNames, ep.Addr.Addr())
	}
	if err := bridge.Detach(d.nl, ep.HostVeth); err != nil {
		log.Printf("container %s: %v", c.Name, err)
	}
	if n, ok := d.networks[ep.NetworkID]; ok && n.pool != nil {
		if err := n.pool.Release(ep.Addr.Addr()); err != nil {
			log.Printf("container %s: %v", c.Name, err)
		}
	}
	for i, e := range c.Endpoints {
		if e == ep {
			c.Endpoints = append(c.Endpoints[:i], c.Endpoints[i+1:]...)
			break
		}
	}
	d.updateDNSView(c)
	if c.running() {
		d.rewriteHosts(c)
	}
}

// reap waits for the container's first process and releases its network,
// as Docker deletes a stopped container's endpoints.
func (d *Daemon) reap(c *Container) {
	if c.PidMode != "" {
		// In a shared pid namespace the kernel does not kill the
		// container's other processes when its first one exits; Docker
		// does. init called setsid, so they are its process group. Wait
		// for the exit without reaping (WNOWAIT): while the zombie
		// exists its pid, and so the group's ID, cannot be reused.
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, c.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if err != unix.EINTR {
				break
			}
		}
		unix.Kill(-c.Pid, unix.SIGKILL)
	}
	err := c.cmd.Wait()
	// Output ends when every writer has gone; bound the wait in case some
	// process outside the container still holds a pipe.
	drained := make(chan struct{})
	go func() { c.output.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(2 * time.Second):
		log.Printf("container %s: output still open 2 s after exit; not waiting", c.Name)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c.Status = "exited"
	c.FinishedAt = time.Now()
	c.ExitCode = 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			c.ExitCode = 128 + int(ws.Signal())
		} else {
			c.ExitCode = ee.ExitCode()
		}
	}
	d.releaseNetwork(c)
	close(c.exited)
	if c.AutoRemove {
		d.remove(c)
	}
	d.stateChanged()
}

// releaseNetwork frees addresses and unpins the netns; the kernel destroys
// the namespace and its veths. Call with d.mu held.
func (d *Daemon) releaseNetwork(c *Container) {
	// Detaching the first endpoint also unpublishes the ports.
	for len(c.Endpoints) > 0 {
		d.detach(c, c.Endpoints[0])
	}
	if c.resolver != nil {
		// Its sockets hold the netns: close them before unpinning.
		c.resolver.Close()
		c.resolver = nil
	}
	if c.SandboxKey != "" {
		if err := netns.Remove(c.SandboxKey); err != nil {
			log.Printf("container %s: %v", c.Name, err)
		}
		c.SandboxKey = ""
		c.SandboxID = ""
	}
	c.Pid = 0
}

// remove forgets a stopped container and deletes its files. Call with d.mu
// held.
func (d *Daemon) remove(c *Container) {
	delete(d.containers, c.ID)
	os.RemoveAll(c.Dir)
}

// handleRun creates and starts a container. An attached run keeps the
// connection open and sends the exit code as a second response.
func (d *Daemon) handleRun(s *api.ServerConn) {
	var o RunOptions
	if err := s.Decode(&o); err != nil {
		s.Reply(nil, err)
		return
	}
	d.mu.Lock()
	c, err := d.create(o)
	if err != nil {
		d.mu.Unlock()
		s.Reply(nil, labhost.NoSpace(err))
		return
	}
	stdin, stdout, stderr, closers, err := d.stdio(c, o, s.Files)
	s.Files = nil // stdio owns them now
	if err == nil {
		err = d.start(c, stdin, stdout, stderr)
	}
	for _, f := range closers {
		f.Close()
	}
	if err != nil {
		d.remove(c)
		d.mu.Unlock()
		s.Reply(nil, labhost.NoSpace(err))
		return
	}
	d.stateChanged()
	exited := c.exited
	d.mu.Unlock()
	s.Reply(RunResult{ID: c.ID, Warnings: c.warnings}, nil)
	if o.Detach {
		return
	}
	select {
	case <-exited:
	case <-s.Closed():
		// The caller's nslab run went away: the container runs on,
		// detached, and its output goes to the log only.
		for _, t := range c.tees {
			t.Detach()
		}
		return
	}
	d.mu.Lock()
	code := c.ExitCode
	d.mu.Unlock()
	s.Reply(RunResult{ID: c.ID, ExitCode: &code}, nil)
}

// stdio prepares the container's standard streams. Detached containers
// write to the json log through pipes (or a pty with -t). Attached ones get
// the caller's files: the log is teed from pipes into the caller's stdout
// and stderr, or, with -t, the caller's pty slave is used as it is.
//
// stdio owns every passed file from then on. It returns the files the
// daemon must close once the process has started (the container has its
// own copies); tee targets are closed when their copier has finished.
func (d *Daemon) stdio(c *Container, o RunOptions, passed []*os.File) (stdin, stdout, stderr *os.File, closers []*os.File, err error) {
	fail := func(err error) (*os.File, *os.File, *os.File, []*os.File, error) {
		for _, f := range append(closers, passed...) {
			f.Close()
		}
		return nil, nil, nil, nil, err
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return fail(err)
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return fail(err)
	}
	closers = append(closers, devnull)
	stdin = devnull
	if !o.Detach && o.Tty {
		if len(passed) != 1 {
			return fail(errors.New("an attached run with a terminal passes exactly one file, the pty slave"))
		}
		return passed[0], passed[0], passed[0], append(closers, passed[0]), nil
	}
	lw, err := openJSONLog(c.LogPath(), c.LogMaxSize, c.LogMaxFile)
	if err != nil {
		return fail(err)
	}
	logf := lw
	if o.Tty {
		master, slave, err := pty.Open()
		if err != nil {
			logf.Close()
			return fail(fmt.Errorf("allocate pty: %w", err))
		}
		closers = append(closers, passed...)
		c.output.Add(1)
		go func() {
			defer c.output.Done()
			defer logf.Close()
			defer master.Close()
			lw.copy("stdout", master, nil)
		}()
		return slave, slave, slave, append(closers, slave), nil
	}
	var outs [2]*teeTarget
	if !o.Detach {
		if len(passed) < 2 || len(passed) > 3 {
			logf.Close()
			return fail(errors.New("an attached run passes stdout, stderr and, with -i, stdin"))
		}
		outs = [2]*teeTarget{{f: passed[0]}, {f: passed[1]}}
		c.tees = outs[:]
		if len(passed) == 3 {
			closers = append(closers, passed[2])
			if o.Interactive {
				stdin = passed[2]
			}
		}
	} else {
		closers = append(closers, passed...)
	}
	var wends [2]*os.File
	var pending sync.WaitGroup
	for i, stream := range []string{"stdout", "stderr"} {
		r, w, err := os.Pipe()
		if err != nil {
			logf.Close()
			return fail(err)
		}
		wends[i] = w
		closers = append(closers, w)
		pending.Add(1)
		c.output.Add(1)
		var tee io.Writer
		if outs[i] != nil {
			tee = outs[i]
		}
		go func(stream string, r *os.File, tee io.Writer) {
			defer c.output.Done()
			defer pending.Done()
			defer r.Close()
			lw.copy(stream, r, tee)
		}(stream, r, tee)
	}
	go func() {
		pending.Wait()
		logf.Close()
		for _, t := range outs {
			if t != nil {
				t.Detach()
			}
		}
	}()
	return stdin, wends[0], wends[1], closers, nil
}

// teeTarget is the caller's stdout or stderr during an attached run. If
// the caller goes away (its nslab run was killed), Detach closes it and
// the container's output goes on to the log only, as with Docker.
type teeTarget struct {
	mu sync.Mutex
	f  *os.File
}

func (t *teeTarget) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f != nil {
		t.f.Write(p)
	}
	return len(p), nil
}

// Detach closes the caller's file; later output is dropped.
func (t *teeTarget) Detach() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
}

func init() {
	handlers["ps"] = func(d *Daemon, s *api.ServerConn) (any, error) {
		var req NameRequest
		if err := s.Decode(&req); err != nil {
			return nil, err
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		var out []PsEntry
		for _, c := range d.containers {
			if !req.All && !c.running() {
				continue
			}
			out = append(out, PsEntry{
				ID: c.ID, Image: c.Image, Command: strings.Join(c.argv(), " "), Created: c.Created,
				Status: c.Status, Names: c.Name, Running: c.running(), ExitCode: c.ExitCode, Ports: portsColumn(c),
				Finished: c.FinishedAt, Started: c.StartedAt,
			})
		}
		return out, nil
	}
	handlers["inspect"] = func(d *Daemon, s *api.ServerConn) (any, error) {
		var req NameRequest
		if err := s.Decode(&req); err != nil {
			return nil, err
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		var out []any
		for _, ref := range req.Names {
			c, err := d.container(ref)
			if err != nil {
				if n, nerr := d.network(ref); nerr == nil {
					out = append(out, d.networkJSON(n))
					continue
				}
				return nil, err
			}
			out = append(out, d.containerJSON(c))
		}
		return out, nil
	}
	handlers["exec-info"] = func(d *Daemon, s *api.ServerConn) (any, error) {
		var req NameRequest
		if err := s.Decode(&req); err != nil || len(req.Names) != 1 {
			return nil, errors.New("exec needs exactly one container")
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		c, err := d.container(req.Names[0])
		if err != nil {
			return nil, err
		}
		if !c.running() {
			return nil, fmt.Errorf("container %s is not running", c.ID)
		}
		return ExecInfo{ID: c.ID, Pid: c.Pid, Hostname: c.Hostname, Security: c.security(), Env: c.Env}, nil
	}
	handlers["logs"] = func(d *Daemon, s *api.ServerConn) (any, error) {
		var req NameRequest
		if err := s.Decode(&req); err != nil || len(req.Names) != 1 {
			return nil, errors.New("logs needs exactly one container")
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		c, err := d.container(req.Names[0])
		if err != nil {
			return nil, err
		}
		return c.LogPath(), nil
	}
	handlers["kill"] = func(d *Daemon, s *api.ServerConn) (any, error) {
		var req NameRequest
		if err := s.Decode(&req); err != nil {
			return nil, err
		}
		sig := syscall.Signal(req.Signal)
		if sig == 0 {
			sig = syscall.SIGKILL
		}
		return d.eachContainer(req.Names, func(c *Container) error {
			d.mu.Lock()
			defer d.mu.Unlock()
			if !c.running() {
				return fmt.Errorf("cannot kill container: %s: container %s is not running", c.Name, c.ID)
			}
			return c.cmd.Process.Signal(sig)
		})
	}
	handlers["stop"] = func(d *Daemon, s *api.ServerConn) (any, error) {
		var req NameRequest
		if err := s.Decode(&req); err != nil {
			return nil, err
		}
		return d.eachContainer(req.Names, func(c *Container) error {
			d.stop(c, time.Duration(req.Timeout)*time.Second)
			return nil
		})
	}
	handlers["rm"] = func(d *Daemon, s *api.ServerConn) (any, error) {
		var req NameRequest
		if err := s.Decode(&req); err != nil {
			return nil, err
		}
		return d.eachContainer(req.Names, func(c *Container) error {
			d.mu.Lock()
			running := c.running()
			d.mu.Unlock()
			if running {
				if !req.Force {
					return fmt.Errorf("You cannot remove a running container %s. Stop the container before attempting removal or force remove", c.ID)
				}
				d.stop(c, 0)
			}
			d.mu.Lock()
			d.remove(c)
			d.stateChanged()
			d.mu.Unlock()
			return nil
		})
	}
}

// eachContainer applies fn to each named container, without holding d.mu.
func (d *Daemon) eachContainer(names []string, fn func(*Container) error) (any, error) {
	return eachName(names, func(ref string) error {
		d.mu.Lock()
		c, err := d.container(ref)
		d.mu.Unlock()
		if err != nil {
			return err
		}
		return fn(c)
	})
}

// eachName applies fn to each name and returns the names it succeeded for
// and, joined, the errors, as Docker's multi-name verbs report them.
func eachName(names []string, fn func(string) error) ([]string, error) {
	var done, errs []string
	for _, ref := range names {
		if err := fn(ref); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		done = append(done, ref)
	}
	if len(errs) > 0 {
		return done, errors.New(strings.Join(errs, "\n"))
	}
	return done, nil
}

// stop sends SIGTERM, waits up to timeout, then SIGKILL, and waits for the
// process to be reaped. A PID 1 without a SIGTERM handler ignores SIGTERM,
// which is why `docker stop` of a busybox shell takes the full 10 s.
func (d *Daemon) stop(c *Container, timeout time.Duration) {
	d.mu.Lock()
	if !c.running() {
		d.mu.Unlock()
		return
	}
	p, exited := c.cmd.Process, c.exited
	d.mu.Unlock()
	if timeout < 0 {
		// As Docker: a negative timeout waits for as long as it takes.
		p.Signal(syscall.SIGTERM)
		<-exited
		return
	}
	if timeout > 0 {
		p.Signal(syscall.SIGTERM)
		select {
		case <-exited:
			return
		case <-time.After(timeout):
		}
	}
	p.Kill()
	<-exited
}

// containerJSON renders `inspect` in Docker's shape (the fields the labs and
// the notes use). Call with d.mu held.
func (d *Daemon) containerJSON(c *Container) ordered {
	networks := map[string]any{}
	ns := ordered{
		{"Bridge", ""}, {"SandboxID", c.SandboxID}, {"SandboxKey", c.SandboxKey},
		{"Ports", portsJSON(c)},
	}
	var primary *Endpoint
	for _, ep := range c.Endpoints {
		if primary == nil {
			primary = ep
		}
		networks[ep.Network] = ordered{
			{"IPAMConfig", nil}, {"Links", nil}, {"Aliases", ep.Aliases}, {"MacAddress", ep.MAC},
			{"NetworkID", ep.NetworkID}, {"EndpointID", ep.EndpointID}, {"Gateway", ep.Gateway.String()},
			{"IPAddress", ep.Addr.Addr().String()}, {"IPPrefixLen", ep.Addr.Bits()},
			{"IPv6Gateway", ""}, {"GlobalIPv6Address", ""}, {"GlobalIPv6PrefixLen", 0}, {"DNSNames", ep.DNSNames},
		}
	}
	if (c.NetworkMode == "host" || c.NetworkMode == "none") && c.running() {
		if n := d.networkByName(c.NetworkMode); n != nil {
			networks[c.NetworkMode] = ordered{
				{"IPAMConfig", nil}, {"Links", nil}, {"Aliases", nil}, {"MacAddress", ""},
				{"NetworkID", n.ID}, {"EndpointID", ""}, {"Gateway", ""}, {"IPAddress", ""},
				{"IPPrefixLen", 0}, {"IPv6Gateway", ""}, {"GlobalIPv6Address", ""}, {"GlobalIPv6PrefixLen", 0}, {"DNSNames", nil},
			}
		}
	}
	gw, ip, plen, mac := "", "", 0, ""
	if primary != nil && primary.Network == "bridge" {
		gw, ip, plen, mac = primary.Gateway.String(), primary.Addr.Addr().String(), primary.Addr.Bits(), primary.MAC
	}
	ns = append(ns, ordered{
		{"Gateway", gw}, {"IPAddress", ip}, {"IPPrefixLen", plen}, {"MacAddress", mac},
		{"Networks", networks},
	}...)
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "0001-01-01T00:00:00Z"
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	path, args := "", []string{}
	if argv := c.argv(); len(argv) > 0 {
		path, args = argv[0], argv[1:]
	}
	hostsPath, resolvPath, hostnamePath := c.file("hosts"), c.file("resolv.conf"), c.file("hostname")
	if strings.HasPrefix(c.NetworkMode, "container:") {
		if x, err := d.container(strings.TrimPrefix(c.NetworkMode, "container:")); err == nil {
			hostsPath, resolvPath, hostnamePath = x.file("hosts"), x.file("resolv.conf"), x.file("hostname")
		}
	}
	return ordered{
		{"Id", c.ID},
		{"Created", ts(c.Created)},
		{"Path", path},
		{"Args", args},
		{"State", ordered{
			{"Status", c.Status}, {"Running", c.running()}, {"Paused", false}, {"Restarting", false},
			{"OOMKilled", false}, {"Dead", false}, {"Pid", c.Pid}, {"ExitCode", c.ExitCode}, {"Error", ""},
			{"StartedAt", ts(c.StartedAt)}, {"FinishedAt", ts(c.FinishedAt)},
		}},
		{"Image", c.ImageID},
		{"ResolvConfPath", resolvPath},
		{"HostnamePath", hostnamePath},
		{"HostsPath", hostsPath},
		{"LogPath", c.LogPath()},
		{"Name", "/" + c.Name},
		{"HostConfig", ordered{
			{"LogConfig", ordered{{"Type", "json-file"}, {"Config", c.LogConfig}}},
			{"NetworkMode", c.NetworkMode}, {"PidMode", c.PidMode}, {"AutoRemove", c.AutoRemove}, {"PortBindings", portBindingsJSON(c)},
			{"CapAdd", c.CapAdd}, {"CapDrop", c.CapDrop}, {"Privileged", c.Privileged}, {"SecurityOpt", c.SecurityOpt},
			{"Sysctls", c.Sysctls},
		}},
		{"Config", ordered{
			{"Hostname", c.Hostname}, {"Tty", c.Tty}, {"OpenStdin", c.OpenStdin},
			{"ExposedPorts", exposedJSON(c)}, {"Env", c.Env}, {"Cmd", c.Cmd}, {"Image", c.Image},
			{"Entrypoint", c.Entrypoint},
		}},
		{"NetworkSettings", ns},
	}
}
