// Package daemon is the engine's dockerd: one process per lab host that owns
// the state (networks, containers, addresses) and everything that must
// outlive a single CLI call (container processes and their logs). The CLI
// talks to it over a unix socket in the lab host's state directory (package
// api).
//
// The data path for a container reads one way:
// CLI → daemon → ipam → netns → bridge → firewall → container.
package daemon

import (
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/bridge"
	"github.com/nslab/nslab/engine/container"
	edns "github.com/nslab/nslab/engine/dns"
	"github.com/nslab/nslab/engine/firewall"
	"github.com/nslab/nslab/engine/image"
	"github.com/nslab/nslab/engine/ipam"
	"github.com/nslab/nslab/engine/labhost"
	"github.com/nslab/nslab/engine/portmap"
	"github.com/vishvananda/netlink"
)

// Docker's default bridge.
var (
	DefaultBridgeSubnet = netip.MustParsePrefix("172.17.0.0/16")
	DefaultBridgeName   = "docker0"
	DefaultMTU          = 1500
)

// Daemon is the engine state owner.
type Daemon struct {
	dir    string
	nl     *netlink.Handle
	images *image.Store
	// dns is every user-defined network's names; upstream is where the
	// embedded DNS servers forward, from the lab host's resolv.conf.
	dns      *edns.Table
	upstream []string
	ports    *portmap.Allocator
	subnets  ipam.Picker // round-robin over the default pools, guarded by mu
	// mounts is the mount namespace containers' are copied from: the lab
	// host's without the netns pins (engine/container's template.go).
	mounts *container.Template

	// mu guards networks, containers and every field of the Networks
	// and Containers in them. Functions that need it held say "Call with
	// d.mu held"; handlers take it, and stop and each container's reaper
	// release it while they wait for a process.
	mu         sync.Mutex
	networks   map[string]*Network // by ID
	containers map[string]*Container
	// shuttingDown: the daemon is stopping its containers, and no restart
	// policy starts them again. Guarded by mu.
	shuttingDown bool
	// swarm is this daemon's part in the sandbox's swarm, nil unless the
	// lab host is a node (overlay.go). Set before the socket opens.
	swarm *swarmNode
	// goneBridges are bridges of networks a restored daemon found half
	// removed; reconcile deletes their rules (restore.go).
	goneBridges []string
}

// Run starts the daemon in the current lab host and serves until SIGTERM.
// It writes "ready" on fd 3 once the socket accepts calls.
func Run() int {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	ready := os.NewFile(3, "ready")
	start := New
	if os.Getenv(labhost.EnvDaemonRestore) != "" {
		// The supervisor restarted this daemon after its predecessor
		// died: adopt what it left (restore.go).
		os.Unsetenv(labhost.EnvDaemonRestore)
		start = Restore
	}
	d, err := start(labhost.StateDir)
	if err != nil {
		fmt.Fprintf(ready, "%v\n", err)
		return 1
	}
	if err := d.startSwarm(); err != nil {
		fmt.Fprintf(ready, "%v\n", err)
		return 1
	}
	os.Remove(labhost.SocketPath)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: labhost.SocketPath, Net: "unix"})
	if err != nil {
		fmt.Fprintf(ready, "listen: %v\n", err)
		return 1
	}
	fmt.Fprintln(ready, "ready")
	ready.Close()
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigc
		d.Shutdown()
		os.Exit(0)
	}()
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			// A persistent error (EMFILE) must not spin and fill the
			// log on the lab host's tmpfs.
			log.Printf("accept: %v", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		go d.serve(c)
	}
}

// New sets the lab host up as dockerd does at start: IP forwarding on, the
// docker0 bridge at 172.17.0.1/16 with MTU 1500, its outbound NAT, and the
// predefined networks bridge, host and none.
func New(dir string) (*Daemon, error) {
	d, err := newDaemon(dir)
	if err != nil {
		return nil, err
	}
	if err := labhost.SetSysctl("net/ipv4/ip_forward", "1"); err != nil {
		return nil, err
	}
	if err := firewall.Init(); err != nil {
		return nil, err
	}
	if err := d.predefinedNetworks(true); err != nil {
		return nil, err
	}
	d.saveAll()
	return d, nil
}

// newDaemon is a daemon with no networks or containers yet.
func newDaemon(dir string) (*Daemon, error) {
	nl, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	// Before any pin is made or restored, and on every start: a restarted
	// daemon makes a new template, and the netns directory is a mount
	// point already.
	mounts, err := container.NewTemplate(filepath.Join(dir, "netns"))
	if err != nil {
		nl.Close()
		return nil, fmt.Errorf("containers' mount namespace template: %w", err)
	}
	d := &Daemon{
		mounts:     mounts,
		dir:        dir,
		nl:         nl,
		images:     image.NewStore(filepath.Join(dir, "images")),
		networks:   map[string]*Network{},
		containers: map[string]*Container{},
		dns:        edns.NewTable(),
		ports:      portmap.NewAllocator(),
	}
	if rc, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		d.upstream = container.Nameservers(string(rc))
	}
	return d, nil
}

// predefinedNetworks makes the networks bridge (on docker0), host and none.
// With rules set, it also installs docker0's iptables rules; a restored
// daemon finds them in place. Call with d.mu held, or before d is shared.
func (d *Daemon) predefinedNetworks(rules bool) error {
	pool, err := ipam.NewPool(DefaultBridgeSubnet)
	if err != nil {
		return err
	}
	gw, err := pool.Allocate()
	if err != nil {
		return err
	}
	docker0, err := bridge.Ensure(d.nl, DefaultBridgeName, netip.PrefixFrom(gw, DefaultBridgeSubnet.Bits()), DefaultMTU)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, n := range []*Network{
		{Name: "bridge", Driver: "bridge", Bridge: DefaultBridgeName, Subnet: DefaultBridgeSubnet, Gateway: gw, pool: pool, Default: true, MTU: DefaultMTU, link: docker0},
		{Name: "host", Driver: "host"},
		{Name: "none", Driver: "null"},
	} {
		if d.networkByName(n.Name) != nil {
			continue
		}
		n.ID = container.NewID()
		n.Created = now
		d.networks[n.ID] = n
		if n.Driver == driverBridge && rules {
			if err := firewall.AddNetwork(n.firewall()); err != nil {
				return err
			}
		}
	}
	return nil
}

// Shutdown stops every running container. Kernel objects go with the lab
// host.
func (d *Daemon) Shutdown() {
	d.mu.Lock()
	d.shuttingDown = true
	for _, c := range d.containers {
		c.cancelRestart()
	}
	var running []*Container
	for _, c := range d.containers {
		if c.running() {
			running = append(running, c)
		}
	}
	d.mu.Unlock()
	for _, c := range running {
		c.proc.Kill()
		<-c.exited
	}
}

// handler serves one request and replies to it.
type handler func(d *Daemon, s *api.ServerConn)

// handlers is every operation the daemon serves, keyed by the operation its
// request type names, so a handler cannot be filed under another's name.
// run replies itself, as an attached run answers twice; the others answer
// once.
var handlers = table(
	entry{api.RunOptions{}.Op(), (*Daemon).handleRun},
	unary((*Daemon).handlePs),
	unary((*Daemon).handleNodeLs),
	unary((*Daemon).handleInspect),
	unary((*Daemon).handleExecInfo),
	unary((*Daemon).handleLogs),
	unary((*Daemon).handleKill),
	unary((*Daemon).handleStop),
	unary((*Daemon).handleRm),
	unary((*Daemon).handlePort),
	unary((*Daemon).handleNetworkLs),
	unary((*Daemon).handleNetworkInspect),
	unary((*Daemon).handleNetworkCreate),
	unary((*Daemon).handleNetworkRm),
	unary((*Daemon).handleNetworkConnect),
	unary((*Daemon).handleNetworkDisconnect),
	unary((*Daemon).handleTopology),
	unary((*Daemon).handleImages),
	entry{api.StartRequest{}.Op(), (*Daemon).handleStart},
	unary((*Daemon).handleRestart),
)

// entry is one operation's handler.
type entry struct {
	op string
	h  handler
}

func table(entries ...entry) map[string]handler {
	m := map[string]handler{}
	for _, e := range entries {
		if m[e.op] != nil {
			panic("daemon: two handlers for " + e.op)
		}
		m[e.op] = e.h
	}
	return m
}

// unary makes the handler of a function from an operation's request type
// to its response: it decodes the body into Req and replies once.
func unary[Req api.Operation, Resp any](f func(d *Daemon, req Req) (Resp, error)) entry {
	var zero Req
	return entry{zero.Op(), func(d *Daemon, s *api.ServerConn) {
		var req Req
		if err := s.Decode(&req); err != nil {
			s.Reply(nil, fmt.Errorf("bad %s request: %w", req.Op(), err))
			return
		}
		out, err := f(d, req)
		s.Reply(out, labhost.NoSpace(err))
	}}
}

func (d *Daemon) serve(c *net.UnixConn) {
	s, err := api.Accept(c)
	if err != nil {
		log.Printf("request: %v", err)
		c.Close()
		return
	}
	defer s.Close()
	h, ok := handlers[s.Req.Op]
	if !ok {
		s.Reply(nil, fmt.Errorf("unknown operation %q", s.Req.Op))
		return
	}
	h(d, s)
}
