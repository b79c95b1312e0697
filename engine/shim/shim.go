// Package shim is what the engine daemon starts beside each container: the
// container's init (engine/container's Init, runc's part in Docker) and its
// log shim (containerd-shim's), which holds the read ends of the
// container's stdout and stderr, or its pty's master, and writes the
// json-file log and, during an attached run, the caller's files. The log
// shim is not the daemon, so the container's output outlives a daemon
// crash: a daemon that copied the pipes itself would take their read ends
// with it, and the container would get EPIPE (or SIGPIPE) on its next
// write, and a -t container a hangup. The shim ends when the container's
// last writer has gone; a restarted daemon adopts it by pid.
//
// Both run from a small binary of their own, nslab-shim
// (engine/cmd/nslab-shim), when Binary finds one, and so does docker exec's
// helper: every run -d starts the init and the log shim, and the whole
// engine's binary takes about twice as long to start (engine/README.md, "A
// small helper binary"). Without it, nslab's own binary plays every part.
package shim

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Name is the helper binary's name, next to nslab's or in PATH.
const Name = "nslab-shim"

// Protocol is the version of what the daemon passes to the helper (the log
// shim's Config, the init's configuration). A helper left over from another
// build refuses a protocol it does not speak, naming the problem, instead
// of misreading it.
const Protocol = 1

// Binary is the program to start as a container's init and log shim:
// nslab-shim next to the running binary, else nslab-shim in PATH, else the
// running binary itself.
var Binary = sync.OnceValues(func() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the engine's own binary: %w", err)
	}
	if p := filepath.Join(filepath.Dir(exe), Name); executable(p) {
		return p, nil
	}
	if p, err := exec.LookPath(Name); err == nil {
		if p, err := filepath.Abs(p); err == nil {
			return p, nil
		}
	}
	return exe, nil
})

func executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// EnvLogShim carries a log shim's Config, as JSON.
const EnvLogShim = "NSLAB_LOGSHIM"

// Config is the log shim's configuration. Its files: fd 3 is the stdout
// pipe's read end (with Tty, the pty master), fd 4 the stderr pipe's, and
// with Tee, fds 5 and 6 the caller's stdout and stderr.
type Config struct {
	Protocol int
	Log      string
	MaxSize  int64
	MaxFile  int
	Tty      bool
	Tee      bool
}

// IsLogShim reports whether this process was started as a log shim.
func IsLogShim() bool { return os.Getenv(EnvLogShim) != "" }

// LogShimMain is the log shim's body. SIGUSR1 detaches the caller's
// files: the daemon sends it when the caller's attached run goes away.
func LogShimMain() int {
	// nslab locks its main goroutine to the main thread from init, for
	// the namespace switches of other commands (engine/netns), and so
	// does nslab-shim, for the container init's. The log shim switches
	// none, and a locked main goroutine that waits makes the runtime hand
	// its processor to another thread each time.
	runtime.UnlockOSThread()
	var cfg Config
	if err := json.Unmarshal([]byte(os.Getenv(EnvLogShim)), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "nslab log shim: bad configuration: %v\n", err)
		return 2
	}
	if cfg.Protocol != Protocol {
		fmt.Fprintf(os.Stderr, "nslab log shim: the daemon speaks protocol %d, this binary %d: build nslab and %s from one tree\n", cfg.Protocol, Protocol, Name)
		return 2
	}
	os.Unsetenv(EnvLogShim)
	// The shim outlives the daemon and any caller: only the end of its
	// container's output ends it.
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE)
	// A restarted daemon sends SIGUSR1 to every shim it adopts: it must
	// never end one, tees or not.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	lw, err := openJSONLog(cfg.Log, cfg.MaxSize, cfg.MaxFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nslab log shim: %v\n", err)
		return 1
	}
	defer lw.Close()
	if cfg.Tty {
		lw.copy("stdout", pollable(3, "pty"), nil)
		return 0
	}
	var tees [2]*tee
	if cfg.Tee {
		tees = [2]*tee{{f: os.NewFile(5, "stdout")}, {f: os.NewFile(6, "stderr")}}
		go func() {
			<-usr1
			tees[0].detach()
			tees[1].detach()
		}()
	}
	var wg sync.WaitGroup
	for i, stream := range []string{"stdout", "stderr"} {
		var w io.Writer
		if tees[i] != nil {
			w = tees[i]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			lw.copy(stream, pollable(3+i, stream), w)
		}()
	}
	wg.Wait()
	return 0
}

// pollable opens an inherited pipe or pty master for reading through Go's
// poller. The daemon passes them blocking, and a blocking read holds an OS
// thread for as long as the container is quiet: a shim had nine threads,
// and every thread on the machine costs each new container's pivot_root,
// which walks them all (about 3 ms at 900 containers). Made non-blocking,
// the reads park goroutines instead. Only the shim holds these read ends,
// so the flag changes nobody else's file; the caller's tee files are left
// as they are. If the flag cannot be set, os.NewFile sees a blocking fd and
// reads it the old way, which is slower but still correct.
func pollable(fd int, name string) *os.File {
	_ = unix.SetNonblock(fd, true)
	return os.NewFile(uintptr(fd), name)
}

// tee is the caller's stdout or stderr during an attached run. If the
// caller goes away (its nslab run was killed), detach closes it and the
// container's output goes on to the log only, as with Docker.
type tee struct {
	mu sync.Mutex
	f  *os.File
}

func (t *tee) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f != nil {
		t.f.Write(p)
	}
	return len(p), nil
}

func (t *tee) detach() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
}

// labHostMarker is labhost.MarkerFile, which this package cannot import
// without the whole engine (shim_test.go checks they agree).
const labHostMarker = "/run/nslab/labhost"

// InLabHost reports whether this process runs inside some lab host: the
// marker file exists only on a lab host's private /run.
func InLabHost() bool {
	_, err := os.Stat(labHostMarker)
	return err == nil
}
