package cli

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// A lab's work directory is $TMPDIR/nslab-lab-XXXX. Its owner, the player
// that made it, holds an exclusive flock on the owner file inside for as
// long as it runs. The kernel drops the lock when the owner dies, however it
// dies, and a lock is a lock in every pid namespace, so a directory whose
// owner file can be locked has provably lost its owner (a SIGKILL leaves
// such a directory; every catchable signal removes it at once).
const (
	workPrefix = "nslab-lab-"
	ownerFile  = ".nslab-owner"
)

// newWorkDir makes a lab's work directory and locks it; release drops the
// lock (after the directory is removed).
func newWorkDir() (dir string, release func(), err error) {
	for range 10 {
		dir, err = os.MkdirTemp("", workPrefix)
		if err != nil {
			return "", nil, fmt.Errorf("make the lab's work directory: %w", err)
		}
		f, err := os.OpenFile(filepath.Join(dir, ownerFile), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrNotExist) {
			continue // a sweep removed the directory before it had an owner file
		}
		if err != nil {
			os.RemoveAll(dir)
			return "", nil, fmt.Errorf("make the lab's owner file in %s: %w", dir, err)
		}
		// Blocking: a sweep that locked the new file first holds it only
		// while it removes the directory.
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			f.Close()
			os.RemoveAll(dir)
			return "", nil, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		if !sameFile(f, f.Name()) {
			f.Close() // swept before we held the lock: make another
			continue
		}
		fmt.Fprintf(f, "pid %d\n", os.Getpid())
		return dir, func() { f.Close() }, nil
	}
	return "", nil, errors.New("make the lab's work directory: it was removed under us ten times")
}

// sameFile reports whether path still names the file f has open.
func sameFile(f *os.File, path string) bool {
	var a, b unix.Stat_t
	return unix.Fstat(int(f.Fd()), &a) == nil && unix.Lstat(path, &b) == nil && a.Dev == b.Dev && a.Ino == b.Ino
}

// sweepWorkDirs removes the work directories of players that are gone: ours
// (same owner), with an owner file nobody holds locked. A directory without
// an owner file is left alone: it is being made, or it is not ours to judge.
func sweepWorkDirs() (removed []string) {
	tmp := os.TempDir()
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return nil
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), workPrefix) || !e.IsDir() {
			continue
		}
		dir := filepath.Join(tmp, e.Name())
		path := filepath.Join(dir, ownerFile)
		f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(int(f.Fd()), &st) == nil && int(st.Uid) == os.Geteuid() &&
			unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil && sameFile(f, path) {
			if os.RemoveAll(dir) == nil {
				removed = append(removed, dir)
			}
		}
		f.Close()
	}
	return removed
}

// catchable are the signals that end a process by default and that it can
// catch: on each the player cleans up before it goes. (Go ignores a SIGPIPE
// that kill sends, but `nslab lab run NAME | head` ends the player with one.)
var catchable = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGPIPE, syscall.SIGALRM, syscall.SIGUSR1, syscall.SIGUSR2}

// onSignal runs cleanup and exits (128+signal, as a shell reports it) when
// a catchable signal arrives, after passing the signal on to the player's
// children (the script's commands and the lab host's supervisor), which
// are not in the terminal's process group or may not have received it.
// stop ends the watch; if a signal came first, stop never returns (the
// handler exits), so the interrupted script's own failure is not reported.
func onSignal(cleanup func()) (stop func()) {
	sigc := make(chan os.Signal, 1)
	for _, sig := range catchable {
		// One ignored from the start (nohup, a background job's SIGINT)
		// does not end the player, so it stays ignored.
		if !signal.Ignored(sig) {
			signal.Notify(sigc, sig)
		}
	}
	var mu sync.Mutex
	stopped := false
	go func() {
		sig := <-sigc
		mu.Lock()
		if stopped {
			mu.Unlock()
			return
		}
		s := sig.(syscall.Signal)
		for _, pid := range children() {
			unix.Kill(pid, s)
		}
		cleanup()
		os.Exit(128 + int(s))
	}()
	return sync.OnceFunc(func() {
		mu.Lock() // held for good: a handler running keeps it until it exits
		stopped = true
		signal.Stop(sigc)
		select {
		case sigc <- syscall.Signal(0): // let the handler goroutine end
		default:
		}
		mu.Unlock()
	})
}

// children lists this process's children, from every thread's
// /proc/self/task/TID/children.
func children() []int {
	var pids []int
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			var pid int
			if _, err := fmt.Sscan(f, &pid); err == nil && pid > 0 {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}
