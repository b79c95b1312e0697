package labs_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// shellStep is one thing typed into `nslab shell`: a line (or a key, such
// as C-c), and the text the screen must then show one more time than it did
// before.
type shellStep struct {
	line string // typed, then Enter
	key  string // a tmux key name, sent instead of a line
	want string
}

// notesSession is notes 000 typed into `nslab shell`, word for word, in the
// notes' order. Lines marked "not the notes'" are the few the shell needs
// around them: it has one terminal, so where the notes "open another
// terminal session" while nstest's -it shell holds the first, the test
// leaves nstest's shell and starts it again with -d (nslab has no detach
// keys, Ctrl-P Ctrl-Q, yet).
var notesSession = []shellStep{
	{line: "sudo ip netns list", want: "[nslab lab host]"},
	{line: "docker run --name nstest -it busybox", want: "/ #"},
	{line: "ip a", want: "inet 172.17.0.2/16 brd 172.17.255.255 scope global eth0"},
	{line: "exit", want: "[nslab lab host]"},
	{line: "docker rm nstest", want: "nstest"},                                // not the notes'
	{line: "docker run --name nstest -dit busybox", want: "[nslab lab host]"}, // not the notes'
	{line: "sudo ip netns list", want: "[nslab lab host]"},
	{line: `pid="$(docker inspect -f '{{.State.Pid}}' nstest)"`, want: "[nslab lab host]"},
	{line: "sudo mkdir -p /var/run/netns/", want: "[nslab lab host]"},
	{line: "sudo ln -sf /proc/$pid/ns/net /var/run/netns/nstest", want: "[nslab lab host]"},
	{line: "sudo ip netns list", want: "nstest (id: "},
	{line: "docker exec nstest ip a", want: "inet 172.17.0.2/16 brd 172.17.255.255 scope global eth0"},
	{line: "sudo ip netns exec nstest ip a", want: "link/ether 02:42:ac:11:00:02 brd ff:ff:ff:ff:ff:ff link-netnsid 0"},
	{line: "ip a | grep docker", want: "master docker0 state UP"},
	{line: "brctl show", want: "docker0"},
	{line: "docker run --name nstest2 -it busybox", want: "/ #"},
	{line: "ip a", want: "inet 172.17.0.3/16 brd 172.17.255.255 scope global eth0"},
	{line: "ping nstest", want: "ping: bad address 'nstest'"},
	{line: "ping 172.17.0.2", want: "64 bytes from 172.17.0.2: seq=0 ttl=64"},
	{key: "C-c", want: "packets transmitted"},
	{line: "exit", want: "[nslab lab host]"},
	{line: "docker network create mynet", want: "[nslab lab host]"},
	{line: "docker network ls", want: "   mynet     bridge    local"},
	{line: "docker network inspect mynet", want: `"Subnet": "172.18.0.0/16"`},
	{line: "ip addr show", want: "inet 172.18.0.1/16 brd 172.18.255.255 scope global br-"},
	{line: "brctl show", want: "br-"},
	{line: "docker run --name=web --network=mynet -d wbitt/network-multitool", want: "[nslab lab host]"},
	{line: "docker run --name=db --network=mynet -e MYSQL_ROOT_PASSWORD=secret -d mysql", want: "[nslab lab host]"},
	{line: "docker ps", want: "80/tcp, 443/tcp, 1180/tcp, 11443/tcp   web"},
	{line: "docker exec -it web bash", want: ":/# "},
	{line: "ping -c 1 db", want: "64 bytes from db.mynet (172.18.0."},
	{line: "dig db", want: "SERVER: 127.0.0.11#53(127.0.0.11) (UDP)"},
	{line: "cat /etc/resolv.conf", want: "options edns0 trust-ad ndots:0"},
	{line: "netstat -ntlup", want: "1/nginx: master pro"},
	{line: "exit", want: "[nslab lab host]"},
	{line: "docker run \\", want: "> "},
	{line: "    --name tool \\", want: "> "},
	{line: "    --network mynet \\", want: "> "},
	{line: "    --cap-add=NET_ADMIN \\", want: "> "},
	{line: "    --cap-add=NET_RAW \\", want: "> "},
	{line: "    -it wbitt/network-multitool /bin/bash", want: ":/# "},
	{line: "dig -c db", want: "ANSWER: 13"},
	{line: "netstat -ntlup", want: "LISTEN      -"},
	{line: "iptables-nft-save", want: "-j SNAT --to-source :53"},
	{line: "exit", want: "[nslab lab host]"},
	{line: "docker run --name busybox \\", want: "> "},
	{line: "                 --pid container:db \\", want: "> "},
	{line: "                 --rm -it busybox /bin/sh", want: "/ #"},
	{line: "ps aux", want: "mysqld"},
	{line: "ip a", want: "scope global eth0"},
	{line: "exit", want: "[nslab lab host]"},
	{line: "docker run --name busybox \\", want: "> "},
	{line: "                 --pid container:db \\", want: "> "},
	{line: "                 --network container:db --rm -it busybox /bin/sh", want: "/ #"},
	{line: "ip a", want: "inet 172.18.0."},
	{line: "ps aux", want: "mysqld"},
	{line: "exit", want: "[nslab lab host]"},
}

// notesShellLines are the lines the shell test types, for TestNotes. A
// command the notes break over several lines is one entry, joined.
func notesShellLines() []string {
	var out []string
	cont := ""
	for _, s := range notesSession {
		if s.key != "" {
			continue
		}
		if strings.HasSuffix(s.line, "\\") {
			cont += s.line + "\n"
			continue
		}
		out = append(out, cont+s.line)
		cont = ""
	}
	return out
}

// TestShellThroughTmux drives `nslab shell` as a learner would, in a real
// terminal (tmux): it waits for the prompt, types the notes' commands
// exactly as written (notesSession), reads the screen, and leaves.
// Everything it waits for is polled with a bound, never slept for.
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
	tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "50", nslab+" shell")
	defer exec.Command("tmux", "kill-session", "-t", session).Run()
	tmux("set-option", "-t", session, "history-limit", "50000")
	// The whole pane, history included, so that text that scrolled away
	// still counts.
	screen := func() string { return tmux("capture-pane", "-p", "-J", "-S", "-", "-t", session) }
	waitMore := func(text string, before int, typed string) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); ; {
			if strings.Count(screen(), text) > before {
				return
			}
			if time.Now().After(deadline) {
				s := screen()
				if len(s) > 4000 {
					s = s[len(s)-4000:]
				}
				t.Fatalf("after %q, the screen never showed %q once more; it ends:\n%s", typed, text, s)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	waitMore("[nslab lab host]", 0, "nslab shell")
	for _, s := range notesSession {
		before := strings.Count(screen(), s.want)
		if s.key != "" {
			tmux("send-keys", "-t", session, s.key)
		} else {
			tmux("send-keys", "-t", session, "-l", s.line)
			tmux("send-keys", "-t", session, "Enter")
		}
		waitMore(s.want, before, s.line+s.key)
	}
	// The first `sudo ip netns list`s print nothing: the prompt follows
	// them at once.
	if s := screen(); !strings.Contains(s, "# sudo ip netns list\n[nslab lab host]") {
		t.Errorf("`sudo ip netns list` printed something before the namespace was linked:\n%s", s)
	}

	tmux("send-keys", "-t", session, "-l", "exit")
	tmux("send-keys", "-t", session, "Enter")
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
