package labs

import (
	"fmt"
	"strings"
)

// NotesItem is one command or one checkable output of the notes the labs
// reproduce (/work/shared/seeds/000_*.txt, "A clumsy Docker networking
// notes", and 004_*.txt, "Internals of Container Networking"). NotesItems
// lists them all, in the notes' order; NOTES.md is generated from it and
// from the labs' "# notes:" lines, and tests fail when an output has no lab
// phase that checks it or a command is typed word for word nowhere.
type NotesItem struct {
	ID    string // C1.. for commands, O1.. for outputs
	Range NotesRange
	// Text is a command as the notes write it (continuation lines and all),
	// or, for an output, what the notes show, in short.
	Text string
	// Instance is the command a lab or the shell test types where Text
	// holds a placeholder (<container_pid>) or the notes' own PID or ID.
	Instance string
	// Where says where a command is typed word for word when that is
	// not obvious (the shell test, or a lab's file section).
	Where string
	// Checked says what the labs check of an output: its shape, modulo
	// ids, times and ports, and where nslab or the lab host differs.
	Checked string
	// Pending names the branch whose feature a command needs, when it is
	// not on main yet: the lab holds the check as a comment until then.
	Pending string
}

// Command reports whether the item is a command.
func (it NotesItem) Command() bool { return strings.HasPrefix(it.ID, "C") }

// Typed is the text a lab or the shell test must hold word for word.
func (it NotesItem) Typed() string {
	if it.Instance != "" {
		return it.Instance
	}
	return it.Text
}

func cmd(id, note string, from, to int, text string) NotesItem {
	return NotesItem{ID: id, Range: NotesRange{note, from, to}, Text: text}
}

func out(id, note string, from, to int, text, checked string) NotesItem {
	return NotesItem{ID: id, Range: NotesRange{note, from, to}, Text: text, Checked: checked}
}

func (it NotesItem) instance(s string) NotesItem { it.Instance = s; return it }
func (it NotesItem) where(s string) NotesItem    { it.Where = s; return it }

const shellOnly = "the shell test (a terminal; the lab replays it through script(1) or with -d)"

// NotesItems are the notes' commands and checkable outputs.
var NotesItems = []NotesItem{
	// Notes 000, section 1 and 2.
	cmd("C1", "000", 39, 39, "sudo ip netns <sub-command>").instance("sudo ip netns list"),
	cmd("C2", "000", 57, 57, "sudo ip netns list"),
	cmd("C3", "000", 59, 59, "docker run --name nstest -it busybox").where(shellOnly),
	cmd("C4", "000", 62, 62, "sudo ip netns list"),
	out("O1", "000", 63, 63, "nothing (\"# nothing return\")", "no output at all, before and after nstest starts"),
	cmd("C5", "000", 70, 70, `pid="$(docker inspect -f '{{.State.Pid}}' nstest)"`),
	cmd("C6", "000", 72, 72, "sudo mkdir -p /var/run/netns/"),
	cmd("C7", "000", 73, 73, "sudo ln -sf /proc/$pid/ns/net /var/run/netns/nstest"),
	cmd("C8", "000", 74, 74, "sudo ip netns list"),
	out("O2", "000", 75, 75, "nstest (id: 0)", "`nstest (id: N)`, N the lab host's first free nsid: 1, because the lab host's uplink peer (the simulated outside) holds 0"),
	cmd("C9", "000", 82, 82, "docker exec nstest ip a"),
	out("O3", "000", 83, 91, "lo; 7: eth0@if8 <BROADCAST,MULTICAST,UP,LOWER_UP,M-DOWN>, 02:42:ac:11:00:02, 172.17.0.2/16", "every line's shape; eth0 N and its peer N+1 adjacent"),
	cmd("C10", "000", 93, 93, "sudo ip netns exec nstest ip a"),
	out("O4", "000", 94, 101, "the same through ip netns exec: state UP group default, link-netnsid 0", "lo, eth0@ifN state UP group default, MAC with link-netnsid 0, 172.17.0.2/16"),
	cmd("C11", "000", 103, 103, "ip a | grep docker"),
	out("O5", "000", 104, 106, "5: docker0 ... state UP, 172.17.0.1/16; 8: veth4866e91@if7 ... master docker0", "docker0 UP with 172.17.0.1/16 and a vethXXXXXXX@ifN master docker0"),
	cmd("C12", "000", 112, 112, "brctl show"),
	out("O6", "000", 113, 115, "docker0 8000.0242f0c749bd no veth4866e91", "the header, and docker0 with bridge id 8000.0242..., STP no, its veth (no lxdbr0: LXD's, not Docker's)"),
	// Section 3.1.
	cmd("C13", "000", 136, 136, "docker run --name nstest2 -it busybox").where("notes-docker0's nstest2.sh, in a terminal; the shell test"),
	cmd("C14", "000", 137, 137, "ip a"),
	out("O7", "000", 138, 145, "9: eth0@if10, 02:42:ac:11:00:03, 172.17.0.3/16", "eth0@ifN M-DOWN line, MAC 02:42:ac:11:00:03, 172.17.0.3/16"),
	cmd("C15", "000", 146, 146, "ping nstest"),
	out("O8", "000", 147, 147, "ping: bad address 'nstest'", "the exact line"),
	cmd("C16", "000", 148, 148, "ping 172.17.0.2").where("the shell test (with its ^C); notes-docker0 types ping -c 1 172.17.0.2, having no ^C to give"),
	out("O9", "000", 149, 154, "PING 172.17.0.2 ...: 56 data bytes; 64 bytes from 172.17.0.2: seq=0 ttl=64; 1 packets transmitted, 1 packets received", "every line's shape"),
	// Section 3.2.
	cmd("C17", "000", 162, 162, "docker network create mynet"),
	out("O10", "000", 163, 163, "the network's 64-hex ID", "^[0-9a-f]{64}$"),
	cmd("C18", "000", 165, 165, "docker network ls"),
	out("O11", "000", 166, 170, "NETWORK ID NAME DRIVER SCOPE; bridge, host, mynet, none", "the header and the four rows, in that order, in Docker's columns"),
	cmd("C19", "000", 172, 172, "docker network inspect mynet"),
	out("O12", "000", 173, 202, "the JSON: Name, Id, Created, ..., Subnet 172.18.0.0/16, Gateway 172.18.0.1, ..., Labels", "every field, its value and Docker's order"),
	cmd("C20", "000", 206, 206, "ip addr show"),
	out("O13", "000", 207, 211, "11: br-ed7da300a506: <NO-CARRIER,BROADCAST,MULTICAST,UP> state DOWN, 02:42:..., 172.18.0.1/16", "the three lines' shape; the bridge is br- and the network ID's first 12"),
	cmd("C21", "000", 213, 213, "brctl show"),
	out("O14", "000", 214, 217, "br-ed7da300a506 and docker0, no interfaces", "both rows, without interfaces"),
	cmd("C22", "000", 224, 224, "docker run --name=web --network=mynet -d wbitt/network-multitool"),
	out("O15", "000", 225, 225, "web's 64-hex ID", "^[0-9a-f]{64}$"),
	cmd("C23", "000", 227, 227, "docker run --name=db --network=mynet -e MYSQL_ROOT_PASSWORD=secret -d mysql"),
	out("O16", "000", 228, 228, "db's 64-hex ID", "^[0-9a-f]{64}$"),
	cmd("C24", "000", 230, 230, "docker ps"),
	out("O17", "000", 231, 233, `web "/bin/sh /docker/ent…" 80/tcp, 443/tcp, 1180/tcp, 11443/tcp; db "docker-entrypoint.s…" 3306/tcp, 33060/tcp`, "the header and both rows: image, quoted command cut at 20, Up, PORTS, name"),
	cmd("C25", "000", 236, 236, "docker exec -it web bash").where("notes-mynet's web.sh, in a terminal; the shell test"),
	cmd("C26", "000", 237, 237, "ping -c 1 db"),
	out("O18", "000", 238, 243, "PING db (172.18.0.2) 56(84); 64 bytes from db.mynet (172.18.0.2): icmp_seq=1 ttl=64", "every line's shape, the reverse name db.mynet"),
	cmd("C27", "000", 244, 244, "dig db"),
	out("O19", "000", 245, 261, "status: NOERROR; ANSWER: 1, ADDITIONAL: 0; db. 600 IN A 172.18.0.2; SERVER: 127.0.0.11#53(127.0.0.11) (UDP); MSG SIZE rcvd: 38", "each of those lines"),
	cmd("C28", "000", 271, 271, "cat /etc/resolv.conf"),
	out("O20", "000", 272, 273, "nameserver 127.0.0.11; options edns0 trust-ad ndots:0", "both lines exactly"),
	cmd("C29", "000", 274, 274, "netstat -ntlup"),
	out("O21", "000", 275, 280, "127.0.0.11:45541 LISTEN -; 0.0.0.0:443 and 0.0.0.0:80 LISTEN 1/nginx: master pro; udp 127.0.0.11:42758 -", "the header and the four sockets; nothing on :53"),
	cmd("C30", "000", 288, 293, "docker run \\\n    --name tool \\\n    --network mynet \\\n    --cap-add=NET_ADMIN \\\n    --cap-add=NET_RAW \\\n    -it wbitt/network-multitool /bin/bash").where("notes-mynet's tool.sh, in a terminal; the shell test"),
	cmd("C31", "000", 294, 294, "dig -c db"),
	out("O22", "000", 295, 326, ";; Warning, ignoring invalid class db; ANSWER: 13, ADDITIONAL: 1; EDNS udp; the 13 root servers; SERVER: 127.0.0.11#53 (UDP)", "each of those lines, 13 NS records"),
	cmd("C32", "000", 328, 328, "netstat -ntlup"),
	out("O23", "000", 329, 332, "only 127.0.0.11:39527 LISTEN and udp 127.0.0.11:35031", "the two DNS sockets, no nginx"),
	cmd("C33", "000", 333, 333, "iptables-nft-save"),
	out("O24", "000", 334, 351, "*nat, DOCKER_OUTPUT and DOCKER_POSTROUTING, DNAT to 127.0.0.11:PORT, SNAT --to-source :53", "every line but the comments; the DNAT and SNAT ports are the listeners'"),
	// Section 4.
	cmd("C34", "000", 391, 393, "docker run --name busybox \\\n                 --pid container:db \\\n                 --rm -it busybox /bin/sh").where("notes-mynet's pid.sh, in a terminal; the shell test"),
	cmd("C35", "000", 394, 394, "ps aux"),
	out("O25", "000", 395, 398, "1 999 0:25 mysqld; /bin/sh; ps aux", "PID 1 is db's mysqld, then the shell and ps. nslab's differs: PID 1 is root's stand-in script `{mysqld} /bin/sh /usr/sbin/mysqld` with two nc children, and Debian's busybox ps has no TIME column"),
	cmd("C36", "000", 399, 399, "ip a"),
	out("O26", "000", 400, 407, "48: eth0@if49, 02:42:ac:11:00:02, 172.17.0.2/16: its own network", "eth0@ifN on the default bridge, 172.17.0.x with its MAC"),
	cmd("C37", "000", 414, 416, "docker run --name busybox \\\n                 --pid container:db \\\n                 --network container:db --rm -it busybox /bin/sh").where("notes-mynet's net.sh, in a terminal; the shell test"),
	cmd("C38", "000", 417, 417, "ip a"),
	out("O27", "000", 418, 425, "38: eth0@if39, 02:42:ac:12:00:02, 172.18.0.2/16: db's", "172.18.0.x with its MAC, and they are db's as inspect gives them"),
	cmd("C39", "000", 426, 426, "ps aux"),
	out("O28", "000", 427, 430, "1 999 0:26 mysqld; /bin/sh; ps aux", "PID 1 is mysqld (as O25)"),
	// Notes 004.
	cmd("C40", "004", 4, 4, "docker container list"),
	out("O29", "004", 6, 7, `CONTAINER ID IMAGE COMMAND CREATED STATUS PORTS NAMES; bbea5d31d581 ubuntu:latest "/bin/bash" ... peaceful_faraday`, "the header and the row through docker ps (busybox's \"sh\" for ubuntu's /bin/bash, which nslab lacks), a random adjective_surname name"),
	cmd("C41", "004", 9, 9, "docker inspect -f '{{.State.Pid}}' bbea5d31d581").instance("docker inspect -f '{{.State.Pid}}' $id"),
	out("O30", "004", 10, 10, "19025", "a PID, for the short ID ps shows"),
	cmd("C42", "004", 12, 12, "sudo ls /proc/19025/ns/ -la").instance("sudo ls /proc/$pid/ns/ -la"),
	out("O31", "004", 13, 23, "total 0; . and ..; cgroup, ipc, mnt, net, pid, pid_for_children, user, uts -> 'TYPE:[INODE]'", "every line's shape (a newer kernel adds time and time_for_children)"),
	cmd("C43", "004", 29, 29, "pid=$(docker inspect -f '{{.State.Pid}}' ${container_id})"),
	cmd("C44", "004", 30, 30, "mkdir -p /var/run/netns/"),
	cmd("C45", "004", 31, 31, "ln -sfT /proc/$pid/ns/net /var/run/netns/$container_id"),
	cmd("C46", "004", 34, 34, `ip netns exec "${container_id}" ip -s link show eth0`),
	cmd("C47", "004", 38, 38, "sudo nsenter -t <container_pid> -n <command>").instance("sudo nsenter -t $pid -n ip a"),
	cmd("C48", "004", 40, 40, "sudo ip monitor"),
	cmd("C49", "004", 42, 42, "docker network rm test"),
	out("O32", "004", 44, 56, "Deleted dev br-... PERMANENT; the link DOWN; Deleted 224.0.0.22 ... NOARP; Deleted ... inet 172.18.0.1/16; Deleted local 172.18.0.1; Deleted inet, inet6; Deleted the link, qdisc noop", "each line's shape and their order (no 224.0.0.251: mDNS, joined by a daemon the lab host lacks)"),
}

// NotesCoverage maps each item to the lab phases whose "# notes:" lines
// hold its lines.
func NotesCoverage(all []Lab) map[string][]string {
	cov := map[string][]string{}
	for _, it := range NotesItems {
		for _, l := range all {
			for _, t := range l.Tags {
				for _, r := range t.Ranges {
					if r.Contains(it.Range) {
						cov[it.ID] = append(cov[it.ID], fmt.Sprintf("[%s](%s.txtar#L%d) phase %d: %s", l.Name, l.Name, t.Start, t.Phase, strings.ReplaceAll(t.Title, "|", `\|`)))
						break
					}
				}
			}
		}
	}
	return cov
}

// NotesTable renders NOTES.md.
func NotesTable() string {
	all := All()
	cov := NotesCoverage(all)
	var b strings.Builder
	b.WriteString("# The notes, line by line, and the labs that replay them\n\n")
	b.WriteString("Generated from `labs/notes.go` (the notes' commands and checkable outputs) and the labs' `# notes:` lines by `NSLAB_UPDATE=1 go test ./labs -run TestNotes`; a test fails when it is stale, when an output has no lab phase, or when a command is typed word for word in no lab and not in the shell test (`shell_test.go`, which types the notes' interactive sessions into `nslab shell`).\n\n")
	b.WriteString("Lines are the notes' own: 000 is \"A clumsy Docker networking notes\" (ntk148v, 2023), 004 \"Internals of Container Networking\". Outputs are checked for the notes' shape, modulo ids, times and ports; the last column says what, and where nslab or a lab host differs.\n\n")
	var nc, no int
	for _, it := range NotesItems {
		if it.Command() {
			nc++
		} else {
			no++
		}
	}
	fmt.Fprintf(&b, "%d commands, %d checkable outputs.\n\n", nc, no)
	b.WriteString("| # | notes | command or output | replayed and checked in | checked |\n|---|---|---|---|---|\n")
	cell := func(s string) string {
		return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", "<br>")
	}
	for _, it := range NotesItems {
		text := "output: " + cell(it.Text)
		if it.Command() {
			text = "`" + cell(it.Text) + "`"
			if it.Instance != "" {
				text += " (typed as `" + cell(it.Instance) + "`)"
			}
		}
		where := strings.Join(cov[it.ID], "<br>")
		if it.Where != "" {
			if where != "" {
				where += "<br>"
			}
			where += "typed in " + it.Where
		}
		checked := cell(it.Checked)
		if it.Pending != "" {
			checked = "waits for branch `" + it.Pending + "`: the lab holds the command as a comment, and its output is checked through `docker ps`"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", it.ID, it.Range, text, where, checked)
	}
	return b.String()
}
