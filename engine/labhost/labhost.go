// Package labhost is the sandbox: a throwaway "host" that owns its own pid,
// network, mount, UTS and IPC namespaces, so a lab can build bridges, veths,
// namespaces and firewall rules without touching the real machine.
//
// Why a pid namespace: the lab host's supervisor is PID 1 of a new pid
// namespace, and every daemon, container and helper started inside is its
// descendant. When the supervisor dies, even by SIGKILL, the kernel kills
// everything in that namespace; its private mounts go, the pinned network
// namespaces go with them, and the veths, bridges and iptables rules go with
// their namespaces. Leaving nothing behind is a property of the construction,
// not of cleanup code.
//
// Who owns a lab host, across pid namespaces: the owner (the process that
// called Start) keeps the write end of an "owner pipe" open, and nobody
// else holds it (it is close-on-exec). The supervisor gets the read end as
// fd 4. A pipe is a kernel object, not a pid, so it means the same thing
// from every pid namespace: a lab host started inside another lab host (a
// sandbox in `nslab shell`) is owned exactly as one on the real host. The
// kernel closes the write end when the owner dies, however it dies, and
// then:
//   - the supervisor, which blocks reading fd 4, sees EOF and exits, so the
//     kernel removes its lab host;
//   - right after it arms PR_SET_PDEATHSIG, the supervisor polls fd 4 once:
//     an owner that died between the clone and the prctl (Go's "parent
//     already dead" guard cannot see that under CLONE_NEWPID, where getppid
//     is 0) is caught there, so no supervisor outlives its owner;
//   - Sweep, run by every Start, reopens a supervisor's fd 4 through
//     /proc/PID/fd/4 and reads it without blocking: EOF means no writer is
//     left anywhere, so the owner is provably gone, and only then is the
//     supervisor killed (through a pidfd, so a reused pid is never hit).
//     EAGAIN means the owner lives, in whatever namespace. Sweep is the
//     backstop for a supervisor that cannot act on the EOF itself (stopped,
//     or wedged before it armed its watch).
//
// The supervisor's entry point (`nslab __labhost`) is not reachable by hand:
// Start writes a fresh random secret into a pipe given to the supervisor as
// fd 5 and the same secret into its environment, and the supervisor refuses,
// before it changes anything, unless both agree.
//
// /run in a lab host is a tmpfs with a size limit (Options.RunSize, the
// NSLAB_RUN_SIZE environment variable, default 512 MiB): it holds container
// writable layers and logs, so a runaway container fills its lab host's
// /run, not the machine's memory.
//
// Entering a running lab host: Go cannot setns into a mount namespace once its
// runtime has started threads, so commands enter through nsenter(1) before
// they run (Command, Enter).
package labhost

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nslab/nslab/engine/api"
	"golang.org/x/sys/unix"
)

// Paths inside a lab host. /run is a private tmpfs there, so all of these
// vanish with it.
const (
	StateDir   = "/run/nslab"
	BinDir     = StateDir + "/bin"
	MarkerFile = StateDir + "/labhost"
	SocketPath = StateDir + "/nslab.sock"
	// Hostname is the lab host's UTS hostname, shown in prompts.
	Hostname = "labhost"
)

// Environment variables.
const (
	// EnvHost names the lab host a command belongs to, as "PID:ID" where
	// PID is the supervisor's pid on the real host.
	EnvHost = "NSLAB_HOST"
	// EnvRunSize sets the size limit of a lab host's /run tmpfs, for
	// example 512M or 2G, when Options.RunSize is zero.
	EnvRunSize = "NSLAB_RUN_SIZE"
	// EnvCLI, when set, is the absolute path of an nslab binary for the
	// lab host's nslab and docker commands (its BinDir links) to run
	// instead of the binary that starts it. The engine's own processes
	// (supervisor, daemon) still run the starting binary. The labs'
	// race-enabled run uses it: a race-enabled CLI costs about 25 ms of
	// CPU per command against 4 ms, and the races that matter are the
	// daemon's (labs/race_on_test.go).
	EnvCLI = "NSLAB_CLI"
	// envTag is set on the supervisor only: the project's tag. It is not
	// the NSLAB_LABHOST of older nslab binaries, whose Sweep judged owners
	// by pid and would kill these lab hosts when nested.
	envTag   = "NSLAB_LABHOST_TAG"
	envInit  = "NSLAB_SUPERVISOR" // marks the re-exec'd supervisor; holds the handshake secret
	envRun   = "NSLAB_RUN_BYTES"  // the /run size limit, in bytes, for the supervisor
	envPause = "NSLAB_TEST_SUPERVISOR_PAUSE"
)

// The supervisor's inherited files.
const (
	readyFd  = 3 // write end: "ready" or the setup error, to Start
	ownerFd  = 4 // read end of the owner pipe: EOF once the owner is gone
	secretFd = 5 // read end: the handshake secret, then EOF
)

// DefaultRunSize is the size limit of a lab host's /run.
const DefaultRunSize = 512 << 20

// minRunSize is the smallest /run a lab host can start with.
const minRunSize = 4 << 20

// Host is a running lab host, seen from the real host.
type Host struct {
	ID  string
	Pid int // supervisor pid in the real host's pid namespace
	cmd *exec.Cmd
	// engine is the lab host's engine daemon: EngineNslab or EngineDocker.
	engine string
	// owner is the write end of the owner pipe. It stays open as long as
	// the lab host should live; closing it (or dying) ends the lab host.
	owner *os.File
}

// owners keeps every open owner pipe reachable, so a garbage-collected Host
// cannot close one through its finalizer and end a lab host by surprise.
var owners = struct {
	sync.Mutex
	m map[*os.File]bool
}{m: map[*os.File]bool{}}

func holdOwner(f *os.File) {
	owners.Lock()
	owners.m[f] = true
	owners.Unlock()
}

// releaseOwner closes the owner pipe: the lab host, if still running, sees
// its owner gone.
func (h *Host) releaseOwner() {
	owners.Lock()
	delete(owners.m, h.owner)
	owners.Unlock()
	h.owner.Close()
}

// Env is the value of EnvHost for commands that should run in h.
func (h *Host) Env() string { return fmt.Sprintf("%d:%s", h.Pid, h.ID) }

// Options configure a new lab host.
type Options struct {
	// Stderr receives the supervisor's and daemon's diagnostics.
	Stderr io.Writer
	// ReadyTimeout bounds the wait for the engine to come up.
	ReadyTimeout time.Duration
	// Engine is the daemon the lab host runs: "nslab" (the default) or
	// "docker", the machine's real dockerd (see docker.go).
	Engine string
	// RunSize is the size limit of the lab host's /run tmpfs in bytes,
	// which holds container writable layers and logs. Zero means the
	// NSLAB_RUN_SIZE environment variable, or else DefaultRunSize.
	RunSize int64
	// Nodes, when not zero, makes the lab host a sandbox of that many
	// nodes: an underlay host whose nested lab hosts node1..nodeN share
	// an underlay bridge (nodes.go).
	Nodes int
	// Node makes the lab host a node of a sandbox: its daemon joins the
	// sandbox's swarm (EnvNode).
	Node bool
	// Hostname is the lab host's hostname; empty means Hostname, or
	// "sandbox" for a sandbox of nodes.
	Hostname string
}

// RunSize resolves the /run size limit: o.RunSize, else NSLAB_RUN_SIZE,
// else DefaultRunSize.
func (o Options) runSize() (int64, error) {
	n := o.RunSize
	if n == 0 {
		v := os.Getenv(EnvRunSize)
		if v == "" {
			return DefaultRunSize, nil
		}
		var err error
		if n, err = ParseSize(v); err != nil {
			return 0, fmt.Errorf("bad %s: %w", EnvRunSize, err)
		}
	}
	if n < minRunSize {
		return 0, fmt.Errorf("a lab host's /run must be at least %s, not %s", FormatSize(minRunSize), FormatSize(n))
	}
	return n, nil
}

// ParseSize reads a size such as 512M, 512MiB, 2g or 1048576 (bytes), with
// binary units as tmpfs and Docker use them.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToLower(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "ib"), "b")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("invalid size %q: want a positive size such as 512M or 2G", s)
	}
	return n * mult, nil
}

// FormatSize writes n bytes as tmpfs sizes are usually read: 512MiB.
func FormatSize(n int64) string {
	switch {
	case n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// NoSpace explains an ENOSPC from inside a lab host: /run, where containers
// write, is full. Other errors come back unchanged.
func NoSpace(err error) error {
	if err == nil || !errors.Is(err, syscall.ENOSPC) {
		return err
	}
	limit := "its size limit"
	var st unix.Statfs_t
	if unix.Statfs("/run", &st) == nil {
		limit = "limit " + FormatSize(int64(st.Blocks)*st.Bsize)
	}
	return fmt.Errorf("%w (the lab host's /run is full: %s; rm containers to free it, or give the lab host more with %s or sandbox --run-size)", err, limit, EnvRunSize)
}

// Start creates a fresh lab host with the engine daemon running in it, and
// returns once the daemon answers. It must run as root. It first removes any
// lab host whose owner is provably gone (Sweep).
func Start(o Options) (*Host, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("a lab host needs root: it creates namespaces, bridges and firewall rules (run as root, or in the VM: see README.md)")
	}
	runSize, err := o.runSize()
	if err != nil {
		return nil, err
	}
	dockerCLI, err := CheckEngine(o.Engine)
	if err != nil {
		return nil, err
	}
	if _, err := cliBinary(""); err != nil {
		return nil, err
	}
	var extra []string
	if o.Nodes != 0 {
		if err := CheckNodes(o.Nodes); err != nil {
			return nil, err
		}
		extra = append(extra, envNodes+"="+strconv.Itoa(o.Nodes))
		if o.Hostname == "" {
			o.Hostname = "sandbox"
		}
	}
	if o.Hostname != "" {
		extra = append(extra, envHostname+"="+o.Hostname)
	}
	if o.Node {
		extra = append(extra, envNode+"=1")
	}
	Sweep()
	SweepDockerCgroups()
	if o.ReadyTimeout == 0 {
		// A sandbox of nodes waits for every node's lab host, one
		// after another.
		o.ReadyTimeout = time.Duration(60+30*o.Nodes) * time.Second
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	id := randomHex(6)
	secret := randomHex(16)
	rd, wr, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	defer wr.Close()
	ownerRd, ownerWr, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer ownerRd.Close()
	secretRd, secretWr, err := os.Pipe()
	if err != nil {
		ownerWr.Close()
		return nil, err
	}
	defer secretRd.Close()
	// The secret is far smaller than a pipe's buffer: the write completes.
	_, err = secretWr.WriteString(secret)
	secretWr.Close()
	if err != nil {
		ownerWr.Close()
		return nil, fmt.Errorf("write the supervisor's handshake: %w", err)
	}
	holdOwner(ownerWr)
	cmd := &exec.Cmd{
		Path: exe,
		Args: []string{"nslab", "__labhost"},
		Env: append(append(os.Environ(), envInit+"="+secret, envTag+"="+id,
			envRun+"="+strconv.FormatInt(runSize, 10)), append(engineEnv(o.Engine, dockerCLI), extra...)...),
		Stderr:     o.Stderr,
		ExtraFiles: []*os.File{wr, ownerRd, secretRd}, // fds 3, 4, 5
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC,
			// No Pdeathsig here: the supervisor arms it itself and then
			// checks the owner pipe, which closes the window between the
			// clone and the prctl (see the package comment).
			Setpgid: true,
		},
	}
	h := &Host{ID: id, cmd: cmd, owner: ownerWr, engine: o.Engine}
	if h.engine == "" {
		h.engine = DefaultEngine
	}
	if err := spawn(cmd); err != nil {
		h.releaseOwner()
		return nil, fmt.Errorf("start lab host supervisor: %w", err)
	}
	wr.Close()
	h.Pid = cmd.Process.Pid
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(rd).ReadString('\n')
		switch {
		case line == "ready\n":
			ready <- nil
		case line != "":
			ready <- errors.New(strings.TrimSpace(line))
		default:
			ready <- fmt.Errorf("lab host exited before it was ready (%v)", err)
		}
	}()
	select {
	case err = <-ready:
	case <-time.After(o.ReadyTimeout):
		err = fmt.Errorf("lab host not ready after %s", o.ReadyTimeout)
	}
	if err != nil {
		h.Kill()
		return nil, err
	}
	return h, nil
}

// Close stops the lab host: the supervisor asks the daemon to stop the
// containers, then exits, and the kernel removes the rest. After a bounded
// grace period the supervisor is killed outright.
func (h *Host) Close() error {
	defer h.releaseOwner()
	if h.cmd.ProcessState != nil {
		return nil
	}
	h.stopDockerContainers()
	h.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- h.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		h.cmd.Process.Kill()
		<-done
	}
	SweepDockerCgroups()
	return nil
}

// Kill ends the lab host at once with SIGKILL; the kernel cleans up.
func (h *Host) Kill() {
	defer h.releaseOwner()
	if h.cmd.ProcessState == nil {
		h.cmd.Process.Kill()
		h.cmd.Wait()
		SweepDockerCgroups()
	}
}

// spawnReq carries a start request to the spawner thread.
type spawnReq struct {
	cmd  *exec.Cmd
	errc chan error
}

var spawnc = make(chan spawnReq)

func init() {
	// PDEATHSIG fires when the *thread* that forked the child exits, not
	// the process. Fork supervisors from one locked thread that lives as
	// long as the process, so a supervisor dies only with its owner.
	go func() {
		runtime.LockOSThread()
		for r := range spawnc {
			r.errc <- r.cmd.Start()
		}
	}()
}

func spawn(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	spawnc <- spawnReq{cmd, errc}
	return <-errc
}

// Command returns a command that runs argv inside the lab host named by env
// (the value of EnvHost), through nsenter. The working directory is kept.
func Command(env string, argv ...string) (*exec.Cmd, error) {
	pid, _, err := parseEnv(env)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("nsenter", append(nsenterArgs(pid), argv...)...)
	cmd.Env = InsideEnv(os.Environ(), env)
	return cmd, nil
}

// InsideEnv adjusts an environment for use inside a lab host: it names the
// host and puts the lab host's nslab (and docker alias) first on PATH.
func InsideEnv(environ []string, hostEnv string) []string {
	out := make([]string, 0, len(environ)+2)
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range environ {
		switch {
		case strings.HasPrefix(kv, "PATH="):
			path = kv[len("PATH="):]
		case strings.HasPrefix(kv, EnvHost+"="):
		default:
			out = append(out, kv)
		}
	}
	if !strings.HasPrefix(path, BinDir+":") {
		path = BinDir + ":" + path
	}
	return append(out, "PATH="+path, EnvHost+"="+hostEnv)
}

// InLabHost reports whether this process runs inside some lab host: the
// marker file exists only on a lab host's private /run.
func InLabHost() bool {
	_, err := os.Stat(MarkerFile)
	return err == nil
}

// Require fails, saying what to do, outside a lab host: nslab acts only on
// lab hosts.
func Require() error {
	if _, err := os.Stat(reachRoot + MarkerFile); err != nil {
		return errors.New("not inside a lab host: nslab never touches the real host's network. Start one with `nslab shell` or `nslab sandbox -- COMMAND` (as root), or set NSLAB_HOST")
	}
	return nil
}

// CallDaemon is api.Call on this lab host's daemon socket, with a clear
// error outside a lab host, bounded by DaemonTimeout (client.go).
func CallDaemon(req api.Operation, out any, files ...*os.File) error {
	if err := Require(); err != nil {
		return err
	}
	return callBounded(req, out, files...)
}

// nsenterArgs are nsenter's arguments to join every namespace of the lab
// host whose supervisor is pid, keeping the working directory.
func nsenterArgs(pid int) []string {
	args := []string{"--target", strconv.Itoa(pid), "--mount", "--net", "--pid", "--uts", "--ipc"}
	if wd, err := os.Getwd(); err == nil {
		args = append(args, "--wd="+wd)
	}
	return append(args, "--")
}

// Inside reports whether this process already runs inside the lab host
// named by env.
func Inside(env string) bool {
	_, id, err := parseEnv(env)
	if err != nil {
		return false
	}
	b, err := os.ReadFile(MarkerFile)
	return err == nil && strings.TrimSpace(string(b)) == id
}

// Enter re-executes the current command inside the lab host named by the
// NSLAB_HOST environment variable, unless it is already there. It returns
// (false, nil) when there is nothing to do. On success it does not return.
func Enter() (bool, error) {
	env, pid, err := namedHost()
	if pid == 0 || err != nil {
		return false, err
	}
	exe, err := os.Executable()
	if err != nil {
		return false, err
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return false, fmt.Errorf("nsenter (util-linux) is needed to enter a lab host: %w", err)
	}
	// Called as docker, run the lab host's own docker (a link to this
	// binary), so the name survives the re-exec: messages say "docker
	// network: ..." as Docker's CLI does, and a lab host whose docker is
	// something else runs that.
	prog := exe
	switch {
	case filepath.Base(os.Args[0]) == "docker":
		prog = filepath.Join(BinDir, "docker")
	case strings.HasSuffix(filepath.Base(exe), ".test"):
		// A test binary answers only to the name it is called by (here
		// nslab, through a lab host's link): enter through the target
		// lab host's link, so the name survives.
		prog = filepath.Join(BinDir, "nslab")
	}
	argv := append(append([]string{"nsenter"}, nsenterArgs(pid)...), prog)
	argv = append(argv, os.Args[1:]...)
	return true, syscall.Exec(nsenter, argv, InsideEnv(os.Environ(), env))
}

// namedHost is the lab host NSLAB_HOST names, for a process outside it:
// the variable's value and its supervisor's pid. pid is 0 when there is
// none or this process already runs inside it; a value that is malformed
// or names a lab host that has ended is an error.
func namedHost() (env string, pid int, err error) {
	env = os.Getenv(EnvHost)
	if env == "" || Inside(env) {
		return env, 0, nil
	}
	pid, id, err := parseEnv(env)
	if err != nil {
		return env, 0, err
	}
	if !alive(pid, id) {
		return env, 0, fmt.Errorf("%s=%s names a lab host that is no longer running", EnvHost, env)
	}
	return env, pid, nil
}

// reachRoot is where this process sees the lab host's root: "" inside it,
// or /proc/PID/root (PID its supervisor's) for a client on the real host
// that Reach made a direct caller of its daemon.
var reachRoot string

// Reach makes this process, on the real host, a client of the nslab daemon
// of the lab host named by NSLAB_HOST without entering it: the daemon's
// socket, pid file and log are reached through the supervisor's
// /proc/PID/root, and the lab host's /proc under it. It returns false,
// changing nothing, when there is nothing to reach (no NSLAB_HOST, or
// already inside) or when the lab host's engine is Docker (whose CLI runs
// inside). Only commands that do nothing but call the daemon may use it:
// one that runs a process in the lab host's namespaces, or reads its files
// by their paths there, must Enter.
//
// Why: entering costs a second start of this binary inside the lab host,
// after nsenter, and the labs run hundreds of such commands.
func Reach() (bool, error) {
	_, pid, err := namedHost()
	if pid == 0 || err != nil {
		return false, err
	}
	root := fmt.Sprintf("/proc/%d/root", pid)
	if engineAt(root) == EngineDocker {
		return false, nil
	}
	reachRoot = root
	return true, nil
}

// Socket is the daemon's socket as this process reaches it (see Reach).
func Socket() string { return reachRoot + SocketPath }

func parseEnv(env string) (int, string, error) {
	pidS, id, ok := strings.Cut(env, ":")
	pid, err := strconv.Atoi(pidS)
	if !ok || err != nil || pid <= 0 || id == "" {
		return 0, "", fmt.Errorf("bad %s value %q: want PID:ID", EnvHost, env)
	}
	return pid, id, nil
}

// alive reports whether pid is the supervisor of lab host id.
func alive(pid int, id string) bool {
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return false
	}
	for _, kv := range strings.Split(string(env), "\x00") {
		if kv == envTag+"="+id {
			return true
		}
	}
	return false
}

// Sweep kills every lab host supervisor on this machine (as far as this
// pid namespace sees) whose owner is provably gone: no process anywhere
// still holds the write end of its owner pipe. It never judges an owner by
// pid, which would mean different processes in different pid namespaces.
// Such a supervisor normally ends itself on the pipe's EOF; Sweep catches
// one that could not (stopped, or wedged before it armed its watch). It
// returns the pids it killed.
func Sweep() []int {
	var killed []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if orphaned(pid) {
			killed = append(killed, pid)
		}
	}
	return killed
}

// orphaned kills pid and reports true if it is a lab host supervisor whose
// owner pipe has no writer left. A pidfd pins the process first, so a pid
// reused after the checks is never signalled.
func orphaned(pid int) bool {
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return false
	}
	defer unix.Close(pfd)
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil || !bytes.Contains(env, []byte("\x00"+envTag+"=")) && !bytes.HasPrefix(env, []byte(envTag+"=")) {
		return false
	}
	if !ownerGone(pid) {
		return false
	}
	// The pidfd still names the process whose environ and fd were read.
	return unix.PidfdSendSignal(pfd, unix.SIGKILL, nil, 0) == nil
}

// ownerGone reports whether the supervisor pid's owner pipe (its fd 4) has
// no writer: reopened read-only and non-blocking, an empty pipe reads EOF
// only when no write end is open anywhere, and EAGAIN while one is. The
// owner never writes, so the read consumes nothing. Anything else (no fd 4,
// not a pipe, a supervisor from before owner pipes) is not proof.
func ownerGone(pid int) bool {
	link := fmt.Sprintf("/proc/%d/fd/%d", pid, ownerFd)
	if t, err := os.Readlink(link); err != nil || !strings.HasPrefix(t, "pipe:") {
		return false
	}
	fd, err := unix.Open(link, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return false
	}
	var b [1]byte
	n, err := unix.Read(fd, b[:])
	return n == 0 && err == nil
}
