package labhost

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Watch is a sandbox's view of its lab host's engine log: the file is held
// open from the start, so its last lines can still be read after the lab
// host, and the tmpfs they were on, are gone.
type Watch struct {
	h   *Host
	log *os.File
}

// Watch opens the lab host's engine daemon log through the supervisor's
// root (its mount namespace) and holds it. It never fails: without the
// log, Ended just says less.
func (h *Host) Watch() *Watch {
	path := DaemonLog
	if h.engine == EngineDocker {
		path = DockerLog
	}
	f, _ := os.Open(fmt.Sprintf("/proc/%d/root%s", h.Pid, path))
	return &Watch{h: h, log: f}
}

// Close lets the log go.
func (w *Watch) Close() {
	if w.log != nil {
		w.log.Close()
	}
}

// Ended reports whether the lab host's supervisor has exited, waiting up to
// wait for it, without reaping it (Close still does). If so, it says how,
// with the last lines of the engine's log, for a learner whose command
// vanished with the lab host.
func (w *Watch) Ended(wait time.Duration) (string, bool) {
	deadline := time.Now().Add(wait)
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, w.h.Pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		if err == nil && int(siginfoPid(&info)) == w.h.Pid {
			return w.explain(&info), true
		}
		if err != nil && err != unix.EINTR || !time.Now().Before(deadline) {
			return "", false
		}
		time.Sleep(10 * time.Millisecond) // bounded by wait
	}
}

func (w *Watch) explain(info *unix.Siginfo) string {
	// si_status follows si_pid and si_uid.
	p := unsafe.Pointer(info)
	off := (3*4 + unsafe.Sizeof(uintptr(0)) - 1) &^ (unsafe.Sizeof(uintptr(0)) - 1)
	status := *(*int32)(unsafe.Add(p, off+8))
	how := fmt.Sprintf("exited with status %d", status)
	switch info.Code {
	case 2, 3: // CLD_KILLED, CLD_DUMPED
		how = "was killed by signal " + unix.SignalName(unix.Signal(status))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the lab host ended: its supervisor (pid %d, PID 1 of the lab host) %s, and the kernel removed everything in it", w.h.Pid, how)
	if info.Code == 1 && status == 3 {
		b.WriteString(" (its engine daemon died more often than the supervisor restarts it: see above)")
	}
	b.WriteString(".")
	if w.log != nil {
		if data, err := io.ReadAll(io.NewSectionReader(w.log, 0, 1<<30)); err == nil {
			s := strings.TrimSpace(string(data))
			if s != "" {
				lines := strings.Split(s, "\n")
				if len(lines) > 10 {
					lines = lines[len(lines)-10:]
				}
				fmt.Fprintf(&b, " The last lines of its engine's log (%s):\n    %s", w.log.Name()[strings.Index(w.log.Name(), "/run/"):], strings.Join(lines, "\n    "))
			}
		}
	}
	return b.String()
}
