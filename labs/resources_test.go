package labs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nslab/nslab/engine/labhost"
)

// daemonUsage is what the kernel says a daemon holds.
type daemonUsage struct {
	threads, fds int
	// rssKB is the memory the daemon holds: VmRSS without LazyFree, the
	// pages its runtime gave back with MADV_FREE (the supervisor starts
	// it with GODEBUG=madvdontneed=0), which the kernel takes back
	// whenever it needs them and which VmRSS counts until then.
	rssKB int
}

func (u daemonUsage) String() string {
	return fmt.Sprintf("%d threads, %d fds, %.1f MB RSS", u.threads, u.fds, float64(u.rssKB)/1024)
}

func readUsage(pid int) (daemonUsage, error) {
	var u daemonUsage
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "Threads:":
			u.threads, _ = strconv.Atoi(f[1])
		case "VmRSS:":
			u.rssKB, _ = strconv.Atoi(f[1])
		}
	}
	lazy, err := lazyFreeKB(pid)
	if err != nil {
		return u, err
	}
	u.rssKB -= lazy
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return u, err
	}
	u.fds = len(fds)
	return u, nil
}

// lazyFreeKB is smaps_rollup's LazyFree: memory freed with MADV_FREE that
// the kernel has not taken back yet.
func lazyFreeKB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "LazyFree:" {
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("no LazyFree in /proc/%d/smaps_rollup", pid)
}

// daemonPid finds the engine daemon (nslab __daemon) among the lab host's
// processes, seen from the machine's /proc.
func daemonPid(t *testing.T, h *labhost.Host) int {
	t.Helper()
	for _, p := range descendants(h.Pid) {
		b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p), "cmdline"))
		if args := strings.Split(string(b), "\x00"); len(args) > 1 && args[1] == "__daemon" {
			return p
		}
	}
	t.Fatalf("no nslab __daemon below the lab host's supervisor %d", h.Pid)
	return 0
}

// Margins over a fresh daemon: a few threads and descriptors the daemon
// opens once and keeps (the link listener of engine/bridge/unlink.go, a
// thread the runtime started for a peak), and a few MB of memory (the
// runtime's own tables, code pages touched for the first time).
const (
	threadMargin = 4
	fdMargin     = 4
	rssMarginKB  = 10 << 10
)

// TestResourcesReturn runs 500 containers through one daemon, 100 at a
// time (each round: 100 `run -d busybox sleep`, then one `rm -f` of all),
// and checks that the daemon's threads, descriptors and memory come back to
// within a small margin of what it held fresh (issue 17). While 100 run, its
// threads must not grow with them: a container's exit is awaited in the
// runtime's poller, not by an OS thread blocked in wait4 each.
func TestResourcesReturn(t *testing.T) {
	needLabs(t)
	if testing.Short() {
		t.Skip("-short: 500 containers take 10-60 s")
	}
	t.Parallel()
	h, err := labhost.Start(labhost.Options{Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	pid := daemonPid(t, h)
	fresh, err := readUsage(pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fresh daemon: %v", fresh)

	// Sample while the containers come and go.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var peak daemonUsage
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond): // sampling interval
			}
			if u, err := readUsage(pid); err == nil {
				peak.threads = max(peak.threads, u.threads)
				peak.fds = max(peak.fds, u.fds)
				peak.rssKB = max(peak.rssKB, u.rssKB)
			}
		}
	}()
	const rounds, per = 5, 100
	for i := 0; i < rounds; i++ {
		cmd, err := labhost.Command(h.Env(), "nslab", "bench", "run", "-n", strconv.Itoa(per))
		if err != nil {
			t.Fatal(err)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("round %d: nslab bench run -n %d: %v\n%s", i+1, per, err, out)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("peak while %d ran at a time: %v", per, peak)
	if peak.fds < fresh.fds+per {
		t.Errorf("the sampler never saw %d containers running (peak %d fds, fresh %d): the check below proves nothing", per, peak.fds, fresh.fds)
	}
	if peak.threads > fresh.threads+16 {
		t.Errorf("threads grew with the running containers: %d at peak, %d fresh", peak.threads, fresh.threads)
	}

	// The daemon returns freed memory within a couple of seconds of the
	// last removal (engine/daemon/teardown.go): bounded retries.
	within := func(u daemonUsage) bool {
		ok := u.threads <= fresh.threads+threadMargin && u.fds <= fresh.fds+fdMargin
		if !raceBuild {
			ok = ok && u.rssKB <= fresh.rssKB+rssMarginKB
		}
		return ok
	}
	var after daemonUsage
	for i := 0; i < 100; i++ {
		if after, err = readUsage(pid); err != nil {
			t.Fatal(err)
		}
		if within(after) {
			break
		}
		time.Sleep(100 * time.Millisecond) // between bounded retries
	}
	t.Logf("after %d containers came and went: %v", rounds*per, after)
	if !within(after) {
		t.Errorf("after %d containers came and went the daemon holds %v; fresh it held %v (margins: %d threads, %d fds, %d MB RSS%s)",
			rounds*per, after, fresh, threadMargin, fdMargin, rssMarginKB>>10, map[bool]string{true: ", RSS not checked under -race"}[raceBuild])
	}
}

// TestResolverSocketsReturn: a container on a user-defined network has an
// embedded DNS server in the daemon, whose two sockets live in the
// container's network namespace. When the container stops they must close:
// each holds the namespace alive after its pin is gone, a namespace nobody
// can reach any more, with the container's DNAT rules still in it.
func TestResolverSocketsReturn(t *testing.T) {
	needLabs(t)
	t.Parallel()
	h, err := labhost.Start(labhost.Options{Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	nslab := func(args ...string) {
		t.Helper()
		cmd, err := labhost.Command(h.Env(), append([]string{"nslab"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nslab %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	pid := daemonPid(t, h)
	// One container through first, so that what the daemon opens once
	// (logs, the network's state) is in the fresh count.
	nslab("network", "create", "u")
	nslab("run", "-d", "--name", "warm", "--network", "u", "busybox", "sleep", "3600")
	nslab("rm", "-f", "warm")
	fresh, err := readUsage(pid)
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	names := []string{"stop", "-t", "0"}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("c%d", i)
		nslab("run", "-d", "--name", name, "--network", "u", "busybox", "sleep", "3600")
		names = append(names, name)
	}
	running, err := readUsage(pid)
	if err != nil {
		t.Fatal(err)
	}
	if running.fds < fresh.fds+2*n {
		t.Fatalf("%d containers with embedded DNS hold %d of the daemon's fds, %d fresh: want at least 2 each (UDP and TCP), or this test proves nothing", n, running.fds, fresh.fds)
	}
	nslab(names...)
	// Bounded retries: a stopped container's exit is handled
	// asynchronously.
	var after daemonUsage
	for i := 0; i < 50; i++ {
		if after, err = readUsage(pid); err != nil {
			t.Fatal(err)
		}
		if after.fds <= fresh.fds+fdMargin {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("after %d containers with embedded DNS stopped, the daemon holds %d fds, %d fresh (margin %d): their DNS servers' sockets are still open", n, after.fds, fresh.fds, fdMargin)
}
