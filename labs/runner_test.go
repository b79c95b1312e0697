package labs_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestLabRunner plays a lab with `nslab lab run`, as a learner would, and
// checks the output shows narration, commands, real output and checks.
// Then it plays a lab with a wrong expectation and checks the failure
// says, in words, what was expected (on stderr, with a non-zero exit) and
// what was seen (in the narration, on stdout).
func TestLabRunner(t *testing.T) {
	needLabs(t)
	out, err := exec.Command("nslab", "lab", "run", "namespaces").CombinedOutput()
	if err != nil {
		t.Fatalf("nslab lab run namespaces: %v\n%s", err, out)
	}
	for _, want := range []string{
		"Lab namespaces: a container is a process in its own namespaces",
		"Start a long-running container.",
		"$ docker run -d --name web busybox sleep 3600",
		"ok: the output shows ^net: own$",
		"PASS: namespaces:",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("lab run output lacks %q:\n%s", want, out)
		}
	}

	wrong := filepath.Join(t.TempDir(), "wrong.txtar")
	os.WriteFile(wrong, []byte("# Lab: a wrong expectation.\n# For the test.\n\n# A container gets 172.17.0.2, not .9.\nexec nslab run --rm busybox ip -4 addr show eth0\nstdout 'inet 172\\.17\\.0\\.9/16'\n"), 0o644)
	stdout, stderr, err := play(t, "lab", "run", wrong)
	if err == nil {
		t.Fatalf("a failing lab passed:\n%s", stdout)
	}
	if !strings.Contains(stdout, "inet 172.17.0.2/16") { // what was seen
		t.Errorf("the narration does not show what the command printed:\n%s", stdout)
	}
	for _, want := range []string{
		"FAIL: wrong stopped after 0 checks passed.",
		"line 6: stdout 'inet 172\\.17\\.0\\.9/16'",
		"expected the output to show inet 172\\.17\\.0\\.9/16, but it does not",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("the failure on stderr lacks %q:\nstderr:\n%s\nstdout:\n%s", want, stderr, stdout)
		}
	}
}

// play runs nslab with args and returns its stdout and stderr apart.
func play(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var so, se bytes.Buffer
	cmd := exec.Command("nslab", args...)
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	return so.String(), se.String(), err
}

// TestPlayerFailures plays small labs that fail in each way a check can,
// and checks each failure is said in words on stderr, with the line.
func TestPlayerFailures(t *testing.T) {
	needLabs(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, script, want string
	}{
		{"fails", "exec nslab run --rm busybox false\nstdout x\n", "line 4: exec nslab run --rm busybox false\nexpected this command to succeed, but it failed with exit status 1"},
		{"succeeds", "! exec nslab run --rm busybox true\n", "expected this command to fail, as the narration says, but it succeeded"},
		{"shows", "exec nslab run --rm busybox echo hello\n! stdout hel+o\n", "expected the output NOT to show hel+o, but it does:\n    hello"},
		{"count", "exec nslab run --rm busybox echo a a\nstdout -count=1 a\n", "expected the output to show a exactly 1 times; it shows it 2 times"},
		{"stderr", "exec nslab run --rm busybox sh -c 'echo oops >&2'\n! stderr .\n", "expected the error output NOT to show ., but it does:\n    o"},
		{"cmp", "exec nslab run --rm busybox echo one\ncmp stdout want\n-- want --\ntwo\n", "expected the output and want to be the same, but they differ:"},
	} {
		path := filepath.Join(dir, tc.name+".txtar")
		os.WriteFile(path, []byte("# Lab: "+tc.name+".\n# For the test.\n\n"+tc.script), 0o644)
		_, stderr, err := play(t, "lab", "run", path)
		if err == nil || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: want a failure saying %q; got %v, stderr:\n%s", tc.name, tc.want, err, stderr)
		}
	}
}

// TestLabCheckRefusesNonLabs checks that `lab check` and `lab run` refuse
// a file that is not a lab (it would pass, checking nothing), on stderr,
// with a non-zero exit, saying why.
func TestLabCheckRefusesNonLabs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	for _, tc := range []struct {
		verb, path, want string
	}{
		{"check", os.DevNull, "/dev/null is not a lab: it is empty"},
		{"check", write("comments.txtar", "# Lab: nothing.\n# Only words.\n"), "it has no commands"},
		{"check", write("nochecks.txtar", "# Lab: nothing checked.\nexec true\n-- f --\nstdout x\n"), "it has no checks, so it could never fail"},
		{"run", write("binary.txtar", "exec true\x00\nstdout x\n"), "it is not text"},
		{"check", filepath.Join(dir, "missing.txtar"), "read your attempt: open " + filepath.Join(dir, "missing.txtar")},
	} {
		stdout, stderr, err := play(t, "lab", tc.verb, tc.path)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 {
			t.Errorf("lab %s %s: want a non-zero exit, got %v", tc.verb, tc.path, err)
		}
		if !strings.Contains(stderr, tc.want) || stdout != "" {
			t.Errorf("lab %s %s: want %q on stderr and nothing on stdout; stderr:\n%s\nstdout:\n%s", tc.verb, tc.path, tc.want, stderr, stdout)
		}
	}
}

// sleepingLab is a lab whose one command runs until the player is
// interrupted.
const sleepingLab = "# Lab: a long command.\n# For the test: the player is interrupted while it runs.\n\nexec sleep 3600\nstdout never\n"

// startPlayer starts `nslab lab run` on sleepingLab with TMPDIR set to tmp,
// and returns once the command is running, with every process below the
// player (the lab host's and the command's).
func startPlayer(t *testing.T, tmp string) (*exec.Cmd, []int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sleeping.txtar")
	os.WriteFile(path, []byte(sleepingLab), 0o644)
	nslab, err := exec.LookPath("nslab")
	if err != nil {
		t.Fatal(err)
	}
	// As from a terminal: no signal ignored, even if this test runs as a
	// background job (which ignores SIGINT).
	cmd := exec.Command("env", "--default-signal", nslab, "lab", "run", path)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 10 * time.Second // a command left running holds stderr open
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	seen := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "$ sleep 3600") {
				seen <- true
				io.Copy(io.Discard, stdout)
				return
			}
		}
		seen <- false
	}()
	select {
	case ok := <-seen:
		if !ok {
			t.Fatalf("the player ended before it ran the command:\n%s", stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the player did not reach the command in 60s:\n%s", stderr.String())
	}
	// The command starts right after its "$" line: wait for it (bounded).
	for deadline := time.Now().Add(20 * time.Second); ; {
		pids := descendants(cmd.Process.Pid)
		for _, p := range pids {
			if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p)); string(b) == "sleep\n" {
				// A player that failed to stop it leaves it: stop it here.
				t.Cleanup(func() { syscall.Kill(p, syscall.SIGKILL) })
				return cmd, pids
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lab's command did not start; processes: %v", pids)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitExit waits, for a bounded time, for cmd to exit.
func waitExit(t *testing.T, cmd *exec.Cmd) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("the player did not exit within 30s of the signal")
		return nil
	}
}

// workDirs lists the player work directories in tmp.
func workDirs(tmp string) []string {
	m, _ := filepath.Glob(filepath.Join(tmp, "nslab-lab-*"))
	return m
}

// TestInterruptedPlayerLeavesNothing sends SIGINT, SIGTERM and SIGHUP (and
// SIGPIPE, as `nslab lab run NAME | head` would) to a real `nslab lab run`
// while a lab's command runs, and checks the player exits non-zero with
// its work directory removed and every process it started gone: the lab
// host and the command.
func TestInterruptedPlayerLeavesNothing(t *testing.T) {
	needLabs(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE} {
		t.Run(sig.String(), func(t *testing.T) {
			tmp := t.TempDir()
			cmd, pids := startPlayer(t, tmp)
			if len(workDirs(tmp)) != 1 {
				t.Fatalf("the running player has no work directory in %s", tmp)
			}
			cmd.Process.Signal(sig)
			err := waitExit(t, cmd)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 128+int(sig) {
				t.Errorf("the player exited with %v, want exit status %d", err, 128+int(sig))
			}
			if left := workDirs(tmp); len(left) > 0 {
				t.Errorf("%s left %v behind", sig, left)
			}
			waitGone(t, pids[1:])
		})
	}
}

// TestPlayerSweepsAfterKill kills a player with SIGKILL, which leaves its
// work directory, and checks that the next player removes it, while the
// directory of a player that is still running stays.
func TestPlayerSweepsAfterKill(t *testing.T) {
	needLabs(t)
	tmp := t.TempDir()
	killed, pids := startPlayer(t, tmp)
	dead := workDirs(tmp)
	killed.Process.Kill()
	killed.Wait()
	for _, p := range pids[1:] { // the command, now an orphan
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p)); string(b) == "sleep\n" {
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
	waitGone(t, pids)
	if len(dead) != 1 || len(workDirs(tmp)) != 1 {
		t.Fatalf("the killed player should leave its work directory; before %v, after %v", dead, workDirs(tmp))
	}
	live, _ := startPlayer(t, tmp)
	var liveDir string
	for _, d := range workDirs(tmp) {
		if d != dead[0] {
			liveDir = d
		}
	}

	path := filepath.Join(t.TempDir(), "quick.txtar")
	os.WriteFile(path, []byte("# Lab: quick.\n# For the test.\n\nexec nslab run --rm busybox true\n! stderr .\n"), 0o644)
	cmd := exec.Command("nslab", "lab", "run", path)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nslab lab run quick: %v\n%s", err, out)
	}
	if left := workDirs(tmp); len(left) != 1 || left[0] != liveDir {
		t.Errorf("after the next run, want only the live player's %s; have %v", liveDir, left)
	}
	live.Process.Signal(syscall.SIGTERM)
	waitExit(t, live)
	if left := workDirs(tmp); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestPlayerPlaysEveryLab plays, through the player, every lab that `nslab
// lab list` shows (`nslab lab run NAME`): each must pass. They run in
// parallel lab hosts to bound the time. A solved exercise is not played
// again here: TestSolvedExercisesAreTheLabs proves each is its lab's
// script line for line, and TestExerciseSolvedPasses plays one through
// `nslab lab check`.
func TestPlayerPlaysEveryLab(t *testing.T) {
	needLabs(t)
	list, err := exec.Command("nslab", "lab", "list").Output()
	if err != nil {
		t.Fatalf("nslab lab list: %v", err)
	}
	type job struct {
		name string
		args []string
		out  []byte
		err  error
	}
	var jobs []*job
	for _, line := range strings.Split(string(list), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		jobs = append(jobs, &job{name: "run/" + f[0], args: []string{"lab", "run", f[0]}})
	}
	if len(jobs) < 10 {
		t.Fatalf("nslab lab list shows too few labs:\n%s", list)
	}
	sem := make(chan struct{}, 2*runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			j.out, j.err = exec.Command("nslab", j.args...).CombinedOutput()
		}()
	}
	wg.Wait()
	for _, j := range jobs {
		t.Run(j.name, func(t *testing.T) {
			if j.err != nil || !bytes.Contains(j.out, []byte("\nPASS: ")) {
				t.Errorf("nslab %s: %v\n%s", strings.Join(j.args, " "), j.err, j.out)
			}
		})
	}
}
