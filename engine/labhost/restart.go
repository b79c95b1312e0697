// Live-restore, the supervisor's part: when the engine daemon dies on its
// own (SIGKILL, a panic, the OOM killer), PID 1 of the lab host starts a
// new one, with bounded retries, and the new daemon re-adopts what the old
// one left running (engine/daemon/restore.go). Containers, docker-proxy
// processes and log shims do not die with the daemon: they are reparented
// to PID 1, which reaps them and keeps their exit status for the next
// daemon, as containerd's shim keeps it for dockerd.

package labhost

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Files of the live-restore machinery, on the lab host's /run.
const (
	// DaemonLog is the engine daemon's log, and the supervisor's notes
	// about it (each restart).
	DaemonLog = StateDir + "/daemon.log"
	// DaemonPidFile holds the running engine daemon's pid, for the CLI's
	// messages and for a lab that kills the daemon on purpose.
	DaemonPidFile = StateDir + "/daemon.pid"
	// ExitsDir holds the exit status of every orphan the supervisor
	// reaped, as "<pid>-<starttime>" files with the wait status.
	ExitsDir = StateDir + "/exits"
	// EnvDaemonRestore tells a daemon started by the supervisor after a
	// death to rebuild its state instead of starting fresh.
	EnvDaemonRestore = "NSLAB_DAEMON_RESTORE"
)

// Restart policy: at most maxRestarts restarts within restartWindow, the
// first after firstBackoff and each next one after twice the last, as
// Docker's restart policies back off (100 ms, doubling).
const (
	maxRestarts   = 5
	restartWindow = time.Minute
	firstBackoff  = 100 * time.Millisecond
	// maxExits bounds the exit records kept on /run: a daemon that never
	// comes back must not let them grow without end.
	maxExits = 4096
)

// restarter is the supervisor's restart policy for the engine daemon.
type restarter struct {
	enabled bool        // the nslab engine; dockerd is not restarted
	deaths  []time.Time // within the last restartWindow
}

func newRestarter(enabled bool) *restarter { return &restarter{enabled: enabled} }

// restart is called when the daemon pid died with status ws. It starts a
// new daemon, retrying within the policy, and returns its pid, or 0 and
// the supervisor's exit status when the lab host must end. A daemon that
// exited with status 0 was asked to stop (SIGTERM): that ends the lab host
// as before.
func (r *restarter) restart(pid int, ws unix.WaitStatus) (int, int) {
	for {
		if ws.Exited() && ws.ExitStatus() == 0 {
			return 0, 0
		}
		now := time.Now()
		kept := r.deaths[:0]
		for _, t := range r.deaths {
			if now.Sub(t) < restartWindow {
				kept = append(kept, t)
			}
		}
		r.deaths = append(kept, now)
		n := len(r.deaths)
		if n > maxRestarts {
			supervisorLog("engine daemon (pid %d) died (%s): %d deaths within %s, more than the %d restarts allowed; the lab host ends",
				pid, describeExit(ws), n, restartWindow, maxRestarts)
			// The owner (a sandbox) shows the log's last lines.
			fmt.Fprintf(os.Stderr, "nslab: the lab host's engine daemon (pid %d) died (%s) %d times within %s, more than the %d restarts allowed; the lab host ends (its log: %s)\n",
				pid, describeExit(ws), n, restartWindow, maxRestarts, DaemonLog)
			return 0, 3
		}
		delay := firstBackoff << (n - 1)
		supervisorLog("engine daemon (pid %d) died (%s); restarting it in %s (restart %d of at most %d within %s)",
			pid, describeExit(ws), delay, n, maxRestarts, restartWindow)
		os.Remove(DaemonPidFile)
		time.Sleep(delay) // back-off between bounded retries
		reapPending()
		next, err := startDaemon(true)
		if err == nil {
			supervisorLog("engine daemon restarted as pid %d", next)
			return next, 0
		}
		supervisorLog("engine daemon restart failed: %v", err)
		// startDaemon killed what it started: reap it and count the
		// failure as another death.
		ws = 0
		for {
			got, st, err := reapOne()
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				break
			}
			if st.Exited() || st.Signaled() {
				ws = st
			}
			_ = got
			break
		}
		if ws == 0 {
			ws = unix.WaitStatus(1 << 8) // exit status 1
		}
	}
}

// reapOne waits for any child and reaps it. An orphan's exit status (a
// container whose daemon died, a docker-proxy, a log shim) is kept in
// ExitsDir for the next daemon, under the pid and the start time read
// while the zombie still pins both.
func reapOne() (int, unix.WaitStatus, error) { return reap(0) }

// reapPending reaps every child that has exited already, without waiting:
// before a new daemon restores, the orphans that died with the old one
// (a container that rm had just killed) must have their statuses kept.
func reapPending() {
	for {
		pid, _, err := reap(unix.WNOHANG)
		if err == unix.EINTR {
			continue
		}
		if err != nil || pid == 0 {
			return
		}
	}
}

func reap(flags int) (int, unix.WaitStatus, error) {
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOWAIT|flags, nil); err != nil {
		return 0, 0, err
	}
	pid := int(siginfoPid(&info))
	if pid == 0 {
		return 0, 0, nil // WNOHANG: nobody has exited
	}
	start := StartTime(pid)
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err != unix.EINTR {
			if err != nil {
				return 0, 0, err
			}
			break
		}
	}
	if start != "" {
		recordExit(pid, start, ws)
	}
	return pid, ws, nil
}

// RecordExit keeps the exit status of the process pid that started at
// start, as the supervisor does for orphans: the daemon records its own
// containers' exits before it reaps them, so that a daemon that dies
// between the reaping and its state write does not lose them. It returns
// the record's path.
func RecordExit(pid int, start string, ws unix.WaitStatus) string {
	path := filepath.Join(ExitsDir, fmt.Sprintf("%d-%s", pid, start))
	os.WriteFile(path, []byte(strconv.Itoa(int(ws))+"\n"), 0o644)
	return path
}

// WaitStatusOf is the wait status a waitid siginfo describes.
func WaitStatusOf(info *unix.Siginfo) unix.WaitStatus {
	off := (3*4 + unsafe.Sizeof(uintptr(0)) - 1) &^ (unsafe.Sizeof(uintptr(0)) - 1)
	status := *(*int32)(unsafe.Add(unsafe.Pointer(info), off+8))
	switch info.Code {
	case 2: // CLD_KILLED
		return unix.WaitStatus(status & 0x7f)
	case 3: // CLD_DUMPED
		return unix.WaitStatus(status&0x7f | 0x80)
	}
	return unix.WaitStatus((status & 0xff) << 8)
}

var (
	exitsKept int
	daemonPid int // the daemon's own exit is the supervisor's business
)

func recordExit(pid int, start string, ws unix.WaitStatus) {
	if pid == daemonPid {
		return
	}
	if _, err := os.Stat(ExitsDir); err != nil {
		return
	}
	if exitsKept >= maxExits {
		// A restarted daemon removes the records it does not need:
		// count what is left before giving up.
		ents, _ := os.ReadDir(ExitsDir)
		if exitsKept = len(ents); exitsKept >= maxExits {
			return
		}
	}
	exitsKept++
	os.WriteFile(filepath.Join(ExitsDir, fmt.Sprintf("%d-%s", pid, start)), []byte(strconv.Itoa(int(ws))+"\n"), 0o644)
}

// Exit reads the status the supervisor kept for the process pid that
// started at start (StartTime), and removes the record. ok is false when
// there is none (the process has not been reaped by the supervisor).
func Exit(pid int, start string) (ws unix.WaitStatus, ok bool) {
	path := filepath.Join(ExitsDir, fmt.Sprintf("%d-%s", pid, start))
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, false
	}
	os.Remove(path)
	return unix.WaitStatus(n), true
}

// StartTime is field 22 of /proc/PID/stat, the process's start time in
// clock ticks since boot: with the pid it names one process for good, as
// pids are reused. It is "" when the process is gone.
func StartTime(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(b[i+1:]))
	// Fields after the name start at field 3.
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// writeDaemonPid records the daemon's pid and makes the exits directory
// (from then on, orphans' statuses are kept).
func writeDaemonPid(pid int) {
	daemonPid = pid
	os.MkdirAll(ExitsDir, 0o755)
	os.WriteFile(DaemonPidFile, []byte(strconv.Itoa(pid)+"\n"), 0o644)
}

// DaemonPid is the running engine daemon's pid, or 0.
func DaemonPid() int {
	b, err := os.ReadFile(reachRoot + DaemonPidFile)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// supervisorLog appends a line to the daemon's log, marked as the
// supervisor's.
func supervisorLog(format string, args ...any) {
	f, err := os.OpenFile(DaemonLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s nslab supervisor: %s\n", time.Now().Format("2006/01/02 15:04:05.000000"), fmt.Sprintf(format, args...))
}

// siginfoPid is si_pid of a SIGCHLD siginfo: the first field of the
// union that follows signo, errno and code, aligned to a pointer.
func siginfoPid(info *unix.Siginfo) int32 {
	off := (3*4 + unsafe.Sizeof(uintptr(0)) - 1) &^ (unsafe.Sizeof(uintptr(0)) - 1)
	return *(*int32)(unsafe.Add(unsafe.Pointer(info), off))
}

// describeExit says how a process ended, as a learner reads it: "killed by
// signal SIGKILL" or "exit status 2".
func describeExit(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by signal " + unix.SignalName(ws.Signal())
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}
