// Container life cycle: create validates a run and records the container,
// start wires its network and starts its process, reap records the exit and
// releases the network, stop and remove end it. Every function that reads
// or changes a Container says whether it needs d.mu held.

package daemon

import (
	"errors"
	"fmt"
	"log"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/container"
	edns "github.com/nslab/nslab/engine/dns"
	"github.com/nslab/nslab/engine/image"
	"github.com/nslab/nslab/engine/internal/reap"
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
	// Restart policy, stop signal, start errors (see lifecycle.go).
	Lifecycle
	// Mounts, process, DNS and metadata (see runopts.go).
	RunOpts

	lower  string        // the image's root filesystem, resolved by create
	proc   *reap.Process // the first process, while it runs
	exited chan struct{} // closed when the process has been reaped
	// shim is the log shim this daemon started for the current run,
	// which waitOutput reaps; output counts adopted ones (restore.go).
	shim   *reap.Process
	output sync.WaitGroup
	// The embedded DNS server, once the container joins a user-defined
	// network, and what it needs without taking the daemon's lock: the
	// container's user-defined networks, and whether any reaches outside.
	resolver *edns.Resolver
	dnsNets  atomic.Pointer[[]string]
	external atomic.Bool
	proxies  []*portmap.Proxy
	tees     []*teeTarget // an attached run's caller, while it is there
	Inspect  inspectState // what only inspect shows (inspect.go)
	live     liveInfo     // what a restarted daemon needs to adopt it (restore.go)
}

func (c *Container) running() bool { return c.Status == "running" }

// argv is what the container runs: the image's entrypoint, then Cmd.
func (c *Container) argv() []string { return append(append([]string{}, c.Entrypoint...), c.Cmd...) }

func (c *Container) file(name string) string { return filepath.Join(c.Dir, name) }

// LogPath is the json-file log, as Docker keeps <id>-json.log.
func (c *Container) LogPath() string { return c.file(c.ID + "-json.log") }

// create validates a run request and records the container. Nothing is
// changed when it fails. Call with d.mu held.
func (d *Daemon) create(o api.RunOptions) (*Container, error) {
	img, err := d.images.Get(o.Image)
	if err != nil {
		return nil, err
	}
	c := &Container{
		ID: container.NewID(), Image: o.Image, Cmd: o.Cmd, Tty: o.Tty, OpenStdin: o.Interactive,
		AutoRemove: o.AutoRemove, Created: time.Now(), Status: "created", exited: make(chan struct{}),
	}
	c.ImageID = img.ID
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
		if !validName().MatchString(o.Name) {
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
		if !n.hasEndpoints() {
			return nil, fmt.Errorf("network %s is not a bridge or macvlan network", mode)
		}
		if err := checkRunEndpoint(n, o.Aliases, o.IP); err != nil {
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
	if err := applyLifecycle(c, o); err != nil {
		return nil, err
	}
	if err := d.applyRunOpts(c, o, img.Entrypoint, img.Cmd); err != nil {
		return nil, err
	}
	c.Dir = filepath.Join(d.dir, "containers", c.ID)
	c.Inspect = newInspectState(c, o)
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

// start wires the container's network and starts its process. On failure
// everything it made is undone. Call with d.mu held.
func (d *Daemon) start(c *Container, stdin, stdout, stderr *os.File) (err error) {
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
			if s := c.shim; s != nil {
				// No container to wait for: the shim ends once the
				// caller closes the pipes' write ends.
				c.shim = nil
				go s.Wait()
			}
		}
	}()
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	spec := container.Spec{
		Template: d.mounts,
		Hostname: c.Hostname, Dir: c.Dir, Cmd: c.argv(), Env: c.Env, Tty: c.Tty,
		Stdin: stdin, Stdout: stdout, Stderr: stderr,
		Hosts: c.file("hosts"), HostnameFile: c.file("hostname"), ResolvConf: c.file("resolv.conf"),
		Lower: c.lower, Security: c.security(), Sysctls: c.Sysctls,
		WorkDir: c.WorkingDir, Init: c.Init,
	}
	if spec.Mounts, err = c.containerMounts(); err != nil {
		return err
	}

	var addrs []netip.Addr
	switch {
	case c.NetworkMode == "host":
		if err := netns.PinOwn(d.hostSandboxKey()); err != nil {
			return err
		}
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
			if err := d.reconnect(c, &undo); err != nil {
				return err
			}
		}
		if err := writeFiles(c, d.hostsFile(c, addrs), d.resolvConf(c)); err != nil {
			return err
		}
	}
	if len(c.Bindings) > 0 {
		if err := d.publish(c); err != nil {
			if len(c.Endpoints) > 0 {
				return fmt.Errorf("driver failed programming external connectivity on endpoint %s (%s): %w", c.Name, c.Endpoints[0].EndpointID, err)
			}
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
	proc, err := container.Start(spec)
	if err != nil {
		return ociStartError(err)
	}
	c.proc = proc
	c.Pid = proc.Pid
	// This run's start time: a restored daemon adopts the process by it,
	// and the one of a run before would make it look like another.
	c.live.Start = labhost.StartTime(c.Pid)
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

// disableIPv6 turns IPv6 off in the calling thread's network namespace:
// the notes' containers have no IPv6, no ::1 on lo and no fe80:: on eth0.
// Writing conf/all/disable_ipv6 sets conf/default's too (the kernel's
// addrconf_disable_ipv6), so interfaces made later start with it off, and
// one write is enough. Each /proc/sys/net lookup walks a dentry chain with
// one entry per network namespace on the machine (proc_sys_compare), so
// this write grows with the number of containers; dropping the second
// write made no difference measurable above the noise (engine/README.md).
func disableIPv6() error {
	return labhost.SetSysctl("net/ipv6/conf/all/disable_ipv6", "1")
}

// reap waits for the container's first process and releases its network,
// as Docker deletes a stopped container's endpoints.
func (d *Daemon) reap(c *Container) {
	c.proc.Exited() // in the poller: see teardown.go
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
	record := keepExit(c) // live-restore (restore.go)
	ws, err := c.proc.Wait()
	waitOutput(c)
	d.mu.Lock()
	defer d.mu.Unlock()
	c.live.exitRecord = record
	c.Status = "exited"
	c.FinishedAt = time.Now()
	c.ExitCode = reap.ExitCode(ws)
	if err != nil {
		log.Printf("container %s: %v", c.Name, err)
		c.ExitCode = 255
	}
	d.releaseNetwork(c)
	close(c.exited)
	if c.AutoRemove {
		d.remove(c)
	} else {
		d.afterExit(c)
	}
	d.saveContainer(c)
}

// releaseNetwork frees addresses and unpins the netns; the kernel destroys
// the namespace and its veths. Call with d.mu held.
func (d *Daemon) releaseNetwork(c *Container) {
	d.keepForInspect(c)
	rememberConnected(c)
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
	os.RemoveAll(c.Dir) // and its state file with it
	c.dropExitRecord()
	trimSoon() // see teardown.go
}

// handleRun creates and starts a container. An attached run keeps the
// connection open and sends the exit code as a second response.
func (d *Daemon) handleRun(s *api.ServerConn) {
	var o api.RunOptions
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
		// Created, it stays, with its name, as Docker leaves a container
		// that could not start; with --rm it goes.
		err = labhost.NoSpace(err)
		startFailed(c, err)
		if c.AutoRemove {
			d.remove(c)
		}
		d.saveContainer(c)
		d.mu.Unlock()
		s.Reply(api.RunResult{ID: c.ID, StartError: err.Error()}, nil)
		return
	}
	d.saveContainer(c)
	exited := c.exited
	d.mu.Unlock()
	s.Reply(api.RunResult{ID: c.ID, Warnings: c.warnings}, nil)
	if o.Detach {
		return
	}
	if code, ok := d.awaitExit(s, c, exited); ok {
		s.Reply(api.RunResult{ID: c.ID, ExitCode: &code}, nil)
	}
}

// awaitExit waits, for an attached run or start, until the container has
// exited (its code, true) or the caller has gone (false): then the
// container runs on, detached, and its output goes to the log only.
func (d *Daemon) awaitExit(s *api.ServerConn, c *Container, exited <-chan struct{}) (int, bool) {
	select {
	case <-exited:
	case <-s.Closed():
		for _, t := range c.tees {
			t.Detach()
		}
		return 0, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return c.ExitCode, true
}

// handlePs lists containers, running ones or, with All, every one.
func (d *Daemon) handlePs(req api.PsRequest) ([]api.PsEntry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []api.PsEntry
	for _, c := range d.containers {
		if !req.All && !c.running() {
			continue
		}
		out = append(out, api.PsEntry{
			ID: c.ID, Image: c.Image, Command: psCommand(c.argv()), Created: c.Created,
			Names: c.Name, Running: c.running(), ExitCode: c.ExitCode, Ports: portsColumn(c),
			Finished: c.FinishedAt, Started: c.StartedAt, Restarting: c.restarting(),
			ImageID: c.ImageID, State: c.Status, Networks: d.psNetworks(c),
		})
	}
	return out, nil
}

// handleExecInfo says how to enter a running container.
func (d *Daemon) handleExecInfo(req api.ExecInfoRequest) (api.ExecInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.container(req.Container)
	if err != nil {
		return api.ExecInfo{}, err
	}
	if !c.running() {
		return api.ExecInfo{}, fmt.Errorf("container %s is not running", c.ID)
	}
	return api.ExecInfo{ID: c.ID, Pid: c.Pid, Hostname: c.Hostname, Security: c.security(), Env: c.Env}, nil
}

// handleKill signals each named container's first process. With SIGKILL
// (the default) it returns once the container has exited, as Docker's
// ContainerKill does: a `docker inspect` right after `docker kill` sees it
// exited. Any other signal is only sent.
func (d *Daemon) handleKill(req api.KillRequest) ([]string, error) {
	sig := syscall.Signal(req.Signal)
	if sig == 0 {
		sig = syscall.SIGKILL
	}
	return d.eachContainer(req.Names, func(c *Container) error {
		d.mu.Lock()
		if !c.running() {
			d.mu.Unlock()
			return fmt.Errorf("cannot kill container: %s: container %s is not running", c.Name, c.ID)
		}
		c.manuallyStopped = true // as Docker: no policy restart after kill
		exited := c.exited
		err := c.proc.Signal(sig)
		d.mu.Unlock()
		if err == nil && sig == syscall.SIGKILL {
			<-exited
		}
		return err
	})
}

// handleStop stops each named container.
func (d *Daemon) handleStop(req api.StopRequest) ([]string, error) {
	return d.eachContainer(req.Names, func(c *Container) error {
		d.stop(c, time.Duration(req.Timeout)*time.Second)
		return nil
	})
}

// handleRm removes each named container; a running one only with Force.
func (d *Daemon) handleRm(req api.RmRequest) ([]string, error) {
	return d.eachContainer(req.Names, func(c *Container) error {
		d.mu.Lock()
		running, restarting := c.running(), c.restarting()
		d.mu.Unlock()
		if running || restarting {
			if !req.Force {
				state := "running"
				if restarting {
					state = "restarting"
				}
				return fmt.Errorf("You cannot remove a %s container %s. Stop the container before attempting removal or force remove", state, c.ID)
			}
			d.stop(c, 0)
		}
		d.mu.Lock()
		d.remove(c)
		d.mu.Unlock()
		return nil
	})
}

// eachContainer applies fn to each named container, without holding d.mu.
func (d *Daemon) eachContainer(names []string, fn func(*Container) error) ([]string, error) {
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
	c.manuallyStopped = true // no policy restart after stop
	c.cancelRestart()
	if !c.running() {
		d.saveContainer(c) // a restarting one is exited now
		d.mu.Unlock()
		return
	}
	p, exited, sig := c.proc, c.exited, c.stopSignal()
	d.mu.Unlock()
	if timeout < 0 {
		// As Docker: a negative timeout waits for as long as it takes.
		p.Signal(sig)
		<-exited
		return
	}
	if timeout > 0 {
		p.Signal(sig)
		select {
		case <-exited:
			return
		case <-time.After(timeout):
		}
	}
	p.Kill()
	<-exited
}

// waitOutput waits until the container's output has ended, which is when
// every writer has gone; bounded, in case some process outside the
// container still holds a pipe.
func waitOutput(c *Container) {
	drained := make(chan struct{})
	shim := c.shim
	go func() {
		c.output.Wait()
		if shim != nil {
			shim.Wait()
		}
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(2 * time.Second):
		log.Printf("container %s: output still open 2 s after exit; not waiting", c.Name)
	}
}
