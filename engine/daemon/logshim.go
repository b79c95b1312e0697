// The log shim: one small process per container that holds the read ends
// of the container's stdout and stderr (or its pty's master) and writes
// the json-file log, and, during an attached run, the caller's files. It
// is not the daemon, so the container's output outlives a daemon crash:
// a daemon that copied the pipes itself would take their read ends with
// it, and the container would get EPIPE (or SIGPIPE) on its next write,
// and a -t container a hangup. The shim ends when the container's last
// writer has gone; a restarted daemon adopts it by pid (restore.go).

package daemon

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sync"
	"syscall"

	"github.com/nslab/nslab/engine/internal/reap"
	"github.com/nslab/nslab/engine/labhost"
	"golang.org/x/sys/unix"
)

const envLogShim = "NSLAB_LOGSHIM"

// shimConfig travels to the shim in its environment. Its files: fd 3 is
// the stdout pipe's read end (with Tty, the pty master), fd 4 the stderr
// pipe's, and with Tee, fds 5 and 6 the caller's stdout and stderr.
type shimConfig struct {
	Log     string
	MaxSize int64
	MaxFile int
	Tty     bool
	Tee     bool
}

// IsLogShim reports whether this process was started as a log shim.
func IsLogShim() bool { return os.Getenv(envLogShim) != "" }

// LogShimMain is the log shim's body. SIGUSR1 detaches the caller's
// files: the daemon sends it when the caller's attached run goes away.
func LogShimMain() int {
	// nslab locks its main goroutine to the main thread from init, for
	// the namespace switches of other commands (engine/netns). The shim
	// switches none, and a locked main goroutine that waits makes the
	// runtime hand its processor to another thread each time.
	runtime.UnlockOSThread()
	var cfg shimConfig
	if err := json.Unmarshal([]byte(os.Getenv(envLogShim)), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "nslab log shim: bad configuration: %v\n", err)
		return 2
	}
	os.Unsetenv(envLogShim)
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
	var tees [2]*teeTarget
	if cfg.Tee {
		tees = [2]*teeTarget{{f: os.NewFile(5, "stdout")}, {f: os.NewFile(6, "stderr")}}
		go func() {
			<-usr1
			tees[0].Detach()
			tees[1].Detach()
		}()
	}
	var wg sync.WaitGroup
	for i, stream := range []string{"stdout", "stderr"} {
		var tee io.Writer
		if tees[i] != nil {
			tee = tees[i]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			lw.copy(stream, pollable(3+i, stream), tee)
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

// startLogShim starts c's log shim with the given files (see shimConfig)
// and makes c.output wait for it. The caller closes its copies of them.
func (d *Daemon) startLogShim(c *Container, cfg shimConfig, files []*os.File) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	cmd := &exec.Cmd{
		Path: exe, Args: []string{"nslab", "__logshim", c.ID},
		// One processor is plenty for copying two streams, and it keeps
		// the runtime from starting threads for a second (see pollable).
		Env:   []string{envLogShim + "=" + string(js), "GOMAXPROCS=1"},
		Stdin: devnull, Stdout: devnull, Stderr: devnull,
		ExtraFiles:  files,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the log shim: %w", err)
	}
	c.live.ShimPid = cmd.Process.Pid
	c.live.ShimStart = labhost.StartTime(cmd.Process.Pid)
	c.output.Add(1)
	go func() {
		// In the poller, not in an OS thread blocked in wait4: one shim
		// runs per container (engine/internal/reap).
		reap.Exited(cmd.Process.Pid)
		cmd.Wait()
		c.output.Done()
	}()
	return nil
}
