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
// not of cleanup code. The supervisor also dies with its owner (PDEATHSIG),
// and Sweep removes a lab host whose owner vanished anyway.
//
// Entering a running lab host: Go cannot setns into a mount namespace once its
// runtime has started threads, so commands enter through nsenter(1) before
// they run (Command, Enter).
package labhost

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

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
	envTag  = "NSLAB_LABHOST"    // set on the supervisor only: the project's tag
	envOwnr = "NSLAB_OWNER"      // "pid:starttime" of the process that owns it
	envInit = "NSLAB_SUPERVISOR" // marks the re-exec'd supervisor
)

// Host is a running lab host, seen from the real host.
type Host struct {
	ID  string
	Pid int // supervisor pid in the real host's pid namespace
	cmd *exec.Cmd
	// engine is the lab host's engine daemon: EngineNslab or EngineDocker.
	engine string
}

// Env is the value of EnvHost for commands that should run in h.
func (h *Host) Env() string { return fmt.Sprintf("%d:%s", h.Pid, h.ID) }

// Options configure a new lab host.
type Options struct {
	// Stderr receives the supervisor's and daemon's diagnostics.
	Stderr io.Writer
	// ReadyTimeout bounds the wait for the engine to come up.
	ReadyTimeout time.Duration
	// Owner is the "pid:starttime" identity recorded on the supervisor;
	// Sweep removes the lab host once that process is gone. The default is
	// the calling process. Tests use it to stage an orphaned lab host.
	Owner string
	// Engine is the daemon the lab host runs: "nslab" (the default) or
	// "docker", the machine's real dockerd (see docker.go).
	Engine string
}

// Start creates a fresh lab host with the engine daemon running in it, and
// returns once the daemon answers. It must run as root. It first removes any
// lab host left over by an owner that died (Sweep).
func Start(o Options) (*Host, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("a lab host needs root: it creates namespaces, bridges and firewall rules (run as root, or in the VM: see README.md)")
	}
	dockerCLI, err := CheckEngine(o.Engine)
	if err != nil {
		return nil, err
	}
	Sweep()
	SweepDockerCgroups()
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	id := randomHex(6)
	rd, wr, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	owner := o.Owner
	if owner == "" {
		if owner, err = selfIdentity(); err != nil {
			return nil, err
		}
	}
	cmd := &exec.Cmd{
		Path:       exe,
		Args:       []string{"nslab", "__labhost"},
		Env:        append(append(os.Environ(), envInit+"=1", envTag+"="+id, envOwnr+"="+owner), engineEnv(o.Engine, dockerCLI)...),
		Stderr:     o.Stderr,
		ExtraFiles: []*os.File{wr},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC,
			Pdeathsig:  syscall.SIGKILL,
			Setpgid:    true,
		},
	}
	if err := spawn(cmd); err != nil {
		wr.Close()
		return nil, fmt.Errorf("start lab host supervisor: %w", err)
	}
	wr.Close()
	h := &Host{ID: id, Pid: cmd.Process.Pid, cmd: cmd, engine: o.Engine}
	if h.engine == "" {
		h.engine = DefaultEngine
	}
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
	env := os.Getenv(EnvHost)
	if env == "" || Inside(env) {
		return false, nil
	}
	pid, id, err := parseEnv(env)
	if err != nil {
		return false, err
	}
	if !alive(pid, id) {
		return false, fmt.Errorf("%s=%s names a lab host that is no longer running", EnvHost, env)
	}
	exe, err := os.Executable()
	if err != nil {
		return false, err
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return false, fmt.Errorf("nsenter (util-linux) is needed to enter a lab host: %w", err)
	}
	argv := append(append([]string{"nsenter"}, nsenterArgs(pid)...), exe)
	argv = append(argv, os.Args[1:]...)
	// exe keeps argv[0] "nslab" semantics through the name of the binary;
	// callers that dispatch on argv[0] run a binary called nslab.
	return true, syscall.Exec(nsenter, argv, InsideEnv(os.Environ(), env))
}

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

// Sweep kills, by exact pid, every lab host supervisor on this machine whose
// owner process has gone. Such a supervisor can only exist if its owner was
// killed before PDEATHSIG could act; killing it makes the kernel remove the
// rest of that lab host. It returns the pids it killed.
func Sweep() []int {
	var killed []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		var tag, owner string
		for _, kv := range strings.Split(string(env), "\x00") {
			if v, ok := strings.CutPrefix(kv, envTag+"="); ok {
				tag = v
			} else if v, ok := strings.CutPrefix(kv, envOwnr+"="); ok {
				owner = v
			}
		}
		if tag == "" || ownerAlive(owner) {
			continue
		}
		if unix.Kill(pid, unix.SIGKILL) == nil {
			killed = append(killed, pid)
		}
	}
	return killed
}

func ownerAlive(owner string) bool {
	pidS, start, ok := strings.Cut(owner, ":")
	if !ok {
		return false
	}
	pid, err := strconv.Atoi(pidS)
	if err != nil {
		return false
	}
	got, err := startTime(pid)
	return err == nil && got == start
}

func selfIdentity() (string, error) {
	st, err := startTime(os.Getpid())
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d:%s", os.Getpid(), st), nil
}

// startTime is field 22 of /proc/PID/stat, which tells a pid's incarnations
// apart.
func startTime(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return "", fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return f[19], nil
}
