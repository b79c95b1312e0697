package labs_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nslab/nslab/engine/labhost"
)

// hostView is what a lab must never change on the real host.
type hostView struct {
	links    string // ip -o link, names only
	netns    string // /var/run/netns
	iptables string // iptables-save without comments and counters
	mounts   int    // entries in this process's mountinfo
}

func snapshot(t *testing.T) hostView {
	t.Helper()
	out, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		t.Fatalf("ip link: %v", err)
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			names = append(names, strings.TrimSuffix(strings.SplitN(f[1], "@", 2)[0], ":"))
		}
	}
	sort.Strings(names)
	ents, _ := os.ReadDir("/var/run/netns")
	var ns []string
	for _, e := range ents {
		ns = append(ns, e.Name())
	}
	ipt, _ := exec.Command("iptables-save").Output()
	var rules []string
	for _, l := range strings.Split(string(ipt), "\n") {
		if !strings.HasPrefix(l, "#") {
			rules = append(rules, strings.SplitN(l, " [", 2)[0])
		}
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	return hostView{
		links:    strings.Join(names, " "),
		netns:    strings.Join(ns, " "),
		iptables: strings.Join(rules, "\n"),
		mounts:   bytes.Count(mi, []byte("\n")),
	}
}

// descendants lists pid and every process below it, from the real host's
// /proc.
func descendants(pid int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if pp, err := strconv.Atoi(f[1]); err == nil {
			children[pp] = append(children[pp], p)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// waitGone waits, for a bounded time, until none of pids exists.
func waitGone(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var left []int
		for _, p := range pids {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p)); err == nil && !bytes.Contains(b, []byte(") Z ")) {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes of the lab host still alive after 20s: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func checkUnchanged(t *testing.T, before hostView) {
	t.Helper()
	after := snapshot(t)
	if after.links != before.links {
		t.Errorf("links in the real host's network namespace changed:\nbefore: %s\nafter:  %s", before.links, after.links)
	}
	if after.netns != before.netns {
		t.Errorf("/var/run/netns changed: before %q, after %q", before.netns, after.netns)
	}
	if after.iptables != before.iptables {
		t.Errorf("the real host's iptables changed:\nbefore:\n%s\nafter:\n%s", before.iptables, after.iptables)
	}
	if after.mounts != before.mounts {
		t.Errorf("the real host's mount table changed: %d entries before, %d after", before.mounts, after.mounts)
	}
}

// busyLabHost starts a lab host with running containers on docker0 and in
// shared namespaces, so that killing it has something to leak.
func busyLabHost(t *testing.T, o labhost.Options) *labhost.Host {
	t.Helper()
	o.Stderr = os.Stderr
	h, err := labhost.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"nslab", "run", "-d", "--name", "first", "busybox", "sleep", "3600"},
		{"nslab", "run", "-d", "--name", "second", "--pid", "container:first", "--network", "container:first", "busybox", "sleep", "3600"},
		{"nslab", "host", "sh", "-c", "mkdir -p /var/run/netns && ip netns add extra && iptables -A FORWARD -j ACCEPT"},
	} {
		cmd, err := labhost.Command(h.Env(), args...)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			h.Kill()
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return h
}

// TestKillLeavesNothing kills a busy lab host's supervisor with SIGKILL,
// as a crash would, and checks that the kernel removed everything: every
// process of the lab host, and nothing changed in the real host's links,
// /var/run/netns, iptables or mounts.
func TestKillLeavesNothing(t *testing.T) {
	needLabs(t)
	before := snapshot(t)
	h := busyLabHost(t, labhost.Options{})
	pids := descendants(h.Pid)
	if len(pids) < 4 {
		t.Fatalf("expected supervisor, daemon and two containers, found pids %v", pids)
	}
	h.Kill()
	waitGone(t, pids)
	checkUnchanged(t, before)
}

// TestSweepRemovesOrphans stages a lab host whose owner is already gone
// (as if the test process had been killed before PDEATHSIG could act) and
// checks that the next Start removes it by its tag.
func TestSweepRemovesOrphans(t *testing.T) {
	needLabs(t)
	before := snapshot(t)
	// A finished process's identity: a pid:starttime that no longer runs.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	h := busyLabHost(t, labhost.Options{Owner: fmt.Sprintf("%d:0", dead.Process.Pid)})
	defer h.Kill()
	pids := descendants(h.Pid)
	fresh, err := labhost.Start(labhost.Options{Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	fresh.Close()
	waitGone(t, pids)
	checkUnchanged(t, before)
}

// TestOwnerDeathKillsLabHost kills the owner of a lab host (an `nslab
// sandbox` process) with SIGKILL and checks that its lab host dies with it.
func TestOwnerDeathKillsLabHost(t *testing.T) {
	needLabs(t)
	before := snapshot(t)
	nslab, err := exec.LookPath("nslab")
	if err != nil {
		t.Fatal(err)
	}
	owner := exec.Command(nslab, "sandbox", "--", "sleep", "3600")
	owner.Env = os.Environ()
	if err := owner.Start(); err != nil {
		t.Fatal(err)
	}
	defer owner.Process.Kill()
	// The lab host is up once its supervisor has a daemon child.
	var pids []int
	for deadline := time.Now().Add(30 * time.Second); ; {
		pids = descendants(owner.Process.Pid)
		if len(pids) >= 5 { // sandbox, supervisor, daemon, nsenter, sleep
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lab host did not come up: pids %v", pids)
		}
		time.Sleep(20 * time.Millisecond)
	}
	owner.Process.Kill()
	owner.Wait()
	waitGone(t, pids)
	checkUnchanged(t, before)
}

// TestInternalCommandsRefuseOutsideALabHost runs the hidden entry points
// that reconfigure the namespaces they run in (the daemon, container init)
// outside any lab host, and checks they refuse. They run in a throwaway
// network and mount namespace, so even a broken guard could not touch the
// real host.
func TestInternalCommandsRefuseOutsideALabHost(t *testing.T) {
	needLabs(t)
	nslab, err := exec.LookPath("nslab")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"daemon", nil, []string{"__daemon"}},
		{"container init", []string{"NSLAB_INIT_CONFIG={}"}, nil},
	} {
		cmd := exec.Command("unshare", append([]string{"--net", "--mount", "--propagation", "private", "--", nslab}, tc.args...)...)
		cmd.Env = append(os.Environ(), tc.env...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "this is not a lab host") {
			t.Errorf("%s outside a lab host: %v\n%s\nwant a refusal (exit status 2)", tc.name, err, out)
		}
	}
}
