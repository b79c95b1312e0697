package labs_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nslab/nslab/engine/labhost"
)

// inLabHost runs argv in h and returns its combined output.
func inLabHost(t *testing.T, h *labhost.Host, argv ...string) (string, error) {
	t.Helper()
	cmd, err := labhost.Command(h.Env(), argv...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// runAvail is the free space on the lab host's /run, in KiB, from df.
func runAvail(t *testing.T, h *labhost.Host) (total, avail int) {
	t.Helper()
	out, err := inLabHost(t, h, "df", "-k", "/run")
	if err != nil {
		t.Fatalf("df /run: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	f := strings.Fields(lines[len(lines)-1])
	if len(f) < 4 {
		t.Fatalf("df /run: unexpected output %q", out)
	}
	total, err1 := strconv.Atoi(f[1])
	avail, err2 := strconv.Atoi(f[3])
	if err1 != nil || err2 != nil {
		t.Fatalf("df /run: unexpected output %q", out)
	}
	return total, avail
}

// TestRunSizeLimit fills a lab host's /run, limited to 16 MiB, from a
// container that writes without end into its writable layer, which lives
// there. The writes stop at the limit instead of taking the machine's
// memory, the daemon's next run names the full /run and its limit, and
// removing the container gives the space back.
func TestRunSizeLimit(t *testing.T) {
	needLabs(t)
	before := snapshot(t)
	h, err := labhost.Start(labhost.Options{Stderr: os.Stderr, RunSize: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if total, _ := runAvail(t, h); total != 16<<10 {
		t.Fatalf("/run is %d KiB, want the 16 MiB limit (16384 KiB)", total)
	}
	if out, err := inLabHost(t, h, "nslab", "run", "-d", "--name", "filler", "busybox", "sh", "-c", "yes > /bigfile"); err != nil {
		t.Fatalf("run filler: %v\n%s", err, out)
	}
	waitFor(t, "the filler to fill /run", func() bool {
		_, avail := runAvail(t, h)
		return avail < 64
	})
	out, err := inLabHost(t, h, "nslab", "run", "-d", "--name", "late", "busybox", "true")
	if err == nil || !strings.Contains(out, "no space left on device (the lab host's /run is full: limit 16MiB; rm containers to free it") {
		t.Errorf("run on a full /run: %v\n%s\nwant an error naming the full /run and its limit", err, out)
	}
	if out, err := inLabHost(t, h, "nslab", "rm", "-f", "filler"); err != nil {
		t.Fatalf("rm -f filler: %v\n%s", err, out)
	}
	if _, avail := runAvail(t, h); avail < 8<<10 {
		t.Errorf("after rm -f filler, /run has %d KiB free, want the filler's space back (over 8192 KiB)", avail)
	}
	if out, err := inLabHost(t, h, "nslab", "run", "--rm", "busybox", "echo", "room again"); err != nil || !strings.Contains(out, "room again") {
		t.Errorf("run after rm: %v\n%s", err, out)
	}
	h.Close()
	checkUnchanged(t, before)
}

// TestRunSizeRefused gives bad /run sizes through each way to set one, and
// checks each is refused with a message naming the problem, before any lab
// host exists.
func TestRunSizeRefused(t *testing.T) {
	needLabs(t)
	before := snapshot(t)
	if _, err := labhost.Start(labhost.Options{RunSize: 1024}); err == nil || !strings.Contains(err.Error(), "must be at least 4MiB, not 1KiB") {
		t.Errorf("Start with a 1 KiB /run: %v, want a refusal naming the minimum", err)
	}
	t.Setenv(labhost.EnvRunSize, "lots")
	if _, err := labhost.Start(labhost.Options{}); err == nil || !strings.Contains(err.Error(), `bad NSLAB_RUN_SIZE: invalid size "lots"`) {
		t.Errorf("Start with NSLAB_RUN_SIZE=lots: %v, want a refusal naming the variable", err)
	}
	nslab, err := exec.LookPath("nslab")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(nslab, "sandbox", "--run-size", "12x", "--", "true").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `--run-size: invalid size "12x"`) {
		t.Errorf("sandbox --run-size 12x: %v\n%s\nwant a refusal naming the flag", err, out)
	}
	checkUnchanged(t, before)
}

// TestSandboxSignalAtStart sends SIGTERM or SIGHUP to `nslab sandbox --
// sleep 3600` while it starts: while its lab host comes up, and the moment
// it forks the command. The signal must not be lost: the sandbox ends
// promptly with 128+signal, with no data race reported (run under -race),
// and its lab host goes with it.
func TestSandboxSignalAtStart(t *testing.T) {
	needLabs(t)
	nslab, err := exec.LookPath("nslab")
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP} {
		for _, when := range []string{"lab host starting", "command starting"} {
			t.Run(sig.String()+" "+when, func(t *testing.T) {
				before := snapshot(t)
				sb := exec.Command(nslab, "sandbox", "--", "sleep", "3600")
				var stderr bytes.Buffer
				sb.Stderr = &stderr
				if err := sb.Start(); err != nil {
					t.Fatal(err)
				}
				defer sb.Process.Kill()
				// The supervisor is the sandbox's first child; the
				// command (nsenter) its second.
				want := 2
				if when == "command starting" {
					want = 3
				}
				var seen []int
				waitFor(t, when, func() bool {
					seen = descendants(sb.Process.Pid)
					children := 1
					for _, p := range seen[1:] {
						if parentOf(p) == sb.Process.Pid {
							children++
						}
					}
					return children >= want
				})
				sb.Process.Signal(sig)
				done := make(chan error, 1)
				go func() { done <- sb.Wait() }()
				select {
				case err = <-done:
				case <-time.After(30 * time.Second):
					sb.Process.Kill()
					<-done
					t.Fatalf("the sandbox ran on for 30s after %v", sig)
				}
				// Killed by the signal itself (it came before the
				// sandbox caught it) or exit status 128+signal.
				var ee *exec.ExitError
				ws, _ := sb.ProcessState.Sys().(syscall.WaitStatus)
				if !errors.As(err, &ee) || ee.ExitCode() != 128+int(sig) && !(ws.Signaled() && ws.Signal() == sig) {
					t.Errorf("sandbox after %v: %v, want exit status %d\n%s", sig, err, 128+int(sig), stderr.String())
				}
				if strings.Contains(stderr.String(), "DATA RACE") {
					t.Errorf("the sandbox reported a data race:\n%s", stderr.String())
				}
				waitGone(t, descendants(sb.Process.Pid))
				waitGone(t, seen[1:])
				checkUnchanged(t, before)
			})
		}
	}
}

// parentOf is pid's parent, from /proc, or 0.
func parentOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	pp, _ := strconv.Atoi(f[1])
	return pp
}

// TestSupervisorEntryRefusedByHand reaches the supervisor's hidden entry
// point by hand, as PID 1 of a new pid namespace and with its environment
// variable set, as `unshare -p -f --mount-proc nslab __labhost` would. It
// must refuse before it changes anything: it would otherwise remount /run,
// /proc and /sys, set the hostname and build an outside in the caller's
// namespaces. The attempt runs in throwaway namespaces, so even a broken
// guard cannot touch the real host; fd 3 is a pipe on which a supervisor
// that went ahead would report.
func TestSupervisorEntryRefusedByHand(t *testing.T) {
	needLabs(t)
	before := snapshot(t)
	nslab, err := exec.LookPath("nslab")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ secret, onFd5, why string }{
		{"1", "", "no handshake secret"},
		{"0123456789abcdef0123456789abcdef", "", "no handshake pipe on fd 5"},
		{"0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210", "handshake does not match"},
	} {
		rd, wr, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		extra := []*os.File{wr}
		if tc.onFd5 != "" {
			hrd, hwr, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			hwr.WriteString(tc.onFd5)
			hwr.Close()
			defer hrd.Close()
			extra = append(extra, nil, hrd)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, "unshare", "--pid", "--fork", "--kill-child", "--mount-proc",
			"--net", "--uts", "--ipc", "--propagation", "private", "--", nslab, "__labhost")
		cmd.Env = append(os.Environ(), "NSLAB_SUPERVISOR="+tc.secret, "NSLAB_LABHOST_TAG=byhand", "NSLAB_RUN_BYTES=16777216")
		cmd.ExtraFiles = extra
		out, err := cmd.CombinedOutput()
		cancel()
		wr.Close()
		report := make([]byte, 256)
		n, _ := rd.Read(report)
		rd.Close()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 ||
			!strings.Contains(string(out), "nslab: internal command refused: __labhost is started only by nslab itself") ||
			!strings.Contains(string(out), tc.why) {
			t.Errorf("NSLAB_SUPERVISOR=%s nslab __labhost by hand: %v\n%s\nwant a refusal (exit status 2) saying %q", tc.secret, err, out, tc.why)
		}
		if n > 0 {
			t.Errorf("NSLAB_SUPERVISOR=%s nslab __labhost by hand went ahead and reported %q", tc.secret, report[:n])
		}
	}
	checkUnchanged(t, before)
}
