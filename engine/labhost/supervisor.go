package labhost

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The simulated outside world, in documentation address ranges (RFC 5737)
// so that nothing can be confused with a real network. No packet leaves the
// lab host: the outside is a namespace of its own, reached over one veth.
var (
	UplinkAddr   = netip.MustParsePrefix("198.51.100.2/24") // lab host eth0
	OutsideAddr  = netip.MustParsePrefix("198.51.100.1/24") // outside wan0, the lab host's gateway
	UpstreamDNS  = netip.MustParseAddr("203.0.113.53")      // the lab host's resolver, in the outside
	OutsideWeb   = netip.MustParseAddr("203.0.113.80")      // example.com, in the outside
	OutsideNetNS = StateDir + "/outside"
)

const (
	UplinkName  = "eth0"
	OutsideLink = "wan0"
)

// IsSupervisor reports whether this process was started as a lab host
// supervisor. Supervise still checks the spawner's handshake.
func IsSupervisor() bool { return os.Getenv(envInit) != "" }

// Services is what the supervisor runs once the lab host exists: the
// outside's servers. It returns after the sockets are open.
type Services func() error

// Supervise is the body of the supervisor, PID 1 of the lab host. It checks
// that Start spawned it, ends with its owner, builds the host (private
// mounts, /proc, /sys, resolv.conf, hostname, lo and the outside), starts
// the outside's services and the engine daemon, reports readiness on fd 3,
// and then reaps children until the daemon exits.
func Supervise(services Services) int {
	// Nothing may change before the handshake: reached by hand, this
	// would reconfigure the caller's namespaces.
	if err := handshake(os.Getenv(envInit)); err != nil {
		fmt.Fprintf(os.Stderr, "nslab: internal command refused: %v\n", err)
		return 2
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "nslab: internal command refused: the lab host supervisor must be PID 1 of a new pid namespace")
		return 2
	}
	ready := os.NewFile(readyFd, "ready")
	id := os.Getenv(envTag)
	runSize, _ := strconv.ParseInt(os.Getenv(envRun), 10, 64)
	pause := os.Getenv(envPause)
	nodes := nodeCount()
	hostname := os.Getenv(envHostname)
	if hostname == "" {
		hostname = Hostname
	}
	isNode := os.Getenv(envNode) != ""
	// Only the supervisor carries the tag that Sweep looks for.
	for _, k := range []string{envTag, envInit, envRun, envPause, envNodes, envHostname, envNode, EnvNode} {
		os.Unsetenv(k)
	}
	if isNode {
		os.Setenv(EnvNode, hostname) // for the daemon, and its successors
	}
	fail := func(err error) int {
		fmt.Fprintf(ready, "lab host setup: %v\n", err)
		return 1
	}
	if pause != "" && testing.Testing() {
		testPause(pause)
	}
	if err := watchOwner(); err != nil {
		return fail(err)
	}
	if runSize < minRunSize {
		return fail(fmt.Errorf("bad /run size %d from the spawner", runSize))
	}
	if err := buildHost(id, runSize, hostname); err != nil {
		return fail(err)
	}
	var daemon int
	var err error
	if nodes > 0 {
		// The underlay host (nodes.go): no outside, and the node
		// keeper in the daemon's place.
		if err := os.MkdirAll(NodesDir, 0o755); err != nil {
			return fail(err)
		}
		if daemon, err = startNodes(nodes); err != nil {
			return fail(err)
		}
	} else {
		if err := buildOutside(); err != nil {
			return fail(err)
		}
		if services != nil {
			if err := services(); err != nil {
				return fail(fmt.Errorf("outside services: %w", err))
			}
		}
		if daemon, err = startEngine(id); err != nil {
			return fail(err)
		}
	}
	fmt.Fprintln(ready, "ready")
	ready.Close()

	sigc := make(chan os.Signal, 4)
	signal.Notify(sigc, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	var stopping atomic.Bool
	var current atomic.Int64
	current.Store(int64(daemon))
	go func() {
		for range sigc {
			stopping.Store(true)
			unix.Kill(int(current.Load()), unix.SIGTERM)
		}
	}()
	// Neither dockerd nor the node keeper is restarted: the lab host
	// ends with them.
	r := newRestarter(os.Getenv(envEngine) != EngineDocker && nodes == 0)
	// Reap every process that ends up parented to PID 1. When the daemon
	// dies on its own, restart it (bounded, see restart.go); leave when it
	// has exited because it was asked to, or beyond its retries. Returning
	// from PID 1 makes the kernel kill the rest.
	for {
		pid, ws, err := reapOne()
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0
		}
		if pid != daemon {
			continue
		}
		if stopping.Load() || !r.enabled {
			if ws.Exited() {
				return ws.ExitStatus()
			}
			return 0
		}
		next, code := r.restart(daemon, ws)
		if next == 0 {
			return code
		}
		daemon = next
		current.Store(int64(daemon))
		if stopping.Load() {
			// A SIGTERM came while the new daemon started: pass it on.
			unix.Kill(daemon, unix.SIGTERM)
		}
	}
}

func buildHost(id string, runSize int64, hostname string) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	// A private /run holds the state directory, /run/netns (as /var/run/netns)
	// and xtables.lock, so no lab host sees another's or the real host's.
	// It also holds container writable layers and logs: its size limit
	// bounds what a lab host can take of the machine's memory.
	if err := unix.Mount("tmpfs", "/run", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("mode=755,size=%d", runSize)); err != nil {
		return fmt.Errorf("mount tmpfs on /run: %w", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	// sysfs shows the devices of the mounting process's netns: brctl and
	// /sys/class/net then describe the lab host, not the real one.
	if err := unix.Mount("sysfs", "/sys", "sysfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /sys: %w", err)
	}
	// A devpts instance of its own: ptys made in the lab host (by run -it,
	// or for -dt containers) come from it, and containers, which bind the
	// lab host's /dev/pts, cannot see the real machine's terminals.
	if err := unix.Mount("devpts", "/dev/pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return fmt.Errorf("mount a private devpts: %w", err)
	}
	if err := unix.Mount("/dev/pts/ptmx", "/dev/ptmx", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind /dev/pts/ptmx on /dev/ptmx: %w", err)
	}
	if err := os.MkdirAll(BinDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(MarkerFile, []byte(id+"\n"), 0o644); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cli, err := cliBinary(exe)
	if err != nil {
		return err
	}
	for _, name := range []string{"nslab", "docker"} {
		if err := os.Symlink(cli, filepath.Join(BinDir, name)); err != nil {
			return err
		}
	}
	// The notes type `sudo ip netns list`; on the lab host you are root
	// already, so sudo just runs the command (its options are skipped).
	sudo := "#!/bin/sh\n# nslab's sudo: on the lab host you are root already.\nwhile [ $# -gt 0 ]; do case \"$1\" in --) shift; break;; -*) shift;; *) break;; esac; done\nexec \"$@\"\n"
	if err := os.WriteFile(filepath.Join(BinDir, "sudo"), []byte(sudo), 0o755); err != nil {
		return err
	}
	if err := unix.Sethostname([]byte(hostname)); err != nil {
		return fmt.Errorf("set hostname: %w", err)
	}
	return installResolvConf()
}

// ResolvConf is the lab host's /etc/resolv.conf. Containers on the default
// bridge get a copy; the embedded DNS server forwards to its nameserver.
func ResolvConf() string {
	return fmt.Sprintf("# The lab host's resolver: a DNS server nslab runs in the simulated outside.\nnameserver %s\noptions edns0 trust-ad\n", UpstreamDNS)
}

func installResolvConf() error {
	src := filepath.Join(StateDir, "resolv.conf")
	if err := os.WriteFile(src, []byte(ResolvConf()), 0o644); err != nil {
		return err
	}
	target := "/etc/resolv.conf"
	if dst, err := filepath.EvalSymlinks(target); err == nil {
		target = dst
	} else if l, err := os.Readlink(target); err == nil {
		// A dangling link (for example into the real /run, now hidden):
		// create its target inside our /run.
		if !filepath.IsAbs(l) {
			l = filepath.Join("/etc", l)
		}
		if strings.HasPrefix(l, "/run/") {
			os.MkdirAll(filepath.Dir(l), 0o755)
			return os.WriteFile(l, []byte(ResolvConf()), 0o644)
		}
		return fmt.Errorf("/etc/resolv.conf links to %s, which does not exist", l)
	}
	if strings.HasPrefix(target, "/run/") {
		os.MkdirAll(filepath.Dir(target), 0o755)
		return os.WriteFile(target, []byte(ResolvConf()), 0o644)
	}
	if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind resolv.conf onto %s: %w", target, err)
	}
	return nil
}

// handshake checks that Start spawned this process: fd 5 must be a pipe
// holding exactly the secret that the environment names, with its write end
// already closed. Someone who sets NSLAB_SUPERVISOR by hand has no such fd.
func handshake(secret string) error {
	const msg = "__labhost is started only by nslab itself, as a lab host's supervisor"
	if len(secret) < 16 {
		return fmt.Errorf("%s (no handshake secret)", msg)
	}
	var st unix.Stat_t
	if err := unix.Fstat(secretFd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return fmt.Errorf("%s (no handshake pipe on fd %d)", msg, secretFd)
	}
	// Start wrote the whole secret (one write, under PIPE_BUF, so one
	// read takes it) before the clone. Poll first: a read must never
	// block, and the caller's file must not be changed (no O_NONBLOCK).
	fds := []unix.PollFd{{Fd: secretFd, Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, 0); err != nil || n != 1 || fds[0].Revents&unix.POLLIN == 0 {
		return fmt.Errorf("%s (nothing on the handshake pipe)", msg)
	}
	buf := make([]byte, 64)
	n, err := unix.Read(secretFd, buf)
	if err != nil || n < 0 {
		n = 0
	}
	got := buf[:n]
	unix.Close(secretFd)
	if subtle.ConstantTimeCompare(got, []byte(secret)) != 1 {
		return fmt.Errorf("%s (handshake does not match)", msg)
	}
	return nil
}

// watchOwner ties the supervisor's life to its owner's. It arms
// PR_SET_PDEATHSIG, then checks the owner pipe: if the owner died before
// the prctl (the kernel would never send the signal then), the pipe already
// reads EOF and the supervisor leaves before it builds anything. A
// goroutine then waits for that EOF for as long as the lab host runs.
func watchOwner() error {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("set parent-death signal: %w", err)
	}
	unix.CloseOnExec(ownerFd)
	fds := []unix.PollFd{{Fd: ownerFd, Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("poll the owner pipe: %w", err)
		}
		break
	}
	if fds[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
		fmt.Fprintln(os.Stderr, "nslab: lab host's owner died while it started; removing it")
		os.Exit(1)
	}
	owner := os.NewFile(ownerFd, "owner")
	go func() {
		buf := make([]byte, 1)
		for {
			if _, err := owner.Read(buf); err != nil {
				// EOF: the owner's end closed, by Close or by its death.
				// PID 1 leaving makes the kernel remove the lab host.
				os.Exit(1)
			}
		}
	}()
	return nil
}

// testPause widens the start window for a test: the supervisor announces
// itself in dir/paused and waits (at most 30 s) for dir/resume, before it
// arms its parent-death signal and checks its owner.
func testPause(dir string) {
	os.WriteFile(filepath.Join(dir, "paused"), nil, 0o644)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "resume")); err == nil {
			return
		}
	}
}

// lazyFree adds madvdontneed=0 to GODEBUG, unless the caller set it: the
// daemon's runtime then gives memory back with MADV_FREE, which the kernel
// reclaims when it needs the pages, instead of MADV_DONTNEED, which unmaps
// them at once. After a burst of work (thousands of DNS queries or TCP
// connections a second) the runtime gives back what the burst used, and
// the daemon's next allocations fault the same pages in again, at about
// 30 µs a fault on a VM like the development one: the embedded DNS
// server's latency with one query in flight went from about 1.0x
// dnsmasq's to 2.5-7x for the seconds after such a burst, and back with
// MADV_FREE (engine/README.md, "Embedded DNS against dnsmasq"). The pages
// given back still count in VmRSS until the kernel takes them, as LazyFree
// in smaps_rollup.
func lazyFree(env []string) []string {
	for i, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			if strings.Contains(v, "madvdontneed=") {
				return env
			}
			env[i] = kv + ",madvdontneed=0"
			return env
		}
	}
	return append(env, "GODEBUG=madvdontneed=0")
}

// startDaemon starts the engine daemon and waits for its "ready". With
// restore set, the daemon rebuilds its state from the state file and the
// kernel instead of starting fresh (see engine/daemon/restore.go).
func startDaemon(restore ...bool) (int, error) {
	env := lazyFree(InsideEnv(os.Environ(), ""))
	if len(restore) > 0 && restore[0] {
		env = append(env, EnvDaemonRestore+"=1")
	}
	pid, err := startReady("__daemon", env, "engine daemon")
	if err == nil {
		writeDaemonPid(pid)
	}
	return pid, err
}

// startReady starts `nslab VERB`, the lab host's engine (the daemon, or a
// sandbox's node keeper), logged to DaemonLog, and waits until it writes
// "ready" on fd 3. One that writes anything else, or dies, is killed and
// its log's tail reported.
func startReady(verb string, env []string, what string) (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	rd, wr, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer rd.Close()
	pid, err := forkLogged(exe, []string{"nslab", verb}, env, DaemonLog, wr)
	wr.Close()
	if err != nil {
		return 0, fmt.Errorf("start the %s: %w", what, err)
	}
	line, _ := bufio.NewReader(rd).ReadString('\n')
	if line != "ready\n" {
		log, _ := os.ReadFile(DaemonLog)
		// It may still run (it wrote something else): it must not
		// outlive a failed start.
		unix.Kill(pid, unix.SIGKILL)
		return 0, fmt.Errorf("the %s did not start: %s%s", what, strings.TrimSpace(line), tail(string(log)))
	}
	return pid, nil
}

// forkLogged starts an engine daemon (nslab's or dockerd) with stdin on
// /dev/null, stdout and stderr appended to logPath, and extra files from
// fd 3 on. It returns the pid; the caller reaps it.
func forkLogged(path string, argv, env []string, logPath string, extra ...*os.File) (int, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	files := []uintptr{devnull.Fd(), logf.Fd(), logf.Fd()}
	for _, f := range extra {
		files = append(files, f.Fd())
	}
	return syscall.ForkExec(path, argv, &syscall.ProcAttr{Env: env, Files: files})
}

func tail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return " (daemon log: " + strings.Join(lines, " | ") + ")"
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// cliBinary is the binary the lab host's nslab and docker links run: the
// one EnvCLI names, or self. A value that is not the absolute path of an
// executable file is an error that names it, found by Start before
// anything is created.
func cliBinary(self string) (string, error) {
	p := os.Getenv(EnvCLI)
	if p == "" {
		return self, nil
	}
	fi, err := os.Stat(p)
	switch {
	case !filepath.IsAbs(p):
		return "", fmt.Errorf("%s=%q: want the absolute path of an nslab binary", EnvCLI, p)
	case err != nil:
		return "", fmt.Errorf("%s=%q: %w", EnvCLI, p, err)
	case !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0:
		return "", fmt.Errorf("%s=%q: not an executable file", EnvCLI, p)
	}
	return p, nil
}
