// Live-restore, the daemon's part. When the daemon dies (SIGKILL, a panic,
// the OOM killer), the lab host's supervisor starts a new one with
// NSLAB_DAEMON_RESTORE set, and Restore rebuilds the state from the state
// files (store.go) and the kernel, as dockerd does with live-restore on:
//
//   - networks: their bridges and iptables rules are still in the kernel;
//     Restore finds the bridges and rebuilds the address pools;
//   - running containers: the first process must be the same process (pid
//     and start time, pinned with a pidfd), its netns pin and host veths
//     must still exist; then its addresses are reserved again, its names
//     go back into the DNS table, its embedded DNS server re-binds the same
//     ports on 127.0.0.11 (the DNAT rules live on in its netns), its
//     docker-proxy processes are adopted by pid, and its log shim too;
//   - a container that exited while no daemon ran gets the exit status the
//     supervisor kept when it reaped it (labhost.Exit), or 255 if none was
//     kept; its network is released as at any exit;
//   - whatever cannot be adopted is removed and logged: a container whose
//     adoption fails is killed and released; processes, netns pins,
//     container directories, veths, br- bridges and iptables rules that no
//     restored object owns (the debris of an operation the old daemon was
//     in the middle of) are removed.

package daemon

import (
	"errors"
	"fmt"
	"log"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nslab/nslab/engine/bridge"
	edns "github.com/nslab/nslab/engine/dns"
	"github.com/nslab/nslab/engine/firewall"
	"github.com/nslab/nslab/engine/internal/reap"
	"github.com/nslab/nslab/engine/ipam"
	"github.com/nslab/nslab/engine/labhost"
	"github.com/nslab/nslab/engine/macvlan"
	"github.com/nslab/nslab/engine/netns"
	"github.com/nslab/nslab/engine/overlay"
	"github.com/nslab/nslab/engine/portmap"
	"golang.org/x/sys/unix"
)

// liveInfo is what a restarted daemon needs, beyond a Container's exported
// state, to adopt it while it runs. It is kept in the state file.
type liveInfo struct {
	Start     string `json:",omitempty"` // the first process's labhost.StartTime
	ShimPid   int    `json:",omitempty"` // the log shim (logshim.go)
	ShimStart string `json:",omitempty"`
	DNSUDP    int    `json:",omitempty"` // the embedded DNS server's ports
	DNSTCP    int    `json:",omitempty"`
	Proxies   []int  `json:",omitempty"` // docker-proxy pids, in Ports' order
	// exitRecord is the exit record keepExit made, until the container's
	// state file has the exit.
	exitRecord string
}

// dropExitRecord removes c's exit record, once its state file has the exit
// or c is gone.
func (c *Container) dropExitRecord() {
	if c.live.exitRecord != "" {
		os.Remove(c.live.exitRecord)
		c.live.exitRecord = ""
	}
}

// keepExit waits for c's first process to exit, without reaping it, and
// keeps its status where a restarted daemon finds it (labhost.Exit): if
// this daemon dies after it has reaped the process but before the state
// file says so, the status is not lost. It returns the record's path.
func keepExit(c *Container) string {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, c.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err == nil {
			break
		}
		if err != unix.EINTR {
			return ""
		}
	}
	start := labhost.StartTime(c.Pid) // the zombie still holds it
	if start == "" {
		return ""
	}
	return labhost.RecordExit(c.Pid, start, labhost.WaitStatusOf(&info))
}

// liveOf is c's liveInfo: the start times start and startLogShim recorded
// for this run, and its DNS ports and proxies now. Call with d.mu held.
func liveOf(c *Container) liveInfo {
	li := c.live
	if c.resolver != nil {
		li.DNSUDP, li.DNSTCP = c.resolver.UDPPort, c.resolver.TCPPort
	}
	li.Proxies = nil
	for _, p := range c.proxies {
		li.Proxies = append(li.Proxies, p.Pid())
	}
	return li
}

// Restore builds a daemon from the state files (store.go) and the kernel,
// after the daemon before it died. See the file comment.
func Restore(dir string) (*Daemon, error) {
	d, err := newDaemon(dir)
	if err != nil {
		return nil, err
	}
	// The images' directories are the lower layers of the containers
	// about to be adopted: take them as they are.
	d.images.ReuseBuilt()
	st := loadState(dir)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.restoreNetworks(st.Networks); err != nil {
		return nil, err
	}
	adopted, lost := 0, 0
	for _, c := range st.Containers {
		c.exited = make(chan struct{})
		if img, err := d.images.Get(c.Image); err == nil {
			c.lower = img.Lower
		}
		d.containers[c.ID] = c
		if !c.running() {
			close(c.exited)
			if c.restarting() {
				// The old daemon died while its restart policy waited
				// out a back-off: wait again, then start it.
				c.backoff = backoffFirst
				d.armRestart(c)
			}
			continue
		}
		if err := d.adopt(c, st.Live[c.ID]); err != nil {
			log.Printf("restore: container %s (%s): not adopted: %v", c.Name, c.ID[:12], err)
			d.lose(c, st.Live[c.ID])
			lost++
			continue
		}
		adopted++
	}
	d.reconcile()
	log.Printf("restore: %d networks, %d containers (%d running re-adopted, %d lost while no daemon ran)",
		len(d.networks), len(d.containers), adopted, lost)
	d.saveAll()
	return d, nil
}

// restoreNetworks rebuilds the networks' pools and finds their bridges.
// Without a saved bridge network (no state file) it makes the predefined
// ones again, over the docker0 and rules the first daemon made. Call with
// d.mu held.
func (d *Daemon) restoreNetworks(saved []*Network) error {
	haveDefault := false
	for _, n := range saved {
		if n.Driver == driverBridge {
			if err := n.restorePool(); err != nil {
				return err
			}
			link, err := d.nl.LinkByName(n.Bridge)
			if err != nil && !n.Default {
				// network rm deletes the bridge first: the old daemon
				// died while removing this network. Finish the removal
				// (reconcile deletes its remaining rules).
				log.Printf("restore: network %s: bridge %s is gone (%v); it was being removed: removing it", n.Name, n.Bridge, err)
				d.goneBridges = append(d.goneBridges, n.Bridge)
				continue
			}
			if err != nil {
				log.Printf("restore: network %s: bridge %s is gone (%v); creating it again", n.Name, n.Bridge, err)
				if link, err = bridge.Ensure(d.nl, n.Bridge, netip.PrefixFrom(n.Gateway, n.Subnet.Bits()), n.MTU); err != nil {
					return fmt.Errorf("restore network %s: %w", n.Name, err)
				}
			}
			n.link = link
			haveDefault = haveDefault || n.Default
		}
		if n.Driver == driverOverlay {
			// The manager's table has the truth: the network is
			// dropped by applySwarm if it has gone meanwhile.
			d.networks[n.ID] = n
			continue
		}
		if n.Driver == driverMacvlan {
			keep, err := d.restoreMacvlan(n)
			if err != nil {
				return err
			}
			if !keep {
				continue
			}
		}
		d.networks[n.ID] = n
	}
	if haveDefault {
		return nil
	}
	return d.predefinedNetworks(false)
}

// restorePool makes n's address pool again, with its gateway taken;
// adopt takes the addresses of the containers it re-adopts.
func (n *Network) restorePool() error {
	pool, err := ipam.NewPool(n.Subnet)
	if err != nil {
		return fmt.Errorf("restore network %s: %w", n.Name, err)
	}
	if n.IPRange != "" {
		if err := setRange(pool, n.Subnet, n.IPRange); err != nil {
			return fmt.Errorf("restore network %s: %w", n.Name, err)
		}
	}
	if err := pool.Reserve(n.Gateway); err != nil {
		return fmt.Errorf("restore network %s: gateway: %w", n.Name, err)
	}
	if err := reserveAux(pool, n.Subnet, n.AuxAddress); err != nil {
		return fmt.Errorf("restore network %s: %w", n.Name, err)
	}
	n.pool = pool
	return nil
}

// restoreMacvlan rebuilds a macvlan network's pool and finds its parent.
// A parent of the user's that is gone leaves the network in place, as
// dockerd does: its containers are not adopted, and a run on it says the
// parent is gone until it is back. A parent the network made itself is
// gone only if network rm deleted it and the old daemon died before it
// saved the removal: keep says to finish the removal instead.
func (d *Daemon) restoreMacvlan(n *Network) (keep bool, err error) {
	if err := n.restorePool(); err != nil {
		return false, err
	}
	if n.link, err = d.nl.LinkByName(n.Parent); err != nil {
		n.link = nil
		if n.OwnParent {
			log.Printf("restore: network %s: its own parent %s is gone (%v); it was being removed: removing it", n.Name, n.Parent, err)
			return false, nil
		}
		log.Printf("restore: network %s: parent interface %s is gone (%v)", n.Name, n.Parent, err)
	}
	return true, nil
}

// adopt takes over a running container. It fails, changing nothing that
// lose does not undo, when any part of it is gone. Call with d.mu held.
func (d *Daemon) adopt(c *Container, li liveInfo) error {
	if c.Pid <= 0 || li.Start == "" {
		return errors.New("no pid recorded")
	}
	pidfd, err := pinProcess(c.Pid, li.Start)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(pidfd)
		}
	}()
	if c.SandboxKey != "" {
		if _, err := os.Stat(c.SandboxKey); err != nil {
			return fmt.Errorf("netns pin: %w", err)
		}
	}
	for _, ep := range c.Endpoints {
		n, found := d.networks[ep.NetworkID]
		if found && ep.OverlayNS != "" {
			if err := overlay.Check(ep.OverlayNS, ep.HostVeth); err != nil {
				return fmt.Errorf("endpoint %s: %w", ep.IfName, err)
			}
			continue
		}
		if !found || n.pool == nil {
			return fmt.Errorf("endpoint %s: network %s is gone", ep.IfName, ep.Network)
		}
		if ep.HostVeth == "" {
			if n.link == nil {
				return fmt.Errorf("endpoint %s: network %s's parent %s is gone", ep.IfName, ep.Network, n.Parent)
			}
			if err := macvlan.Check(c.SandboxKey, ep.IfName); err != nil {
				return fmt.Errorf("endpoint %s: %w", ep.IfName, err)
			}
			continue
		}
		if _, err := d.nl.LinkByName(ep.HostVeth); err != nil {
			return fmt.Errorf("endpoint %s: host veth %s: %w", ep.IfName, ep.HostVeth, err)
		}
	}
	// From here on, every step is undone by lose's release.
	var reserved []*Endpoint
	for _, ep := range c.Endpoints {
		n := d.networks[ep.NetworkID]
		if ep.OverlayNS != "" {
			// The manager holds the address; the table's other
			// nodes come back with the first poll.
			d.dns.Add(n.Name, ep.DNSNames, ep.Addr.Addr())
			continue
		}
		if err := n.pool.Reserve(ep.Addr.Addr()); err != nil {
			d.unreserve(reserved)
			return fmt.Errorf("endpoint %s: address %s: %w", ep.IfName, ep.Addr.Addr(), err)
		}
		reserved = append(reserved, ep)
		if len(ep.DNSNames) > 0 {
			d.dns.Add(n.Name, ep.DNSNames, ep.Addr.Addr())
		}
	}
	d.updateDNSView(c)
	if li.DNSUDP > 0 {
		r, err := d.rebindResolver(c, li)
		if err != nil {
			d.releaseAdopted(c)
			return err
		}
		c.resolver = r
	}
	if len(c.Ports) > 0 {
		if err := d.adoptPorts(c, li); err != nil {
			d.releaseAdopted(c)
			return err
		}
	}
	if li.ShimPid > 0 {
		d.adoptShim(c, li)
	}
	ok = true // Hold owns pidfd now, even when it fails
	proc, err := reap.Hold(c.Pid, pidfd)
	if err != nil {
		d.releaseAdopted(c)
		return err
	}
	c.proc = proc
	c.live = li
	go d.reapAdopted(c, li.Start)
	log.Printf("restore: container %s (%s) re-adopted: pid %d, %d endpoints, %d published ports, DNS on udp %d tcp %d",
		c.Name, c.ID[:12], c.Pid, len(c.Endpoints), len(c.Ports), li.DNSUDP, li.DNSTCP)
	return nil
}

// rebindResolver starts c's embedded DNS server again on the ports its
// DNAT rules name. When a process in the container took one of them while
// no daemon ran, the server moves to new ports and the rules follow it, so
// the container keeps its names instead of being lost. Call with d.mu held.
func (d *Daemon) rebindResolver(c *Container, li liveInfo) (*edns.Resolver, error) {
	resolver := func() *edns.Resolver {
		return edns.NewResolver(edns.View{T: d.dns, Networks: func() []string { return *c.dnsNets.Load() }}, d.upstreamFor(c), c.external.Load)
	}
	r := resolver()
	err := r.StartInPorts(c.SandboxKey, li.DNSUDP, li.DNSTCP)
	if err == nil {
		return r, nil
	}
	r = resolver()
	if err2 := r.StartIn(c.SandboxKey); err2 != nil {
		return nil, fmt.Errorf("%w; on new ports: %w", err, err2)
	}
	if err2 := firewall.RestoreIn(c.SandboxKey, firewall.MovedResolverRules(r.UDPPort, r.TCPPort)); err2 != nil {
		r.Close()
		return nil, fmt.Errorf("%w; moving its rules to udp %d, tcp %d: %w", err, r.UDPPort, r.TCPPort, err2)
	}
	log.Printf("restore: container %s (%s): %v; its embedded DNS server moved to udp %d, tcp %d, and its DNAT rules with it",
		c.Name, c.ID[:12], err, r.UDPPort, r.TCPPort)
	return r, nil
}

// unreserve gives back addresses adopt reserved. Call with d.mu held.
func (d *Daemon) unreserve(eps []*Endpoint) {
	for _, ep := range eps {
		if n, ok := d.networks[ep.NetworkID]; ok && n.pool != nil {
			n.pool.Release(ep.Addr.Addr())
		}
		if len(ep.DNSNames) > 0 {
			d.dns.Remove(ep.Network, ep.DNSNames, ep.Addr.Addr())
		}
	}
}

// releaseAdopted undoes a half-done adoption: releaseNetwork then finds the
// endpoints reserved, as it expects. Call with d.mu held.
func (d *Daemon) releaseAdopted(c *Container) {
	if c.resolver != nil {
		c.resolver.Close()
		c.resolver = nil
	}
	for _, p := range c.proxies {
		p.Close()
	}
	c.proxies = nil
	d.ports.Release(c.Ports)
	d.unreserve(c.Endpoints)
}

// adoptPorts reserves c's published ports and adopts their docker-proxy
// processes; a proxy that is gone is started again (its port is free).
// Call with d.mu held.
func (d *Daemon) adoptPorts(c *Container, li liveInfo) error {
	pep := d.portEndpoint(c)
	if pep == nil {
		return errors.New("published ports without an endpoint")
	}
	if _, err := d.ports.Allocate(c.Ports); err != nil {
		return err
	}
	ip := pep.Addr.Addr()
	for i, b := range c.Ports {
		var p *portmap.Proxy
		var err error
		if i < len(li.Proxies) {
			p, err = portmap.AdoptProxy(li.Proxies[i], b, ip)
		} else {
			err = errors.New("no pid recorded")
		}
		if err != nil {
			log.Printf("restore: container %s: %s for %s not adopted (%v); starting a new one", c.Name, portmap.ProxyName, b, err)
			path, perr := proxyPath()
			if perr != nil {
				return perr
			}
			if p, err = portmap.StartProxy(path, b, ip); err != nil {
				return err
			}
		}
		c.proxies = append(c.proxies, p)
	}
	return nil
}

// adoptShim makes c.output wait for the log shim the old daemon started,
// and tells it to drop an attached caller's files: that caller's
// connection died with the old daemon. Call with d.mu held.
func (d *Daemon) adoptShim(c *Container, li liveInfo) {
	fd, err := pinProcess(li.ShimPid, li.ShimStart)
	if err != nil {
		// It has ended: the container's output is closed already.
		return
	}
	unix.PidfdSendSignal(fd, unix.SIGUSR1, nil, 0)
	p, err := reap.Hold(li.ShimPid, fd)
	if err != nil {
		log.Printf("restore: container %s: log shim: %v", c.Name, err)
		return
	}
	c.output.Add(1)
	go func() {
		defer c.output.Done()
		p.Wait()
	}()
}

// reapAdopted is reap for an adopted container, which is not the daemon's
// child: it waits on a pidfd, and the supervisor, its parent now, keeps
// its exit status.
func (d *Daemon) reapAdopted(c *Container, start string) {
	c.proc.Wait()
	if c.PidMode != "" && labhost.StartTime(c.Pid) == start {
		// As reap: the rest of a shared pid namespace's group goes too.
		unix.Kill(-c.Pid, unix.SIGKILL)
	}
	code := exitCode(c.Pid, start)
	waitOutput(c)
	d.mu.Lock()
	defer d.mu.Unlock()
	c.Status = "exited"
	c.FinishedAt = time.Now()
	c.ExitCode = code
	d.releaseNetwork(c)
	close(c.exited)
	if c.AutoRemove {
		d.remove(c)
	}
	d.saveContainer(c)
}

// exitCode is the exit code of the process pid that started at start, as
// the supervisor kept it when it reaped it. The supervisor reaps at once,
// but after the pidfd has fired: wait a bounded while for the record.
// Without one it is 255, and the loss is logged.
func exitCode(pid int, start string) int {
	for i := 0; i < 200; i++ {
		if ws, ok := labhost.Exit(pid, start); ok {
			return reap.ExitCode(syscall.WaitStatus(ws))
		}
		if i == 0 && labhost.StartTime(pid) != start && !exitRecorded(pid, start) {
			// Reaped before the supervisor kept statuses: lost.
			break
		}
		time.Sleep(10 * time.Millisecond) // bounded: 2 s in all
	}
	log.Printf("restore: the exit status of pid %d was not kept; recording 255", pid)
	return 255
}

func exitRecorded(pid int, start string) bool {
	_, err := os.Stat(filepath.Join(labhost.ExitsDir, fmt.Sprintf("%d-%s", pid, start)))
	return err == nil
}

// lose records a container that could not be adopted as exited, with the
// status the supervisor kept if it has gone, or killed if it still runs,
// and removes what it held in the kernel. Call with d.mu held.
func (d *Daemon) lose(c *Container, li liveInfo) {
	code := 255
	if fd, err := pinProcess(c.Pid, li.Start); err == nil {
		// Still running, but not adoptable: kill it.
		unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
		reap.Pidfd(fd, 5*time.Second)
		unix.Close(fd)
		code = 128 + int(unix.SIGKILL)
		exitCode(c.Pid, li.Start) // consume the record
		log.Printf("restore: container %s: killed (pid %d)", c.Name, c.Pid)
	} else if li.Start != "" {
		code = exitCode(c.Pid, li.Start)
		log.Printf("restore: container %s exited while no daemon ran, with status %d", c.Name, code)
	}
	for _, ep := range c.Endpoints {
		if ep.HostVeth == "" || ep.OverlayNS != "" {
			continue // a macvlan link, or a veth to br0, goes with the netns, below
		}
		if err := bridge.Detach(d.nl, ep.HostVeth); err != nil {
			log.Printf("restore: container %s: %v", c.Name, err)
		}
	}
	if pep := d.portEndpoint(c); len(c.Ports) > 0 && pep != nil {
		if n, ok := d.networks[pep.NetworkID]; ok {
			if err := firewall.RemovePorts(fwPorts(c.Ports, pep.Addr.Addr(), n.Bridge)); err != nil {
				log.Printf("restore: container %s: %v", c.Name, err)
			}
		}
	}
	for _, pid := range li.Proxies {
		killIf(pid, func(args []string) bool { return len(args) > 0 && filepath.Base(args[0]) == portmap.ProxyName })
	}
	if c.SandboxKey != "" {
		if err := netns.Remove(c.SandboxKey); err != nil {
			log.Printf("restore: container %s: %v", c.Name, err)
		}
	}
	c.Endpoints, c.Ports, c.proxies, c.resolver = nil, nil, nil, nil
	c.SandboxKey, c.SandboxID, c.Pid = "", "", 0
	c.Status, c.ExitCode, c.FinishedAt = "exited", code, time.Now()
	close(c.exited)
	if c.AutoRemove {
		d.remove(c)
	}
}

// pinProcess opens a pidfd for pid and checks that it is still the process
// that started at start: a pidfd opened before the check names the checked
// process for good.
func pinProcess(pid int, start string) (int, error) {
	if pid <= 0 || start == "" {
		return -1, errors.New("no pid recorded")
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, fmt.Errorf("pid %d: %w", pid, err)
	}
	if got := labhost.StartTime(pid); got != start {
		unix.Close(fd)
		return -1, fmt.Errorf("pid %d is another process now (start time %q, not %q)", pid, got, start)
	}
	return fd, nil
}

// killIf kills pid, pinned by a pidfd, if its command line passes match.
func killIf(pid int, match func(args []string) bool) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	if !match(cmdline(pid)) {
		return false
	}
	if unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0) != nil {
		return false
	}
	reap.Pidfd(fd, 5*time.Second)
	return true
}

func cmdline(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// reconcile removes what no restored object owns: the debris of an
// operation the old daemon died in the middle of (a run between its netns
// and its state write, a network create between its bridge and its state
// write). Call with d.mu held.
func (d *Daemon) reconcile() {
	keepPid := map[int]bool{}
	keepNS := map[string]bool{}
	keepVeth := map[string]bool{}
	for _, c := range d.containers {
		if c.running() {
			keepPid[c.Pid] = true
			keepPid[c.live.ShimPid] = true
			for _, p := range c.proxies {
				keepPid[p.Pid()] = true
			}
			keepNS[c.SandboxKey] = true
			for _, ep := range c.Endpoints {
				keepVeth[ep.HostVeth] = true
				keepNS[ep.OverlayNS] = true
			}
		}
	}
	// Processes first: they hold netns and pipes. Only orphans (their
	// parent is the supervisor, PID 1) that nslab started are candidates.
	containersDir := filepath.Join(d.dir, "containers") + "/"
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || keepPid[pid] || pid == os.Getpid() || ppid(pid) != 1 {
			continue
		}
		root, _ := os.Readlink(fmt.Sprintf("/proc/%d/root", pid))
		what := ""
		args := cmdline(pid)
		switch {
		case len(args) > 0 && filepath.Base(args[0]) == portmap.ProxyName:
			what = portmap.ProxyName
		case len(args) > 1 && (args[1] == "__logshim" || args[1] == "__init"):
			what = "nslab " + args[1]
		case strings.HasPrefix(root, containersDir):
			what = "container process"
		}
		if what == "" {
			continue
		}
		if killIf(pid, func(now []string) bool { return strings.Join(now, "\x00") == strings.Join(args, "\x00") }) {
			log.Printf("restore: killed a %s no container owns (pid %d: %s)", what, pid, strings.Join(args, " "))
		}
	}
	for _, n := range d.networks {
		if n.LB != nil {
			keepNS[n.LB.NS] = true
		}
	}
	if pins, err := os.ReadDir(filepath.Join(d.dir, "netns")); err == nil {
		for _, p := range pins {
			path := filepath.Join(d.dir, "netns", p.Name())
			if !keepNS[path] {
				// An overlay network's goes with vxlan0 deleted first,
				// so that its VNI is free at once.
				if err := overlay.Remove(path); err != nil {
					log.Printf("restore: %v", err)
				} else {
					log.Printf("restore: removed netns pin %s, which no container owns", path)
				}
			}
		}
	}
	if dirs, err := os.ReadDir(filepath.Join(d.dir, "containers")); err == nil {
		for _, e := range dirs {
			if _, ok := d.containers[e.Name()]; !ok {
				os.RemoveAll(filepath.Join(d.dir, "containers", e.Name()))
				log.Printf("restore: removed container directory %s, which no container owns", e.Name())
			}
		}
	}
	d.reconcileLinks(keepVeth)
	// Exit records of processes no container is waiting for (the
	// supervisor keeps every orphan's) are not needed.
	if recs, err := os.ReadDir(labhost.ExitsDir); err == nil {
		for _, r := range recs {
			pid, _, _ := strings.Cut(r.Name(), "-")
			if n, err := strconv.Atoi(pid); err != nil || !keepPid[n] {
				os.Remove(filepath.Join(labhost.ExitsDir, r.Name()))
			}
		}
	}
}

// ppid is field 4 of /proc/PID/stat, or -1.
func ppid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return -1
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// ownBridge is the name network create gives a bridge: br- and twelve hex
// digits of the network's ID.
var ownBridge = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^br-[0-9a-f]{12}$`) })

// reconcileLinks deletes veths on the engine's bridges that no endpoint
// owns, and br- bridges that no network owns, with their iptables rules.
// Bridges the user made (any other name) are left alone. Call with d.mu
// held.
func (d *Daemon) reconcileLinks(keepVeth map[string]bool) {
	bridges := map[int]bool{}
	known := map[string]bool{}
	for _, n := range d.networks {
		// A macvlan network's link is its parent, which may be a
		// bridge of the user's with veths of their own.
		if n.link != nil && n.Driver == driverBridge {
			bridges[n.link.Attrs().Index] = true
			known[n.Bridge] = true
		}
	}
	links, err := d.nl.LinkList()
	if err != nil {
		log.Printf("restore: list links: %v", err)
		return
	}
	var orphanBridges []string
	for _, l := range links {
		a := l.Attrs()
		switch {
		case l.Type() == "veth" && bridges[a.MasterIndex] && !keepVeth[a.Name]:
			if err := d.nl.LinkDel(l); err == nil {
				log.Printf("restore: deleted veth %s, which no endpoint owns", a.Name)
			}
		case l.Type() == "bridge" && ownBridge().MatchString(a.Name) && !known[a.Name]:
			orphanBridges = append(orphanBridges, a.Name)
		}
	}
	orphanBridges = append(orphanBridges, d.goneBridges...)
	d.goneBridges = nil
	for _, name := range orphanBridges {
		if _, err := d.nl.LinkByName(name); err != nil {
			continue // gone already
		}
		if err := bridge.Delete(d.nl, name); err != nil {
			log.Printf("restore: %v", err)
			continue
		}
		log.Printf("restore: deleted bridge %s, which no network owns", name)
	}
	d.reconcileRules(orphanBridges)
}

// The three rules of a published port (firewall.portRules), with the
// container address they name.
var portRule = sync.OnceValue(func() []*regexp.Regexp {
	return []*regexp.Regexp{
		regexp.MustCompile(`^-A DOCKER .*-j DNAT --to-destination ([0-9.]+):[0-9]+$`),
		regexp.MustCompile(`^-A POSTROUTING -s ([0-9.]+)/32 -d [0-9.]+/32 -p \w+ -m \w+ --dport [0-9]+ -j MASQUERADE$`),
		regexp.MustCompile(`^-A DOCKER -d ([0-9.]+)/32 ! -i \S+ -o \S+ -p \w+ -m \w+ --dport [0-9]+ -j ACCEPT$`),
	}
})

// reconcileRules deletes the iptables rules of bridges that are gone or
// that no network owns, and of published ports no running container has. DOCKER-USER, the user's
// chain, is never touched. Call with d.mu held.
func (d *Daemon) reconcileRules(goneBridges []string) {
	owned := map[string]bool{}
	for _, n := range d.networks {
		owned[n.Bridge] = true
	}
	published := map[string]bool{}
	for _, c := range d.containers {
		if ep := d.portEndpoint(c); c.running() && len(c.Ports) > 0 && ep != nil {
			published[ep.Addr.Addr().String()] = true
		}
	}
	out, err := exec.Command("iptables-save").Output()
	if err != nil {
		log.Printf("restore: iptables-save: %v", err)
		return
	}
	var script strings.Builder
	table, n := "", 0
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "*"):
			table = line
			fmt.Fprintln(&script, line)
			continue
		case line == "COMMIT":
			fmt.Fprintln(&script, line)
			continue
		case !strings.HasPrefix(line, "-A ") || strings.HasPrefix(line, "-A DOCKER-USER "):
			continue
		}
		gone := false
		for _, w := range strings.Fields(line) {
			// A bridge named as network create names one, that no
			// network owns: its network's removal was cut short, or its
			// creation was, before its state file was written.
			gone = gone || slices.Contains(goneBridges, w) || (ownBridge().MatchString(w) && !owned[w])
		}
		if table == "*nat" || table == "*filter" {
			for _, re := range portRule() {
				if m := re.FindStringSubmatch(line); m != nil && !published[m[1]] {
					gone = true
				}
			}
		}
		if gone {
			fmt.Fprintln(&script, "-D"+strings.TrimPrefix(line, "-A"))
			log.Printf("restore: deleting iptables rule no network or port owns: %s %s", table, line)
			n++
		}
	}
	if n == 0 {
		return
	}
	if err := firewall.Restore(script.String()); err != nil {
		log.Printf("restore: %v", err)
	}
}
