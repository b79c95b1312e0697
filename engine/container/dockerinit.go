package container

import (
	"bytes"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// --init: Docker runs tini, installed as docker-init, as the container's
// PID 1, with the command as its child: it reaps every orphan that the
// kernel hands to PID 1 and forwards the signals it gets to the command
// (a command as PID 1 ignores any signal it has no handler for, which is
// why `docker stop` of a shell takes the full timeout). nslab's stand-in is
// the init helper itself: it does not exec the command but forks it, and
// stays as PID 1 under tini's name. Docker binds docker-init read-only at
// /sbin/docker-init; nslab binds its own binary there, so the file and the
// mount are where Docker has them, and calls itself docker-init (comm and
// command line), so ps shows "/sbin/docker-init -- CMD...".

// DockerInitPath is where the init is bound inside the container, as in
// Docker.
const DockerInitPath = "/sbin/docker-init"

// bindDockerInit binds nslab's own binary read-only at /sbin/docker-init
// under root.
func bindDockerInit(root string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return bindMounts(root, []Mount{{Source: exe, Target: DockerInitPath, ReadOnly: true}})
}

// runDockerInit starts the command as the child of this process, PID 1,
// then forwards signals to it and reaps everything until it exits, and
// exits with its status (128+N for a signal N, as tini). It runs on the
// locked main thread, already confined: the child inherits its
// credentials.
func runDockerInit(path string, argv, env []string, tty bool) {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs)
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Foreground: tty, Ctty: 0},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "[FATAL tini (1)] exec %s failed: %v\n", argv[0], err)
		os.Exit(127)
	}
	go func() {
		for s := range sigs {
			switch s {
			case syscall.SIGCHLD, syscall.SIGURG, syscall.SIGWINCH, syscall.SIGTTIN, syscall.SIGTTOU:
				// Go's runtime preemption (SIGURG) and job control are
				// not the command's business; tini ignores TTIN/TTOU.
				if s != syscall.SIGWINCH {
					continue
				}
			}
			syscall.Kill(pid, s.(syscall.Signal))
		}
	}()
	for {
		var ws syscall.WaitStatus
		p, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			os.Exit(1)
		}
		if p != pid {
			continue // an orphan, reaped
		}
		switch {
		case ws.Exited():
			os.Exit(ws.ExitStatus())
		case ws.Signaled():
			os.Exit(128 + int(ws.Signal()))
		}
	}
}

// nameDockerInit names this process as Docker's docker-init with argv as
// its command. Call it before the capabilities are dropped.
func nameDockerInit(argv []string) {
	setProcessName("docker-init", append([]string{DockerInitPath, "--"}, argv...))
}

// setProcessName sets comm and the command line that /proc/self/cmdline
// and ps show. PR_SET_MM would need CAP_SYS_RESOURCE, which a lab host may
// not have, so the title is written over the original argument and
// environment strings (through /proc/self/mem), as setproctitle(3) does:
// the kernel then reads the command line up to the title's NUL, with spaces
// where Docker's has NULs (ps shows the same).
func setProcessName(comm string, argv []string) {
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&append([]byte(comm), 0)[0])), 0, 0, 0)
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return
	}
	// Fields after the ")" that ends comm: state is field 3, arg_start
	// is field 48 and env_end field 51.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 49 {
		return
	}
	argStart, err1 := strconv.ParseInt(f[48-3], 10, 64)
	envEnd, err2 := strconv.ParseInt(f[51-3], 10, 64)
	if err1 != nil || err2 != nil || envEnd <= argStart {
		return
	}
	title := []byte(strings.Join(argv, " "))
	if int64(len(title)) > envEnd-argStart-1 {
		title = title[:envEnd-argStart-1]
	}
	mem, err := os.OpenFile("/proc/self/mem", os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer mem.Close()
	mem.WriteAt(append(title, 0), argStart)
}
