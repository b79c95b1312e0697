package labs_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nslab/nslab/engine/labhost"
	"github.com/nslab/nslab/engine/netns"
	"golang.org/x/sys/unix"
)

// Fault injection: the engine daemon is killed in the middle of a run, a
// network create and an rm, or stopped with SIGSTOP. Each time the lab
// host's supervisor restarts it, and the new daemon must re-adopt what
// runs and remove the debris of the interrupted operation (restore.go).
// Each test then checks, inside the lab host, that the state is
// consistent, that a bystander container (started before the fault, with
// a user network, a published port and a DNS name) survived, and, after
// everything is removed, that the lab host is back to its fresh state;
// and, outside, that the real host is unchanged.

// faultHost is a lab host under fault injection.
type faultHost struct {
	t        *testing.T
	before   hostView // the real host before the lab host started
	h        *labhost.Host
	root     string // the lab host's root, seen from here
	baseIPT  string // iptables-save of the fresh lab host
	baseLink string // its links, fresh
}

// startFaultHost starts a lab host with the bystander in it (or skips the
// test where labs cannot run), after a snapshot of the real host for end.
func startFaultHost(t *testing.T) *faultHost {
	t.Helper()
	needLabs(t)
	before := snapshot(t)
	h, err := labhost.Start(labhost.Options{Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Kill)
	f := &faultHost{t: t, before: before, h: h, root: fmt.Sprintf("/proc/%d/root", h.Pid)}
	f.baseIPT = f.iptables()
	f.baseLink = f.links()
	// The bystander: it must live through every fault.
	f.must("nslab", "network", "create", "keep")
	f.must("nslab", "run", "-d", "--name", "bystander", "--network", "keep", "-p", "8081:80", "busybox", "sh", "-c",
		"mkdir -p /www && echo kept > /www/index.html && exec httpd -f -p 80 -h /www")
	return f
}

// run runs argv in the lab host and returns its combined output.
func (f *faultHost) run(env []string, argv ...string) (string, error) {
	cmd, err := labhost.Command(f.h.Env(), argv...)
	if err != nil {
		return "", err
	}
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (f *faultHost) must(argv ...string) string {
	f.t.Helper()
	out, err := f.run(nil, argv...)
	if err != nil {
		f.t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return out
}

func (f *faultHost) iptables() string {
	out := f.must("iptables-save")
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "#") {
			keep = append(keep, strings.SplitN(l, " [", 2)[0])
		}
	}
	return strings.Join(keep, "\n")
}

func (f *faultHost) links() string {
	ents, _ := os.ReadDir(f.root + "/sys/class/net")
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

// daemonPid is the engine daemon's pid as this process sees it (the pid
// file holds the lab host's own pid for it), found among the supervisor's
// children by its command line.
func (f *faultHost) daemonPid() int {
	f.t.Helper()
	for _, p := range descendants(f.h.Pid) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		if bytes.HasSuffix(b, []byte("\x00__daemon\x00")) {
			return p
		}
	}
	f.t.Fatal("no engine daemon in the lab host")
	return 0
}

// signal sends sig to pid through a pidfd, so a reused pid is never hit.
func signalPid(t *testing.T, pid int, sig unix.Signal) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd for %d: %v", pid, err)
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		t.Fatalf("signal %d: %v", pid, err)
	}
}

// killDaemonWhen starts argv in the lab host, kills the daemon with SIGKILL
// as soon as ready() reports that the operation is under way, and waits
// for the operation's CLI to end (it fails or, if the kill came late,
// succeeds). It then waits until a new daemon answers.
func (f *faultHost) killDaemonWhen(ready func() bool, argv ...string) string {
	f.t.Helper()
	daemon := f.daemonPid()
	cmd, err := labhost.Command(f.h.Env(), argv...)
	if err != nil {
		f.t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	waitFor(f.t, "the operation to be under way", ready)
	signalPid(f.t, daemon, unix.SIGKILL)
	cmd.Wait()
	f.t.Logf("%s, with the daemon killed under it: %s", strings.Join(argv, " "), strings.TrimSpace(out.String()))
	f.awaitRestart(daemon)
	log := f.must("cat", labhost.DaemonLog)
	if !strings.Contains(log, "died (killed by signal SIGKILL); restarting it") {
		f.t.Errorf("the daemon log does not record the restart:\n%s", log)
	}
	return out.String()
}

// exists reports whether a path exists in the lab host.
func (f *faultHost) exists(glob string) bool {
	m, _ := filepath.Glob(f.root + glob)
	return len(m) > 0
}

// checkConsistent checks the lab host against what ps and inspect say:
// every netns pin, container directory, veth and docker-proxy belongs to a
// container that runs, and the bystander still serves its page and
// resolves its name.
func (f *faultHost) checkConsistent() {
	f.t.Helper()
	ids := strings.Fields(f.must("nslab", "ps", "-a", "-q"))
	running := strings.Fields(f.must("nslab", "ps", "-q"))
	dirs, _ := os.ReadDir(f.root + "/run/nslab/containers")
	if len(dirs) != len(ids) {
		f.t.Errorf("%d container directories for %d containers (%v)", len(dirs), len(ids), ids)
	}
	wantPins, wantVeths, wantProxies := 0, 0, 0
	for _, id := range running {
		out := f.must("nslab", "inspect", "-f", "{{.NetworkSettings.SandboxKey}} {{len .NetworkSettings.Networks}} {{len .NetworkSettings.Ports}}", id)
		var key string
		var nets, ports int
		fmt.Sscan(out, &key, &nets, &ports)
		if key != "" {
			wantPins++
		}
		wantVeths += nets
		wantProxies += 2 * ports // 0.0.0.0 and [::]
	}
	pins, _ := os.ReadDir(f.root + "/run/nslab/netns")
	if len(pins) != wantPins {
		f.t.Errorf("%d netns pins for %d running containers with a netns", len(pins), wantPins)
	}
	veths := 0
	for _, l := range strings.Fields(f.links()) {
		if strings.HasPrefix(l, "veth") {
			veths++
		}
	}
	if veths != wantVeths {
		f.t.Errorf("%d host veths for %d endpoints of running containers (links: %s)", veths, wantVeths, f.links())
	}
	proxies := strings.Fields(f.runOut("pidof", "docker-proxy"))
	if len(proxies) != wantProxies {
		f.t.Errorf("%d docker-proxy processes for %d published bindings", len(proxies), wantProxies)
	}
	if out := f.must("busybox", "wget", "-qO-", "http://127.0.0.1:8081/"); out != "kept\n" {
		f.t.Errorf("the bystander's published port answers %q", out)
	}
	if out := f.must("nslab", "exec", "bystander", "nslookup", "bystander"); !regexp.MustCompile(`Address( 1)?:\s+172\.18\.0\.2`).MatchString(out) {
		f.t.Errorf("the bystander's name does not resolve after the restart:\n%s", out)
	}
}

// end removes everything and checks the lab host is as fresh
// (checkCleanAfterRemoval), then closes it and checks the real host is
// unchanged.
func (f *faultHost) end() {
	f.t.Helper()
	f.checkCleanAfterRemoval()
	f.h.Close()
	checkUnchanged(f.t, f.before)
}

// awaitRestart waits, through a CLI call, for the daemon that replaces the
// one with pid old, and fails if none did.
func (f *faultHost) awaitRestart(old int) {
	f.t.Helper()
	f.must("nslab", "ps") // the CLI waits (bounded) for the restarted daemon
	if f.daemonPid() == old {
		f.t.Fatal("the daemon was not restarted")
	}
}

func (f *faultHost) runOut(argv ...string) string {
	out, _ := f.run(nil, argv...)
	return out
}

// checkCleanAfterRemoval removes every container and user network and
// checks that the lab host is as fresh: the same links and iptables, no
// netns pins, container directories, proxies or log shims.
func (f *faultHost) checkCleanAfterRemoval() {
	f.t.Helper()
	if ids := strings.Fields(f.must("nslab", "ps", "-a", "-q")); len(ids) > 0 {
		f.must(append([]string{"nslab", "rm", "-f"}, ids...)...)
	}
	for _, l := range strings.Split(f.must("nslab", "network", "ls"), "\n")[1:] {
		if fs := strings.Fields(l); len(fs) > 1 && fs[1] != "bridge" && fs[1] != "host" && fs[1] != "none" {
			f.must("nslab", "network", "rm", fs[1])
		}
	}
	if got := f.iptables(); got != f.baseIPT {
		f.t.Errorf("iptables differ from the fresh lab host's:\nfresh:\n%s\nnow:\n%s\ndaemon log:\n%s", f.baseIPT, got, f.runOut("cat", labhost.DaemonLog))
	}
	if got := f.links(); got != f.baseLink {
		f.t.Errorf("links differ from the fresh lab host's: fresh %q, now %q", f.baseLink, got)
	}
	for _, glob := range []string{"/run/nslab/netns/*", "/run/nslab/containers/*"} {
		if f.exists(glob) {
			f.t.Errorf("%s is not empty", filepath.Dir(glob))
		}
	}
	ps := f.must("ps", "-eo", "args")
	for _, what := range []string{"docker-proxy", "__logshim", "__init", "sleep 3600", "httpd"} {
		if strings.Contains(ps, what) {
			f.t.Errorf("a %s process is left:\n%s", what, ps)
		}
	}
}

func TestFaultKillDaemonMidRun(t *testing.T) {
	f := startFaultHost(t)
	// Kill as soon as the container's directory exists: create has
	// recorded it and start is wiring its network.
	known := map[string]bool{}
	for _, e := range dirNames(f.root + "/run/nslab/containers") {
		known[e] = true
	}
	f.killDaemonWhen(func() bool {
		for _, e := range dirNames(f.root + "/run/nslab/containers") {
			if !known[e] {
				return true
			}
		}
		return false
	}, "nslab", "run", "-d", "--name", "victim", "--network", "keep", "-p", "8082:80", "busybox", "sleep", "3600")
	f.checkConsistent()
	f.end()
}

func TestFaultKillDaemonMidNetworkCreate(t *testing.T) {
	f := startFaultHost(t)
	bridges := func() int { m, _ := filepath.Glob(f.root + "/sys/class/net/br-*"); return len(m) }
	n := bridges()
	// Kill as soon as the new bridge exists: its rules and the state
	// file may or may not have followed.
	f.killDaemonWhen(func() bool { return bridges() > n }, "nslab", "network", "create", "victimnet")
	f.checkConsistent()
	// Whatever the restart kept, the name works again: either the
	// network is there, or it can be created.
	if out, err := f.run(nil, "nslab", "network", "inspect", "victimnet"); err != nil {
		t.Logf("victimnet was cleaned up: %s", strings.TrimSpace(out))
		f.must("nslab", "network", "create", "victimnet")
	}
	f.must("nslab", "run", "--rm", "--network", "victimnet", "busybox", "true")
	f.end()
}

// TestFaultKillDaemonMidNetworkRm kills the daemon once network rm has
// deleted the bridge, before its rules and its state file follow: the
// restarted daemon finishes the removal.
func TestFaultKillDaemonMidNetworkRm(t *testing.T) {
	f := startFaultHost(t)
	f.must("nslab", "network", "create", "victimnet")
	bridges := func() int { m, _ := filepath.Glob(f.root + "/sys/class/net/br-*"); return len(m) }
	n := bridges()
	f.killDaemonWhen(func() bool { return bridges() < n }, "nslab", "network", "rm", "victimnet")
	f.checkConsistent()
	if out, err := f.run(nil, "nslab", "network", "inspect", "victimnet"); err == nil {
		t.Errorf("victimnet is still there after its interrupted rm:\n%s", out)
	}
	f.end()
}

// TestFaultKillDaemonAfterReply kills the daemon the moment a run -d and a
// network create have answered: what was answered must be there after the
// restart, as Docker has written a container's config.v2.json before its
// create returns. A daemon that wrote its state after replying (nslab's
// did, up to 100 ms later) lost the container and removed it as debris.
func TestFaultKillDaemonAfterReply(t *testing.T) {
	f := startFaultHost(t)
	for i, argv := range [][]string{
		{"nslab", "network", "create", "promised"},
		{"nslab", "run", "-d", "--name", "promised", "--network", "promised", "busybox", "sleep", "3600"},
	} {
		daemon := f.daemonPid()
		f.must(argv...)
		signalPid(t, daemon, unix.SIGKILL)
		f.awaitRestart(daemon)
		if i == 0 {
			if out, err := f.run(nil, "nslab", "network", "inspect", "-f", "{{.Name}}", "promised"); err != nil || out != "promised\n" {
				t.Errorf("network create answered, then the daemon was killed: after the restart, network inspect says %q (%v); want the network", out, err)
			}
			continue
		}
		out, err := f.run(nil, "nslab", "inspect", "-f", "{{.State.Status}} {{.NetworkSettings.Networks.promised.IPAddress}}", "promised")
		if err != nil || out != "running 172.19.0.2\n" {
			t.Errorf("run -d answered, then the daemon was killed: after the restart, inspect says %q (%v); want it running at 172.19.0.2", out, err)
		}
	}
	f.checkConsistent()
	f.end()
}

// TestFaultDNSPortTakenWhileDaemonDead takes the bystander's embedded DNS
// port on 127.0.0.11, in its namespace, in the moment between the daemon's
// death and its restart. The restarted daemon cannot re-bind there: it must
// move the server to new ports and its DNAT rules with it, so the
// container keeps its names (it used to be released as not adoptable).
func TestFaultDNSPortTakenWhileDaemonDead(t *testing.T) {
	f := startFaultHost(t)
	key := strings.TrimSpace(f.must("nslab", "inspect", "-f", "{{.NetworkSettings.SandboxKey}}", "bystander"))
	dnat := regexp.MustCompile(`-p udp -m udp --dport 53 -j DNAT --to-destination 127\.0\.0\.11:(\d+)`)
	m := dnat.FindStringSubmatch(f.must("nsenter", "--net="+key, "iptables-save", "-t", "nat"))
	if m == nil {
		t.Fatal("no DNAT rule for the bystander's embedded DNS server")
	}
	port := m[1]
	daemon := f.daemonPid()
	fd, err := unix.PidfdOpen(daemon, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil {
		t.Fatal(err)
	}
	// The supervisor waits 100 ms before the restart: the squatter binds
	// as soon as the daemon has exited and its socket is closed.
	if _, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 5000); err != nil {
		t.Fatal(err)
	}
	var squat net.PacketConn
	if err := netns.Do(f.root+key, func() (err error) {
		squat, err = net.ListenPacket("udp4", "127.0.0.11:"+port)
		return err
	}); err != nil {
		t.Fatalf("take udp %s in the bystander's namespace: %v", port, err)
	}
	f.awaitRestart(daemon)
	log := f.must("cat", labhost.DaemonLog)
	if !strings.Contains(log, "its embedded DNS server moved to udp") {
		t.Errorf("the daemon log does not say the server moved:\n%s", log)
	}
	if m := dnat.FindStringSubmatch(f.must("nsenter", "--net="+key, "iptables-save", "-t", "nat")); m == nil || m[1] == port {
		t.Errorf("the DNAT rule still points at the squatted port %s: %v", port, m)
	}
	f.checkConsistent() // the bystander still resolves its name
	squat.Close()       // it holds the namespace
	f.end()
}

// TestFaultKillDaemonAfterRestart kills the daemon after a container was
// restarted: the restored daemon must adopt the container's new process.
// The state kept the first run's start time, so the new process looked
// like another one, and the container was lost and its process killed.
func TestFaultKillDaemonAfterRestart(t *testing.T) {
	f := startFaultHost(t)
	f.must("nslab", "restart", "-t", "0", "bystander")
	pid := strings.TrimSpace(f.must("nslab", "inspect", "-f", "{{.State.Pid}}", "bystander"))
	daemon := f.daemonPid()
	signalPid(t, daemon, unix.SIGKILL)
	f.awaitRestart(daemon)
	out := f.must("nslab", "inspect", "-f", "{{.State.Status}} {{.State.Pid}}", "bystander")
	if out != "running "+pid+"\n" {
		t.Errorf("after a restart and a daemon kill, bystander is %q; want it running, pid %s (log:\n%s)", out, pid, f.runOut("cat", labhost.DaemonLog))
	}
	f.checkConsistent()
	f.end()
}

// TestFaultKillDaemonMacvlan kills the daemon under a container on a
// macvlan network. Its link has no host end to look for: the new daemon
// must find it inside the container, keep its address taken and its name
// in DNS, and still delete it with the container.
func TestFaultKillDaemonMacvlan(t *testing.T) {
	f := startFaultHost(t)
	f.must("nslab", "network", "create", "-d", "macvlan", "--subnet", "198.51.100.0/24", "--gateway", "198.51.100.1",
		"--ip-range", "198.51.100.128/25", "--aux-address", "labhost=198.51.100.2", "-o", "parent=eth0", "lan")
	f.must("nslab", "run", "-d", "--name", "onlan", "--network", "lan", "--ip", "198.51.100.10", "busybox", "sleep", "3600")
	// A bridge of the user's, with a veth of theirs, as another macvlan
	// network's parent: restore must not take that bridge for one of its
	// own and delete the veth as an orphan.
	f.must("sh", "-c", "ip link add userbr type bridge && ip link add userveth master userbr type veth peer name userpeer && ip link set userbr up")
	f.must("nslab", "network", "create", "-d", "macvlan", "--subnet", "10.77.0.0/24", "-o", "parent=userbr", "onuser")
	pid := strings.TrimSpace(f.must("nslab", "inspect", "-f", "{{.State.Pid}}", "onlan"))
	daemon := f.daemonPid()
	signalPid(t, daemon, unix.SIGKILL)
	f.awaitRestart(daemon)
	if out := f.must("nslab", "inspect", "-f", "{{.State.Status}} {{.State.Pid}}", "onlan"); out != "running "+pid+"\n" {
		t.Fatalf("after a daemon kill, onlan is %q; want it running, pid %s (log:\n%s)", out, pid, f.runOut("cat", labhost.DaemonLog))
	}
	if out, err := f.run(nil, "ip", "link", "show", "userveth"); err != nil {
		t.Errorf("restore deleted the user's veth on the user's bridge, a macvlan parent: %v\n%s", err, out)
	}
	if out := f.must("nslab", "exec", "onlan", "nslookup", "onlan"); !regexp.MustCompile(`Address( 1)?:\s+198\.51\.100\.10`).MatchString(out) {
		t.Errorf("onlan's name does not resolve after the restart:\n%s", out)
	}
	if out, err := f.run(nil, "nslab", "outside", "ping", "-c", "1", "-W", "2", "198.51.100.10"); err != nil {
		t.Errorf("the outside cannot reach onlan after the restart: %v\n%s", err, out)
	}
	for _, ip := range []string{"198.51.100.10", "198.51.100.2"} {
		out, err := f.run(nil, "nslab", "run", "--rm", "--network", "lan", "--ip", ip, "busybox", "true")
		if err == nil || !strings.Contains(out, "Address already in use") {
			t.Errorf("a container on %s (onlan's address, then an aux address) after the restart: %v, %q; want Docker's \"Address already in use\"", ip, err, out)
		}
	}
	// The restored pool still hands out addresses from --ip-range only.
	if out := f.must("nslab", "run", "--rm", "--network", "lan", "busybox", "ip", "-4", "-o", "addr", "show", "eth0"); !strings.Contains(out, "inet 198.51.100.128/24 ") {
		t.Errorf("a container without --ip after the restart got %q; want 198.51.100.128, the first of --ip-range", out)
	}
	f.must("nslab", "rm", "-f", "onlan")
	f.must("nslab", "network", "rm", "lan", "onuser")
	f.must("ip", "link", "del", "userbr")
	f.must("ip", "link", "del", "userveth")
	if out, err := f.run(nil, "nslab", "outside", "ping", "-c", "1", "-W", "1", "198.51.100.10"); err == nil {
		t.Errorf("onlan's address still answers after rm:\n%s", out)
	}
	f.end()
}

func TestFaultKillDaemonMidRm(t *testing.T) {
	f := startFaultHost(t)
	f.must("nslab", "run", "-d", "--name", "victim", "--network", "keep", "-p", "8083:80", "busybox", "sleep", "3600")
	pid := f.realPid(strings.TrimSpace(f.must("nslab", "inspect", "-f", "{{.State.Pid}}", "victim")))
	// Kill as soon as the container's process has gone: rm is releasing
	// its network and removing it.
	f.killDaemonWhen(func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		return err != nil || bytes.Contains(b, []byte(") Z "))
	}, "nslab", "rm", "-f", "victim")
	f.checkConsistent()
	// rm killed victim before the daemon died: it is gone, or shown
	// exited by SIGKILL (137), the status the supervisor kept.
	for _, l := range strings.Split(f.runOut("nslab", "ps", "-a"), "\n") {
		if strings.HasSuffix(l, " victim") && !strings.Contains(l, " Exited (137) ") {
			t.Errorf("victim after an interrupted rm -f: %s", l)
		}
	}
	f.end()
}

// TestFaultStopDaemon stops the daemon with SIGSTOP: a CLI call must give
// up within NSLAB_DAEMON_TIMEOUT, name the daemon's pid, state and log,
// and exit non-zero; after SIGCONT everything works as before.
func TestFaultStopDaemon(t *testing.T) {
	f := startFaultHost(t)
	daemon := f.daemonPid()
	inside := strings.TrimSpace(f.must("cat", labhost.DaemonPidFile))
	signalPid(t, daemon, unix.SIGSTOP)
	t0 := time.Now()
	out, err := f.run([]string{labhost.EnvDaemonTimeout + "=1s"}, "nslab", "ps")
	took := time.Since(t0)
	// The same call from the real host, which calls the daemon through
	// the lab host's root without entering it (labhost.Reach): the same
	// words, with the log's path as seen from there.
	self, xerr := os.Executable()
	if xerr != nil {
		t.Fatal(xerr)
	}
	direct := &exec.Cmd{Path: self, Args: []string{"nslab", "ps"},
		Env: append(os.Environ(), labhost.EnvHost+"="+f.h.Env(), labhost.EnvDaemonTimeout+"=1s")}
	dout, derr := direct.CombinedOutput()
	signalPid(t, daemon, unix.SIGCONT)
	if err == nil {
		t.Fatalf("nslab ps answered a stopped daemon: %s", out)
	}
	want := fmt.Sprintf("nslab: the nslab engine daemon (pid %s, stopped (SIGSTOP or a debugger): send it SIGCONT) did not answer within 1s; its log is %s.", inside, labhost.DaemonLog)
	if !strings.Contains(out, want) {
		t.Errorf("nslab ps on a stopped daemon said:\n%s\nwant it to contain:\n%s", out, want)
	}
	if took > 20*time.Second {
		t.Errorf("nslab ps took %s to give up, for a 1s bound", took)
	}
	want = fmt.Sprintf("nslab: the nslab engine daemon (pid %s, stopped (SIGSTOP or a debugger): send it SIGCONT) did not answer within 1s; its log is %s.", inside, f.root+labhost.DaemonLog)
	if derr == nil || !strings.Contains(string(dout), want) {
		t.Errorf("nslab ps from the real host on a stopped daemon (%v) said:\n%s\nwant it to contain:\n%s", derr, dout, want)
	}
	// A bad bound is refused, naming the variable.
	if out, err := f.run([]string{labhost.EnvDaemonTimeout + "=soon"}, "nslab", "ps"); err == nil || !strings.Contains(out, "bad NSLAB_DAEMON_TIMEOUT \"soon\"") {
		t.Errorf("NSLAB_DAEMON_TIMEOUT=soon: err %v, output %q", err, out)
	}
	if f.daemonPid() != daemon {
		t.Error("a stopped daemon was restarted: it had not died")
	}
	f.checkConsistent()
	f.end()
}

// realPid maps a pid in the lab host's pid namespace to this one's, from
// the NSpid line of each of the lab host's processes.
func (f *faultHost) realPid(inside string) int {
	f.t.Helper()
	for _, p := range descendants(f.h.Pid) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		for _, l := range strings.Split(string(b), "\n") {
			if fs := strings.Fields(l); len(fs) >= 3 && fs[0] == "NSpid:" && fs[2] == inside {
				return p
			}
		}
	}
	f.t.Fatalf("no process is pid %s in the lab host", inside)
	return 0
}

func dirNames(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestSandboxSaysWhyItDied: a sandbox whose lab host ends under its
// command says which part died and how, with the engine log's last lines,
// and exits non-zero, instead of vanishing with exit 255 and nothing on
// stderr.
func TestSandboxSaysWhyItDied(t *testing.T) {
	needLabs(t)
	nslab, err := exec.LookPath("nslab")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("daemon beyond its restarts", func(t *testing.T) {
		before := snapshot(t)
		// Kill each daemon the supervisor starts, by its exact pid,
		// until the supervisor gives up (the sixth death in a minute).
		script := `last=
for n in 1 2 3 4 5 6; do
  i=0
  until p=$(cat /run/nslab/daemon.pid 2>/dev/null) && [ "$p" != "$last" ] && kill -0 "$p" 2>/dev/null; do
    i=$((i+1)); [ $i -lt 500 ] || { echo "no daemon $n" >&2; exit 1; }
    sleep 0.01
  done
  kill -KILL "$p"; last=$p
done
exec sleep 60`
		cmd := exec.Command(nslab, "sandbox", "--", "sh", "-c", script)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if err == nil {
			t.Fatal("the sandbox exited 0 though its lab host died")
		}
		for _, want := range []string{
			"died (killed by signal SIGKILL) 6 times within 1m0s, more than the 5 restarts allowed",
			"nslab: the lab host ended: its supervisor (pid ",
			") exited with status 3, and the kernel removed everything in it",
			"The last lines of its engine's log (/run/nslab/daemon.log):",
			"nslab supervisor: engine daemon (pid ",
		} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
			}
		}
		checkUnchanged(t, before)
	})
	t.Run("supervisor killed", func(t *testing.T) {
		before := snapshot(t)
		dir := t.TempDir()
		cmd := exec.Command(nslab, "sandbox", "--", "sh", "-c", `echo "$NSLAB_HOST" > `+dir+`/host; exec sleep 60`)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		var pid int
		waitFor(t, "the sandbox's command to start", func() bool {
			b, _ := os.ReadFile(dir + "/host")
			_, err := fmt.Sscanf(string(b), "%d:", &pid)
			return err == nil
		})
		signalPid(t, pid, unix.SIGKILL)
		err := cmd.Wait()
		if err == nil {
			t.Fatal("the sandbox exited 0 though its lab host died")
		}
		want := fmt.Sprintf("nslab: the lab host ended: its supervisor (pid %d, PID 1 of the lab host) was killed by signal SIGKILL", pid)
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
		checkUnchanged(t, before)
	})
}
