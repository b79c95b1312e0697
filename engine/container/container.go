// Package container starts container processes: an init helper (the small
// nslab-shim binary, or a re-exec of nslab where there is none; see
// engine/shim), forked into the container's network (and, if shared, pid)
// namespace and cloned with new mount, UTS, IPC and pid namespaces. The
// helper makes mount propagation private before it mounts anything (Go's
// SysProcAttr cannot), builds the root filesystem from an overlay on the
// image, mounts a fresh /proc, binds the container's hosts, hostname and
// resolv.conf, pivots into the new root, confines itself as Docker confines
// a container (security.go) and execs the command, which becomes PID 1.
package container

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nslab/nslab/engine/internal/reap"
	"github.com/nslab/nslab/engine/netns"
	"github.com/nslab/nslab/engine/shim"
	"golang.org/x/sys/unix"
)

// NewID returns a 64-hex container ID. Like Docker, it redraws IDs whose
// first 12 characters are all digits, so the short ID never looks like a
// number.
func NewID() string {
	for {
		b := make([]byte, 32)
		rand.Read(b)
		id := hex.EncodeToString(b)
		if strings.Trim(id[:12], "0123456789") != "" {
			return id
		}
	}
}

// Spec says how to start one container process.
type Spec struct {
	Hostname string
	Dir      string   // per-container state directory (upper layer, files)
	Lower    string   // image root filesystem
	Cmd      []string // argv
	Env      []string // the container's own (image's, -e, --env-file), after Env's defaults
	Tty      bool

	// NetNS is the network namespace to join: a pinned file or
	// /proc/PID/ns/net. Empty means the lab host's own (--network host).
	NetNS string
	// PidNS is a pid namespace to join (/proc/PID/ns/pid, for
	// --pid container:X). PidHost shares the lab host's. Otherwise the
	// container gets its own and its command is PID 1.
	PidNS   string
	PidHost bool
	// Template is the mount namespace the container's is copied from
	// (template.go); nil copies the caller's.
	Template *Template

	// Files to bind onto /etc/hosts, /etc/hostname and /etc/resolv.conf.
	Hosts, HostnameFile, ResolvConf string

	// Security: capabilities, /proc protection, no_new_privs.
	Security Security
	// Sysctls are --sysctl values, checked by ValidSysctl.
	Sysctls map[string]string
	// Mounts are -v and --mount binds; WorkDir is -w; Init is --init.
	Mounts  []Mount
	WorkDir string
	Init    bool

	Stdin  *os.File
	Stdout *os.File
	Stderr *os.File
}

// initConfig travels to the init helper in the environment.
type initConfig struct {
	Protocol int // shim.Protocol: the helper may be a separate binary
	Hostname string
	Dir      string
	Lower    string
	Cmd      []string
	Env      []string
	Tty      bool
	Binds    [][2]string // source, target inside the root
	Security Security
	Sysctls  map[string]string
	Mounts   []Mount
	WorkDir  string
	Init     bool
}

const envInitConfig = "NSLAB_INIT_CONFIG"

// Start starts the container's first process and returns it once the
// command has been exec'd, or an error saying why it could not be (for
// example "exec: "foo": executable file not found in $PATH"). The process
// is held by one pidfd (engine/internal/reap).
func Start(s Spec) (*reap.Process, error) {
	exe, err := shim.Binary()
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"upper", "work", "rootfs"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	cfg := initConfig{
		Protocol: shim.Protocol,
		Hostname: s.Hostname, Dir: s.Dir, Lower: s.Lower, Cmd: s.Cmd, Env: s.Env, Tty: s.Tty,
		Security: s.Security, Sysctls: s.Sysctls, Mounts: s.Mounts, WorkDir: s.WorkDir, Init: s.Init,
		Binds: [][2]string{
			{s.Hosts, "/etc/hosts"}, {s.HostnameFile, "/etc/hostname"}, {s.ResolvConf, "/etc/resolv.conf"},
		},
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	rd, wr, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	flags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC)
	if s.PidNS == "" && !s.PidHost {
		flags |= unix.CLONE_NEWPID
	}
	cmd := &exec.Cmd{
		// nslab-shim if there is one (engine/shim), else nslab itself.
		Path: exe,
		Args: []string{shim.Name, "__init"},
		// One processor: the helper runs one thread of work and then
		// execs, and a smaller runtime starts faster. Init clears the
		// environment before setting the command's, so the command never
		// sees it.
		Env:        []string{envInitConfig + "=" + string(js), "GOMAXPROCS=1"},
		Stdin:      s.Stdin,
		Stdout:     s.Stdout,
		Stderr:     s.Stderr,
		ExtraFiles: []*os.File{wr},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: flags,
			Setsid:     true,
			Setctty:    s.Tty,
			Ctty:       0,
		},
	}
	p, err := forkIn(s.NetNS, s.PidNS, s.Template.fdFor(s.Mounts), cmd)
	wr.Close()
	if err != nil {
		return nil, fmt.Errorf("start container init: %w", err)
	}
	msg, _ := io.ReadAll(rd)
	if len(msg) > 0 {
		p.Wait()
		return nil, fmt.Errorf("%s", strings.TrimSpace(string(msg)))
	}
	return p, nil
}

// forkIn starts cmd from an OS thread that has joined the given network
// and pid namespaces, and the mount namespace open as mntFD unless it is
// -1, so the child is born in them (or cloned from them). setns(CLONE_NEWPID)
// changes only the namespace of the thread's future children. netns.OnThread
// switches the thread back afterwards, or discards it once it has entered
// a mount namespace.
func forkIn(netPath, pidPath string, mntFD int, cmd *exec.Cmd) (*reap.Process, error) {
	var p *reap.Process
	err := netns.OnThread(func(t *netns.Thread) error {
		if netPath != "" {
			if err := t.JoinPath(netPath, unix.CLONE_NEWNET); err != nil {
				return err
			}
		}
		if pidPath != "" {
			if err := t.JoinPath(pidPath, unix.CLONE_NEWPID); err != nil {
				return err
			}
		}
		if mntFD >= 0 {
			// Last: the template has no netns pins, so the paths
			// above would not open in it. The thread dies after the
			// fork, so the child must never be given a Pdeathsig,
			// which fires when the forking thread ends.
			if err := t.EnterMount(mntFD); err != nil {
				return err
			}
		}
		var err error
		p, err = reap.Start(cmd)
		return err
	})
	if err != nil && p != nil {
		// Started, but the thread could not be restored: the caller
		// gets no process, so none may be left running.
		p.Kill()
		p.Wait()
		p = nil
	}
	return p, err
}

// IsInit reports whether this process is a container init helper.
func IsInit() bool { return os.Getenv(envInitConfig) != "" }

// Init is the body of the init helper. It does not return on success: the
// container's command replaces it. On failure it reports on fd 3 and exits.
func Init() {
	status := os.NewFile(3, "status")
	unix.CloseOnExec(3)
	fail := func(format string, a ...any) {
		fmt.Fprintf(status, format, a...)
		os.Exit(127)
	}
	var cfg initConfig
	if err := json.Unmarshal([]byte(os.Getenv(envInitConfig)), &cfg); err != nil {
		fail("bad init config: %v", err)
	}
	if cfg.Protocol != shim.Protocol {
		fail("%s speaks protocol %d, the daemon %d: build nslab and %s from one tree", shim.Name, shim.Protocol, cfg.Protocol, shim.Name)
	}
	if err := setupRoot(cfg); err != nil {
		fail("container root: %v", err)
	}
	if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
		fail("set hostname: %v", err)
	}
	env := Env(cfg.Hostname, cfg.Tty)
	if u := cfg.Security.User; u != nil {
		// runc's HOME: the user's, from the image's passwd ("/" when
		// the user has none), unless the container's Env sets it.
		env = append(env, "HOME="+u.Home)
	}
	env = append(env, cfg.Env...)
	if len(cfg.Cmd) == 0 {
		fail("no command specified")
	}
	// Later values win (the image's PATH over the default one), each
	// variable once, in first-seen order; a bare KEY sets nothing.
	os.Clearenv()
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			os.Setenv(k, v)
		}
	}
	env = os.Environ()
	if err := workDir(cfg.WorkDir); err != nil {
		fail("%v", err)
	}
	path, err := exec.LookPath(cfg.Cmd[0])
	if err != nil {
		fail("exec: %q: executable file not found in $PATH", cfg.Cmd[0])
	}
	if cfg.Init {
		nameDockerInit(cfg.Cmd)
	}
	// Last, on this thread (the main one, locked), give up what the
	// container may not have; execve passes it on.
	if err := limitCaps(cfg.Security); err != nil {
		fail("container security: %v", err)
	}
	if cfg.Init {
		// The command is now started; the status pipe must not
		// outlive this point as if the start had failed.
		status.Close()
		runDockerInit(path, cfg.Cmd, env, cfg.Tty)
	}
	err = unix.Exec(path, cfg.Cmd, env)
	fail("exec %s: %v", cfg.Cmd[0], err)
}

func setupRoot(cfg initConfig) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	root := filepath.Join(cfg.Dir, "rootfs")
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", cfg.Lower, filepath.Join(cfg.Dir, "upper"), filepath.Join(cfg.Dir, "work"))
	// Docker lets a container mknod (CAP_MKNOD is in its default set) but
	// its device cgroup refuses to open any node that is not on the
	// allowed list. nslab has no device cgroup, so it stands in with
	// nodev: the root and /dev are mounted nodev, and only the device
	// nodes bound below, each its own mount without nodev, can be opened.
	// A node made with mknod, say of the machine's disk, opens with EACCES.
	var nodev uintptr = unix.MS_NODEV
	if cfg.Security.Privileged {
		nodev = 0
	}
	if err := unix.Mount("overlay", root, "overlay", nodev, opts); err != nil {
		return fmt.Errorf("mount overlay on %s: %w", root, err)
	}
	mnt := func(src, target, fstype string, flags uintptr, data string) error {
		t := filepath.Join(root, target)
		if err := os.MkdirAll(t, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(src, t, fstype, flags, data); err != nil {
			return fmt.Errorf("mount %s on %s: %w", fstype, target, err)
		}
		return nil
	}
	if err := mnt("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}
	if err := writeSysctls(root, cfg.Sysctls); err != nil {
		return err
	}
	var sysRO uintptr = unix.MS_RDONLY
	if cfg.Security.Privileged {
		sysRO = 0
	} else if err := protectProc(root); err != nil {
		return err
	}
	if err := mnt("sysfs", "/sys", "sysfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|sysRO, ""); err != nil {
		return err
	}
	if !cfg.Security.Privileged {
		if err := protectSys(root); err != nil {
			return err
		}
	}
	if err := mnt("tmpfs", "/dev", "tmpfs", unix.MS_NOSUID|nodev, "mode=755"); err != nil {
		return err
	}
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		t := filepath.Join(root, "dev", d)
		if err := os.WriteFile(t, nil, 0o666); err != nil {
			return err
		}
		if err := unix.Mount("/dev/"+d, t, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind /dev/%s: %w", d, err)
		}
	}
	if err := mnt("/dev/pts", "/dev/pts", "", unix.MS_BIND, ""); err != nil {
		return err
	}
	if err := mnt("shm", "/dev/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return err
	}
	// The container's own IPC namespace's message queues, as Docker mounts them.
	if err := mnt("mqueue", "/dev/mqueue", "mqueue", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}
	if tty, ok := terminalPath(cfg.Tty); ok {
		// Docker binds the container's terminal onto /dev/console.
		t := filepath.Join(root, "dev", "console")
		if err := os.WriteFile(t, nil, 0o600); err != nil {
			return err
		}
		if err := unix.Mount(tty, t, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind the terminal %s on /dev/console: %w", tty, err)
		}
	}
	for name, target := range map[string]string{
		"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
	} {
		os.Symlink(target, filepath.Join(root, "dev", name))
	}
	for _, b := range cfg.Binds {
		if b[0] == "" {
			continue
		}
		t := filepath.Join(root, b[1])
		os.MkdirAll(filepath.Dir(t), 0o755)
		if _, err := os.Lstat(t); err != nil {
			if err := os.WriteFile(t, nil, 0o644); err != nil {
				return err
			}
		} else if fi, _ := os.Lstat(t); fi.Mode()&os.ModeSymlink != 0 {
			// The multitool's /etc/resolv.conf may be a link into
			// the real /run: replace it in the writable layer.
			os.Remove(t)
			os.WriteFile(t, nil, 0o644)
		}
		if err := unix.Mount(b[0], t, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s on %s: %w", b[0], b[1], err)
		}
	}
	if err := bindMounts(root, cfg.Mounts); err != nil {
		return err
	}
	if cfg.Init {
		if err := bindDockerInit(root); err != nil {
			return fmt.Errorf("bind docker-init: %w", err)
		}
	}
	old := filepath.Join(root, ".oldroot")
	if err := os.MkdirAll(old, 0o700); err != nil {
		return err
	}
	if err := unix.PivotRoot(root, old); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	if err := unix.Unmount("/.oldroot", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount old root: %w", err)
	}
	os.Remove("/.oldroot")
	return nil
}

// Env is a container process's environment, as Docker sets it for the
// first process and for exec: PATH, HOSTNAME and HOME, and TERM with a
// terminal.
func Env(hostname string, tty bool) []string {
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOSTNAME=" + hostname,
		"HOME=/root",
	}
	if tty {
		env = append(env, "TERM=xterm")
	}
	return env
}

// terminalPath is the path, in this mount namespace, of the terminal on
// stdin. Bind mounts refuse the descriptor itself (its mount belongs to the
// daemon's or the caller's mount namespace: EINVAL), so the path is used,
// and only when it names the very same terminal (a caller outside the lab
// host may have its own /dev/pts). Otherwise there is no /dev/console.
func terminalPath(tty bool) (string, bool) {
	if !tty {
		return "", false
	}
	p, err := os.Readlink("/proc/self/fd/0")
	if err != nil {
		return "", false
	}
	var fdst, pst unix.Stat_t
	if unix.Fstat(0, &fdst) != nil || unix.Stat(p, &pst) != nil {
		return "", false
	}
	return p, fdst.Dev == pst.Dev && fdst.Ino == pst.Ino && fdst.Rdev == pst.Rdev
}
