package container

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nslab/nslab/engine/shim"
	"golang.org/x/sys/unix"
)

// Containers run as root in the lab host's user namespace, so their
// capabilities are real ones: CAP_SYS_ADMIN or CAP_NET_ADMIN over the
// machine's global sysctls, its devices and its modules. As Docker does, a
// container gets Docker's default set and nothing more, /proc's global knobs
// are read-only, the files that leak the machine's state are masked, and
// --privileged lifts all of it.

// capNames are the capabilities Linux 6.x knows, by number.
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
	"CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
	"CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// DefaultCaps is Docker's default capability set (moby oci/caps/defaults.go),
// which gives CapEff 00000000a80425fb.
var DefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
	"CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
	"CAP_AUDIT_WRITE",
}

// NormalizeCaps turns --cap-add/--cap-drop values into Docker's canonical
// form: upper case, with the CAP_ prefix, ALL kept as it is. An unknown name
// is refused with Docker's message.
func NormalizeCaps(caps []string) ([]string, error) {
	var out []string
	for _, c := range caps {
		c = strings.ToUpper(strings.TrimSpace(c))
		if c == "ALL" {
			out = append(out, c)
			continue
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if !slices.Contains(capNames, c) {
			return nil, fmt.Errorf("unknown capability: %q", c)
		}
		out = append(out, c)
	}
	return out, nil
}

// Capabilities is moby's TweakCapabilities: the set a container gets from
// normalized --cap-add and --cap-drop lists.
func Capabilities(add, drop []string) []string {
	var caps []string
	switch {
	case slices.Contains(add, "ALL"):
		for _, c := range capNames {
			if !slices.Contains(drop, c) {
				caps = append(caps, c)
			}
		}
	case slices.Contains(drop, "ALL"):
		caps = slices.Clone(add)
	default:
		for _, c := range DefaultCaps {
			if !slices.Contains(drop, c) {
				caps = append(caps, c)
			}
		}
		for _, c := range add {
			if !slices.Contains(caps, c) {
				caps = append(caps, c)
			}
		}
	}
	return caps
}

// Security is what a container's processes may do.
type Security struct {
	Privileged      bool     // all capabilities, /proc/sys writable, nothing masked
	Caps            []string // the capability set, when not privileged
	NoNewPrivileges bool     // --security-opt no-new-privileges
	User            *User    `json:",omitempty"` // -u; nil is root with root's groups
}

// limitCaps confines the calling thread, and so the program it execs next,
// to s. It must run on the thread that calls execve. As root, the kernel
// gives an exec'd program its bounding set as permitted and effective
// capabilities, so the bounding set is what really limits it; permitted
// and effective are set too, inheritable and ambient are empty (as in
// Docker since 20.10.14), so nothing is gained back through file
// capabilities.
func limitCaps(s Security) error {
	if s.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("set no_new_privs: %w", err)
		}
	}
	if s.Privileged {
		if s.User != nil {
			return setUser(s.User)
		}
		return nil
	}
	var keep [2]uint32
	for _, name := range s.Caps {
		n := slices.Index(capNames, name)
		if n < 0 {
			return fmt.Errorf("unknown capability: %q", name)
		}
		keep[n/32] |= 1 << (n % 32)
	}
	// Drop from the bounding set every capability this kernel knows
	// (PR_CAPBSET_READ fails past the last one) that is not kept.
	for n := 0; n < 64; n++ {
		if _, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(n), 0, 0, 0); err != nil {
			break
		}
		if keep[n/32]&(1<<(n%32)) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(n), 0, 0, 0); err != nil {
			return fmt.Errorf("drop capability %d from the bounding set: %w", n, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	if s.User != nil {
		if err := setUser(s.User); err != nil {
			return err
		}
		if s.User.UID != 0 {
			// As Docker: a user other than root keeps the bounding
			// set but has no permitted or effective capabilities.
			keep = [2]uint32{}
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: keep[0], Permitted: keep[0]},
		{Effective: keep[1], Permitted: keep[1]},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("set capabilities: %w", err)
	}
	return nil
}

// Docker's read-only and masked paths (moby oci/defaults.go). A privileged
// container has none of them.
var (
	readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
	maskedPaths   = []string{
		"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
		"/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
)

// protectProc makes the global parts of /proc read-only and masks the files
// that show the machine's state, under the new root. Paths this kernel lacks
// are skipped.
func protectProc(root string) error {
	for _, p := range readonlyPaths {
		t := filepath.Join(root, p)
		if _, err := os.Stat(t); err != nil {
			continue
		}
		if err := unix.Mount(t, t, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s read-only: %w", p, err)
		}
		if err := unix.Mount(t, t, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("remount %s read-only: %w", p, err)
		}
	}
	return mask(root, "/proc/")
}

// protectSys masks the parts of the (read-only) /sys that Docker masks.
func protectSys(root string) error { return mask(root, "/sys/") }

// mask hides the masked paths under prefix: /dev/null over files, an empty
// read-only tmpfs over directories.
func mask(root, prefix string) error {
	for _, p := range maskedPaths {
		if !strings.HasPrefix(p, prefix) {
			continue
		}
		t := filepath.Join(root, p)
		fi, err := os.Stat(t)
		if err != nil {
			continue
		}
		if fi.IsDir() {
			err = unix.Mount("tmpfs", t, "tmpfs", unix.MS_RDONLY, "size=0")
		} else {
			err = unix.Mount("/dev/null", t, "", unix.MS_BIND, "")
		}
		if err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
	}
	return nil
}

// writeSysctls sets --sysctl values through the container's fresh /proc
// before it is made read-only. The init runs in the container's network and
// IPC namespaces, so net.* and the IPC keys land there, not on the machine.
func writeSysctls(root string, sysctls map[string]string) error {
	for k, v := range sysctls {
		p := filepath.Join(root, "proc/sys", strings.ReplaceAll(k, ".", "/"))
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			return fmt.Errorf("set sysctl %s=%s: %w", k, v, err)
		}
	}
	return nil
}

// ValidSysctl is Docker CLI's check (opts.ValidateSysctl): only namespaced
// keys may be set, and the value must be given.
func ValidSysctl(kv string) (string, string, error) {
	k, v, ok := strings.Cut(kv, "=")
	ipc := []string{"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}
	if ok && (slices.Contains(ipc, k) || strings.HasPrefix(k, "net.") || strings.HasPrefix(k, "fs.mqueue.")) &&
		!strings.Contains(k, "/") && !strings.Contains(k, "..") {
		return k, v, nil
	}
	return "", "", fmt.Errorf("sysctl '%s' is not allowed", kv)
}

// The exec helper: `exec` is nsenter into the container's namespaces, and
// nsenter cannot drop capabilities. So nsenter runs nslab-shim (or nslab's
// own binary, where there is no nslab-shim), kept open by the CLI and
// reached as /proc/self/fd/N (the container's root does not have it), which
// limits its own thread as the container's init does and execs the command.
// The helper starts as a package init so that it runs before any
// command-line dispatch (a test binary dispatches on argv[0]).

const envExecHelper = "NSLAB_EXEC_HELPER"

// execHelperConfig travels to the exec helper in the environment.
type execHelperConfig struct {
	Protocol int // shim.Protocol: the helper may be a separate binary
	Security
	ExtraFDs int // inherited descriptors (3...) to close before the command runs
}

// ExecHelperEnv is the environment entry that makes the helper binary, run
// by nsenter inside a container, an exec helper.
func ExecHelperEnv(s Security, extraFDs int) (string, error) {
	js, err := json.Marshal(execHelperConfig{Protocol: shim.Protocol, Security: s, ExtraFDs: extraFDs})
	if err != nil {
		return "", err
	}
	return envExecHelper + "=" + string(js), nil
}

func init() {
	js, ok := os.LookupEnv(envExecHelper)
	if !ok {
		return
	}
	// Package initialization runs on the main thread, locked: the
	// capabilities set here are the ones execve passes on.
	os.Unsetenv(envExecHelper)
	fail := func(code int, format string, a ...any) {
		fmt.Fprintf(os.Stderr, format+"\n", a...)
		os.Exit(code)
	}
	var cfg execHelperConfig
	if err := json.Unmarshal([]byte(js), &cfg); err != nil {
		fail(126, "nslab exec helper: bad config: %v", err)
	}
	if cfg.Protocol != shim.Protocol {
		fail(126, "nslab exec helper: %s speaks protocol %d, the CLI %d: build nslab and %s from one tree", shim.Name, shim.Protocol, cfg.Protocol, shim.Name)
	}
	for fd := 3; fd < 3+cfg.ExtraFDs; fd++ {
		unix.CloseOnExec(fd)
	}
	if len(os.Args) < 2 {
		fail(126, "nslab exec helper: no command")
	}
	args := os.Args[1:]
	path, err := exec.LookPath(args[0])
	if err != nil {
		// Docker's wording and status for a command the image lacks.
		fail(126, "OCI runtime exec failed: exec failed: unable to start container process: exec: %q: executable file not found in $PATH: unknown", args[0])
	}
	if err := limitCaps(cfg.Security); err != nil {
		fail(126, "nslab exec helper: %v", err)
	}
	err = unix.Exec(path, args, os.Environ())
	fail(126, "OCI runtime exec failed: exec failed: unable to start container process: exec %s: %v: unknown", args[0], err)
}

// Helper is how nsenter reaches nslab's binary from inside a container:
// Files are inherited from descriptor 3 on, Argv runs the helper.
type Helper struct {
	Files []*os.File
	Argv  []string
}

// Close closes the helper's descriptors in the caller.
func (h *Helper) Close() {
	for _, f := range h.Files {
		f.Close()
	}
}

// ExecHelper opens the helper binary (nslab-shim, or else nslab's own; see
// shim.Binary) for nsenter to run inside a container as /proc/self/fd/3. A
// dynamically linked binary needs its loader and libc, which a busybox root
// lacks, so the loader is run from descriptor 4 with the library directory
// (descriptor 5) as its search path, and told to name the program nslab.
func ExecHelper() (*Helper, error) {
	exe, err := shim.Binary()
	if err != nil {
		return nil, fmt.Errorf("exec helper: %w", err)
	}
	h := &Helper{}
	open := func(path string, flags int) error {
		fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("exec helper: open %s: %w", path, err)
		}
		h.Files = append(h.Files, os.NewFile(uintptr(fd), path))
		return nil
	}
	if err := open(exe, unix.O_RDONLY); err != nil {
		return nil, err
	}
	interp, err := elfInterpreter(exe)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("exec helper: %s: %w", exe, err)
	}
	if interp == "" {
		h.Argv = []string{"/proc/self/fd/3"}
		return h, nil
	}
	real, err := filepath.EvalSymlinks(interp)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("exec helper: loader %s: %w", interp, err)
	}
	// libc sits beside the loader (Debian's /usr/lib/x86_64-linux-gnu).
	if err := open(real, unix.O_RDONLY); err != nil {
		h.Close()
		return nil, err
	}
	if err := open(filepath.Dir(real), unix.O_PATH|unix.O_DIRECTORY); err != nil {
		h.Close()
		return nil, err
	}
	h.Argv = []string{"/proc/self/fd/4", "--library-path", "/proc/self/fd/5", "--argv0", "nslab", "/proc/self/fd/3"}
	return h, nil
}

// elfInterpreter is the program interpreter (PT_INTERP) of an ELF file, or
// "" for a static one.
func elfInterpreter(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(p.Open())
			if err != nil {
				return "", err
			}
			return strings.TrimRight(string(b), "\x00"), nil
		}
	}
	return "", nil
}
