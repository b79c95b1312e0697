package labs_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// TestKillNodesSandboxLeavesNothing does the same to a sandbox of two
// nodes, with a container running on node2: killing the underlay host's
// supervisor must take both nested nodes, their daemons and containers
// with it.
func TestKillNodesSandboxLeavesNothing(t *testing.T) {
	needLabs(t)
	before := snapshot(t)
	h, err := labhost.Start(labhost.Options{Stderr: os.Stderr, Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Kill()
	// An overlay network between the nodes, with a container on node2:
	// vxlan0 devices, their namespaces and their UDP sockets go too.
	for _, args := range [][]string{
		{"network", "create", "-d", "overlay", "--attachable", "ov"},
		{"-H", "node2", "run", "-d", "--network", "ov", "busybox", "sleep", "3600"},
	} {
		cmd, err := labhost.Command(h.Env(), append([]string{"nslab"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nslab %v: %v\n%s", args, err, out)
		}
	}
	pids := descendants(h.Pid)
	// The underlay host's supervisor and keeper, and per node a
	// supervisor and a daemon; node2's container and its shim.
	if len(pids) < 8 {
		t.Fatalf("expected the keeper, two nodes with their daemons and a container, found pids %v", pids)
	}
	h.Kill()
	waitGone(t, pids)
	checkUnchanged(t, before)
}

// pausedOrphan starts `nslab sandbox -- CMD` with the test hook that stops
// its supervisor just after the clone, before the supervisor has armed
// PDEATHSIG or looked at its owner pipe, and SIGKILLs the sandbox there:
// the owner dies inside the start window. It returns the pids of the
// sandbox and its supervisor, and the hook's directory: creating
// dir/resume lets the supervisor go on.
func pausedOrphan(t *testing.T) (pids []int, dir string) {
	t.Helper()
	nslab, err := exec.LookPath("nslab")
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	owner := exec.Command(nslab, "sandbox", "--", "sleep", "3600")
	owner.Env = append(os.Environ(), "NSLAB_TEST_SUPERVISOR_PAUSE="+dir)
	owner.Stderr = os.Stderr
	if err := owner.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		owner.Process.Kill()
		owner.Wait()
		os.WriteFile(filepath.Join(dir, "resume"), nil, 0o644)
	})
	waitFor(t, "the supervisor to pause in its start window", func() bool {
		_, err := os.Stat(filepath.Join(dir, "paused"))
		return err == nil
	})
	pids = descendants(owner.Process.Pid)
	if len(pids) != 2 {
		owner.Process.Kill()
		owner.Wait()
		t.Fatalf("want the sandbox and its paused supervisor, found pids %v", pids)
	}
	owner.Process.Kill()
	owner.Wait()
	return pids, dir
}

// waitFor polls cond for a bounded time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 30s waiting for %s", what)
		}
	}
}

// TestOwnerDeathInStartWindow kills a lab host's owner between the
// supervisor's clone and its PR_SET_PDEATHSIG (widened by the test hook),
// where the kernel's parent-death signal can never fire. The supervisor
// must still notice, through its owner pipe, and leave before it builds
// anything: no supervisor, no daemon, nothing changed on the real host.
func TestOwnerDeathInStartWindow(t *testing.T) {
	needLabs(t)
	before := snapshot(t)
	pids, dir := pausedOrphan(t)
	if err := os.WriteFile(filepath.Join(dir, "resume"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pids)
	checkUnchanged(t, before)
}

// TestSweepRemovesOrphans stages a supervisor that outlived its owner and
// cannot act on it (held in the start window by the test hook), and checks
// that Sweep, which every Start runs, kills it: its owner pipe has no
// writer left, so the owner is provably gone.
func TestSweepRemovesOrphans(t *testing.T) {
	needLabs(t)
	before := snapshot(t)
	pids, _ := pausedOrphan(t)
	if killed := labhost.Sweep(); !slices.Contains(killed, pids[1]) {
		t.Errorf("Sweep killed %v, not the orphaned supervisor %d", killed, pids[1])
	}
	waitGone(t, pids)
	checkUnchanged(t, before)
}

// TestSweepSparesNestedLabHosts runs a lab host (the outer), an `nslab
// sandbox` inside it (the nested one, owned by a process of the outer's pid
// namespace), and then starts a third lab host on the real host, whose Start
// sweeps. Pids mean different processes in different pid namespaces, so an
// owner identified by pid would look dead from here and the nested lab host
// would be killed. All three must survive, each still answering.
func TestSweepSparesNestedLabHosts(t *testing.T) {
	needLabs(t)
	before := snapshot(t)
	outer, err := labhost.Start(labhost.Options{Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer outer.Close()
	dir := t.TempDir()
	// The nested lab host's command waits for the test's go-ahead, then
	// asks the nested daemon for its containers: it can only exit 0 if
	// the nested lab host lived through the third one's Start.
	script := fmt.Sprintf("touch %[1]s/up; while [ ! -e %[1]s/go ]; do sleep 0.05; done; nslab ps -q && echo nested-alive", dir)
	nested, err := labhost.Command(outer.Env(), "nslab", "sandbox", "--", "sh", "-c", script)
	if err != nil {
		t.Fatal(err)
	}
	var nestedOut bytes.Buffer
	nested.Stdout, nested.Stderr = &nestedOut, &nestedOut
	if err := nested.Start(); err != nil {
		t.Fatal(err)
	}
	defer nested.Process.Kill()
	waitFor(t, "the nested lab host to run its command", func() bool {
		_, err := os.Stat(filepath.Join(dir, "up"))
		return err == nil
	})
	nestedPids := descendants(nested.Process.Pid)

	third, err := labhost.Start(labhost.Options{Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if killed := labhost.Sweep(); len(killed) != 0 {
		t.Errorf("Sweep killed %v, but every lab host here has a live owner", killed)
	}
	for name, h := range map[string]*labhost.Host{"outer": outer, "third": third} {
		cmd, err := labhost.Command(h.Env(), "nslab", "ps", "-q")
		if err != nil {
			t.Fatal(err)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("the %s lab host no longer answers: %v\n%s", name, err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := nested.Wait(); err != nil || !strings.Contains(nestedOut.String(), "nested-alive") {
		t.Errorf("the nested lab host did not survive the third one's start: %v\n%s", err, nestedOut.String())
	}
	third.Close()
	outer.Close()
	waitGone(t, nestedPids)
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
	// The node keeper starts lab hosts: it refuses outside a sandbox's
	// underlay host, before it makes anything.
	out, err := exec.Command("unshare", "--net", "--mount", "--propagation", "private", "--", nslab, "__nodes").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "the node keeper runs only in a sandbox's underlay host") {
		t.Errorf("the node keeper outside a sandbox: %v\n%s\nwant a refusal (exit status 2)", err, out)
	}
}
