package labhost

// A Docker-engine lab host runs the machine's real dockerd instead of
// nslab's daemon: same namespaces, same simulated outside and upstream DNS,
// but the bridges, iptables rules and containers are Docker's own. It is the
// referee the labs are checked against (issue 9).
//
// Everything dockerd keeps lives on the lab host's private /run tmpfs: data
// root, exec root (and with it the containerd that dockerd starts and
// manages, whose socket is under the exec root), its socket, pid file and a
// config file of its own, so the machine's /etc/docker/daemon.json is never
// read. The machine's /run/containerd/containerd.sock is hidden by that
// tmpfs, so dockerd cannot find (and use) the machine's containerd.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Engine names, for Options.Engine.
const (
	EngineNslab  = "nslab"
	EngineDocker = "docker"
)

// Engines lists the valid engine names.
var Engines = []string{EngineNslab, EngineDocker}

// DefaultEngine is the engine of a lab host whose Options name none; the
// command line sets it from --engine.
var DefaultEngine = EngineNslab

// Paths in a Docker-engine lab host, all on its private /run.
const (
	// DockerSocket is where the lab host's dockerd listens: the lab host's
	// own /var/run/docker.sock, so the docker CLI's default finds it.
	DockerSocket = "/run/docker.sock"
	// dockerExecRoot is dockerd's default exec root, so SandboxKey reads
	// /var/run/docker/netns/... as on any Docker host. It is on the lab
	// host's /run only because /var/run links to /run (dockerExecRoot
	// checks).
	defaultExecRoot = "/var/run/docker"
	DockerDir       = StateDir + "/docker"
	DockerDataRoot  = DockerDir + "/data"
	DockerConfig    = DockerDir + "/daemon.json"
	DockerPidfile   = DockerDir + "/dockerd.pid"
	DockerLog       = StateDir + "/dockerd.log"
	engineFile      = StateDir + "/engine"
)

const (
	envEngine    = "NSLAB_LABHOST_ENGINE" // the supervisor's engine
	envDockerCLI = "NSLAB_DOCKER_CLI"     // the real docker CLI, found on the machine
	// EnvDockerd names another dockerd to run (an absolute path); tests
	// use it to stage a daemon that fails to start.
	EnvDockerd = "NSLAB_DOCKERD"
)

// CheckEngine validates an engine name ("" is DefaultEngine) and, for
// Docker, that the machine has what a Docker-engine lab host needs. It
// returns the real docker CLI's path for Docker.
func CheckEngine(name string) (string, error) {
	if name == "" {
		name = DefaultEngine
	}
	switch name {
	case EngineNslab:
		return "", nil
	case EngineDocker:
	default:
		return "", fmt.Errorf("unknown engine %q: the engines are %s", name, strings.Join(Engines, ", "))
	}
	for _, tool := range []string{"dockerd", "containerd", "runc"} {
		if _, err := lookSystem(tool); err != nil {
			return "", fmt.Errorf("--engine docker runs the machine's Docker Engine inside the lab host, but %s is not installed: install Debian's docker.io (apt-get install docker.io, or NSLAB_WITH_DOCKER=1 scripts/provision.sh)", tool)
		}
	}
	cli, err := dockerCLI()
	if err != nil {
		return "", err
	}
	return cli, nil
}

// lookSystem finds a program in the standard system directories, not in
// PATH: PATH may hold nslab's own docker alias (in tests, the test binary).
func lookSystem(name string) (string, error) {
	for _, dir := range systemDirs {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in the system directories", name)
}

// systemDirs are where lookSystem and dockerCLI look (tests change them).
var systemDirs = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// dockerCLI is the first real docker CLI in the system directories: a
// docker that is not nslab itself.
func dockerCLI() (string, error) {
	self, _ := os.Executable()
	selfSt, _ := os.Stat(self)
	for _, dir := range systemDirs {
		p := filepath.Join(dir, "docker")
		st, err := os.Stat(p)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		if selfSt != nil && os.SameFile(st, selfSt) {
			continue
		}
		return p, nil
	}
	return "", errors.New("--engine docker needs the docker CLI, which is not installed: install Debian's docker.io (apt-get install docker.io, or NSLAB_WITH_DOCKER=1 scripts/provision.sh)")
}

// Engine is the engine of the lab host this process runs in: "docker" or
// "nslab".
func Engine() string { return engineAt("") }

// engineAt is the engine of the lab host whose root is at root ("" for
// this process's own).
func engineAt(root string) string {
	b, err := os.ReadFile(root + engineFile)
	if err == nil && strings.TrimSpace(string(b)) == EngineDocker {
		return EngineDocker
	}
	return EngineNslab
}

// EngineOf is the engine of the running lab host named by env (the value
// of EnvHost), seen from outside it through its supervisor's root.
func EngineOf(env string) string {
	pid, id, err := parseEnv(env)
	if err != nil || !alive(pid, id) {
		return ""
	}
	return engineAt(fmt.Sprintf("/proc/%d/root", pid))
}

// engineEnv is the supervisor's environment for engine name (already
// checked) and the docker CLI found for it.
func engineEnv(name, cli string) []string {
	if name == "" {
		name = DefaultEngine
	}
	if name != EngineDocker {
		return nil
	}
	return []string{envEngine + "=" + EngineDocker, envDockerCLI + "=" + cli}
}

// startEngine starts the lab host's engine daemon, nslab's or Docker's.
func startEngine(id string) (int, error) {
	if os.Getenv(envEngine) == EngineDocker {
		return startDockerd(id, os.Getenv(envDockerCLI))
	}
	return startDaemon()
}

// dockerCgroupParent is the cgroup, in every hierarchy of the machine, that
// holds the containers of lab host id: one name per lab host, so a sweep
// can remove what a killed lab host left.
func dockerCgroupParent(id string) string { return "/nslab-labhost-" + id }

func startDockerd(id, cli string) (int, error) {
	if cli == "" {
		return 0, errors.New("no docker CLI given to the Docker-engine lab host")
	}
	dockerd := os.Getenv(EnvDockerd)
	if dockerd == "" {
		var err error
		if dockerd, err = lookSystem("dockerd"); err != nil {
			return 0, err
		}
	}
	if err := mountCgroups(); err != nil {
		return 0, err
	}
	// A new network namespace copies the machine's ip_forward, which the
	// machine's own Docker has turned on. A fresh Docker host has it off:
	// dockerd then turns it on and closes FORWARD (policy DROP), as the
	// notes show.
	if err := SetSysctl("net/ipv4/ip_forward", "0"); err != nil {
		return 0, err
	}
	execRoot := dockerExecRoot()
	for _, d := range []string{DockerDir, DockerDataRoot, execRoot, DockerDir + "/cli"} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return 0, err
		}
	}
	cfg := map[string]any{
		"storage-driver": "overlay2",
		"exec-opts":      []string{"native.cgroupdriver=cgroupfs"},
		"cgroup-parent":  dockerCgroupParent(id),
		// dockerd 20.10 creates its trust key at /etc/docker/key.json
		// unless told otherwise: keep it on the lab host's /run.
		"deprecated-key-path": DockerDir + "/key.json",
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(DockerConfig, b, 0o644); err != nil {
		return 0, err
	}
	var env []string
	for _, kv := range InsideEnv(os.Environ(), "") {
		if !strings.HasPrefix(kv, "NSLAB_") && !strings.HasPrefix(kv, "DOCKER_") && !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	// dockerd finds docker-proxy, containerd and runc on its PATH: the
	// machine's, never a PATH that holds nslab's own aliases (under go
	// test, testscript's bin has nslab's docker-proxy, which dockerd would
	// otherwise run as its userland proxy).
	env = append(env, "PATH="+containerPath)
	argv := []string{"dockerd",
		"--config-file", DockerConfig,
		"--data-root", DockerDataRoot,
		"--exec-root", execRoot,
		"-H", "unix://" + DockerSocket,
		"--pidfile", DockerPidfile,
	}
	pid, err := forkLogged(dockerd, argv, env, DockerLog)
	if err != nil {
		return 0, fmt.Errorf("start dockerd: %w", err)
	}
	fail := func(err error) (int, error) {
		unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
		log, _ := os.ReadFile(DockerLog)
		return 0, fmt.Errorf("dockerd did not start: %w%s", err, tail(string(log)))
	}
	t0 := time.Now()
	if err := waitDockerd(pid); err != nil {
		return fail(err)
	}
	t1 := time.Now()
	if err := installDockerCLI(cli); err != nil {
		return fail(err)
	}
	if err := loadImages(); err != nil {
		return fail(err)
	}
	if logf, err := os.OpenFile(DockerLog, os.O_WRONLY|os.O_APPEND, 0); err == nil {
		fmt.Fprintf(logf, "nslab: dockerd answered after %s; busybox, multitool and mysql loaded in %s\n",
			t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
		logf.Close()
	}
	if err := os.WriteFile(engineFile, []byte(EngineDocker+"\n"), 0o644); err != nil {
		return fail(err)
	}
	return pid, nil
}

// dockerExecRoot is /var/run/docker when /var/run is the lab host's /run
// (as on Debian), else /run/docker: never a directory on the machine's disk.
func dockerExecRoot() string {
	if d, err := filepath.EvalSymlinks("/var/run"); err == nil && d == "/run" {
		return defaultExecRoot
	}
	return "/run/docker"
}

// dockerClient talks HTTP to the lab host's dockerd.
var dockerClient = &http.Client{
	Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", DockerSocket)
		},
	},
}

// waitDockerd polls dockerd's /_ping, a bounded number of times, until it
// answers; it fails at once if dockerd exits.
func waitDockerd(pid int) error {
	const tries = 300 // at most about a minute
	for i := 0; i < tries; i++ {
		var ws unix.WaitStatus
		if got, _ := unix.Wait4(pid, &ws, unix.WNOHANG, nil); got == pid {
			return fmt.Errorf("dockerd exited (%s)", waitString(ws))
		}
		if pingDockerd() {
			return nil
		}
		time.Sleep(100 * time.Millisecond) // between bounded retries
	}
	return fmt.Errorf("dockerd did not answer on %s after %d tries", DockerSocket, tries)
}

func pingDockerd() bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://docker/_ping", nil)
	resp, err := dockerClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func waitString(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}

// installDockerCLI makes docker on the lab host's PATH the real docker CLI,
// pointed at the lab host's dockerd, with a config directory of its own (so
// the machine's ~/.docker, its contexts and credentials, are never read).
// run and create get --pull never: images come only from nslab.
func installDockerCLI(cli string) error {
	script := fmt.Sprintf(`#!/bin/sh
# docker on this lab host is the real Docker CLI, talking to the lab host's
# own dockerd. Images are never pulled: run and create get --pull never.
unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
export DOCKER_HOST=unix://%s DOCKER_CONFIG=%s
case "$1" in
run|create) v=$1; shift; set -- "$v" --pull never "$@" ;;
esac
exec %s "$@"
`, DockerSocket, DockerDir+"/cli", cli)
	p := filepath.Join(BinDir, "docker")
	os.Remove(p)
	return os.WriteFile(p, []byte(script), 0o755)
}

// dockerAPI calls the lab host's dockerd and fails on an error status or an
// error in a JSON progress stream.
func dockerAPI(method, path string, q url.Values, body io.Reader) error {
	u := "http://docker" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-tar")
	}
	resp, err := dockerClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(out)))
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var m struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&m); err != nil {
			break
		}
		if m.Error != "" {
			return fmt.Errorf("%s %s: %s", method, path, m.Error)
		}
	}
	return nil
}

// stopDockerContainers kills a Docker-engine lab host's containers before
// it closes. On SIGTERM dockerd gives each container its stop timeout (10s
// for a PID 1 that ignores SIGTERM, like sleep), and the lab host and all
// it holds are thrown away anyway. Bounded: at most 10s.
func (h *Host) stopDockerContainers() {
	if h.engine != EngineDocker {
		return
	}
	cmd, err := Command(h.Env(), "sh", "-c", "docker ps -q | xargs -r docker kill >/dev/null 2>&1")
	if err != nil || cmd.Start() != nil {
		return
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}
