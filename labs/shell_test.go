package labs_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestShellThroughTmux drives `nslab shell` as a learner would, in a real
// terminal (tmux): it waits for the prompt, types commands from the notes
// exactly as written, reads the screen, and leaves. Everything it waits
// for is polled with a bound, never slept for.
func TestShellThroughTmux(t *testing.T) {
	needLabs(t)
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux (Debian package tmux) is needed; run scripts/provision.sh as root")
	}
	nslab, err := exec.LookPath("nslab")
	if err != nil {
		t.Fatal(err)
	}
	session := fmt.Sprintf("nslab-test-%d", os.Getpid())
	tmux := func(args ...string) string {
		out, err := exec.Command("tmux", args...).CombinedOutput()
		if err != nil && args[0] != "has-session" {
			t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "50", nslab+" shell")
	defer exec.Command("tmux", "kill-session", "-t", session).Run()
	screen := func() string { return tmux("capture-pane", "-p", "-J", "-t", session) }
	waitFor := func(text string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; {
			if s := screen(); strings.Contains(s, text) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the screen never showed %q; it shows:\n%s", text, screen())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	typeLine := func(line string) {
		tmux("send-keys", "-t", session, "-l", line)
		tmux("send-keys", "-t", session, "Enter")
	}

	waitFor("[nslab lab host]")
	// The notes' commands, verbatim (with -d so the shell stays ours).
	typeLine("docker run --name nstest -dit busybox")
	typeLine(`pid="$(docker inspect -f '{{.State.Pid}}' nstest)"; sudo mkdir -p /var/run/netns/; sudo ln -sf /proc/$pid/ns/net /var/run/netns/nstest; sudo ip netns list`)
	waitFor("nstest (id:")
	typeLine("docker exec nstest ip a")
	waitFor("inet 172.17.0.2/16 brd 172.17.255.255 scope global eth0")
	typeLine("brctl show")
	waitFor("docker0")
	typeLine("exit")
	for deadline := time.Now().Add(30 * time.Second); ; {
		if exec.Command("tmux", "has-session", "-t", session).Run() != nil {
			break // the shell and its lab host are gone
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shell did not end after exit:\n%s", screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
