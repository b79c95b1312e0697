// Package firewall writes the lab host's iptables rules in Docker's classic
// layout (Docker 27 and before, the one the notes and most tutorials show):
// DOCKER-USER first in FORWARD, then DOCKER-ISOLATION-STAGE-1/2 between
// bridge networks, per-network FORWARD rules, MASQUERADE per subnet, and
// the DOCKER chains in nat and filter for published ports.
//
// Every change is one iptables-restore --noflush transaction, never one
// iptables exec per rule, and the rules stay visible to iptables-save,
// which is how learners read them. Removal replays the same rule specs
// with -D, so after everything is removed only the base chains remain.
package firewall

import (
	"bytes"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"

	"github.com/nslab/nslab/engine/netns"
)

// Restore applies an iptables-restore script without flushing other rules.
// It runs in the network namespace of the calling thread.
func Restore(script string) error {
	cmd := exec.Command("iptables-restore", "--noflush", "--wait")
	cmd.Stdin = strings.NewReader(script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("iptables-restore: %v: %s\nscript:\n%s", err, strings.TrimSpace(stderr.String()), script)
	}
	return nil
}

// RestoreIn applies an iptables-restore script inside the network
// namespace pinned at nsPath: iptables-restore is forked from a thread that
// has joined it.
func RestoreIn(nsPath, script string) error {
	return netns.Do(nsPath, func() error { return Restore(script) })
}

// BaseRules are the chains Docker creates at start, whatever the networks:
// the user's DOCKER-USER chain first in FORWARD, the two isolation stages,
// the DOCKER chains for published ports, and FORWARD's policy set to DROP
// because the lab host, like Docker, had to turn IP forwarding on itself.
func BaseRules() string {
	return `*filter
:FORWARD DROP [0:0]
:DOCKER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-ISOLATION-STAGE-2 - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -j RETURN
-A DOCKER-USER -j RETURN
COMMIT
*nat
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
COMMIT
`
}

// Network is what the firewall needs to know of a bridge network.
type Network struct {
	Bridge     string
	Subnet     netip.Prefix
	ICC        bool // containers on the bridge may talk to each other
	Masquerade bool // outbound NAT
	Internal   bool // no traffic in or out of the subnet
}

// networkRules returns a network's rules in the order Docker (20.10 to
// 27, libnetwork's bridge driver) issues them. Almost every one is an
// insert (-I) at the top of its chain, so the newest network's rules come
// first: the MASQUERADE and the nat RETURN, then the four FORWARD rules
// (inserted ICC, outbound, -j DOCKER, conntrack, so they read in the
// opposite order), then the isolation pair. Two exceptions, as in Docker:
// with icc=false the bridge-internal DROP is appended (-A) to the end of
// FORWARD, and an internal network gets only its two DROPs in STAGE-1 and
// the ICC rule. Docker adds the nat RETURN only with masquerading on.
func networkRules(n Network) []rule {
	br, sn := n.Bridge, n.Subnet.Masked().String()
	icc := rule{"filter", "I", "FORWARD -i " + br + " -o " + br + " -j ACCEPT"}
	if !n.ICC {
		icc = rule{"filter", "A", "FORWARD -i " + br + " -o " + br + " -j DROP"}
	}
	if n.Internal {
		// setupInternalNetworkRules: the inbound DROP is inserted first,
		// the outbound one above it.
		return []rule{
			{"filter", "I", "DOCKER-ISOLATION-STAGE-1 ! -d " + sn + " -i " + br + " -j DROP"},
			{"filter", "I", "DOCKER-ISOLATION-STAGE-1 ! -s " + sn + " -o " + br + " -j DROP"},
			icc,
		}
	}
	var rs []rule
	if n.Masquerade {
		rs = append(rs,
			rule{"nat", "I", "POSTROUTING -s " + sn + " ! -o " + br + " -j MASQUERADE"},
			rule{"nat", "I", "DOCKER -i " + br + " -j RETURN"})
	}
	return append(rs,
		icc,
		rule{"filter", "I", "FORWARD -i " + br + " ! -o " + br + " -j ACCEPT"},
		rule{"filter", "I", "FORWARD -o " + br + " -j DOCKER"},
		rule{"filter", "I", "FORWARD -o " + br + " -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"},
		rule{"filter", "I", "DOCKER-ISOLATION-STAGE-1 -i " + br + " ! -o " + br + " -j DOCKER-ISOLATION-STAGE-2"},
		rule{"filter", "I", "DOCKER-ISOLATION-STAGE-2 -o " + br + " -j DROP"},
	)
}

// jumpRules put FORWARD's two jumps back on top after a network's rules
// were inserted above them, as Docker does after each network create
// (EnsureJumpRule: delete, then insert; STAGE-1 first, then DOCKER-USER,
// so DOCKER-USER ends first). They are part of an add only.
var jumpRules = []rule{
	{"filter", "D", "FORWARD -j DOCKER-ISOLATION-STAGE-1"},
	{"filter", "I", "FORWARD -j DOCKER-ISOLATION-STAGE-1"},
	{"filter", "D", "FORWARD -j DOCKER-USER"},
	{"filter", "I", "FORWARD -j DOCKER-USER"},
}

// Port is one published port.
type Port struct {
	Proto         string     // tcp or udp
	HostIP        netip.Addr // invalid or 0.0.0.0 means every address
	HostPort      uint16
	ContainerIP   netip.Addr
	ContainerPort uint16
	Bridge        string
}

func portRules(p Port) []rule {
	c := p.ContainerIP.String()
	dst := ""
	if p.HostIP.IsValid() && !p.HostIP.IsUnspecified() {
		dst = "-d " + p.HostIP.String() + "/32 "
	}
	return []rule{
		{"nat", "A", fmt.Sprintf("DOCKER %s! -i %s -p %s -m %s --dport %d -j DNAT --to-destination %s:%d",
			dst, p.Bridge, p.Proto, p.Proto, p.HostPort, c, p.ContainerPort)},
		{"nat", "A", fmt.Sprintf("POSTROUTING -s %s/32 -d %s/32 -p %s -m %s --dport %d -j MASQUERADE",
			c, c, p.Proto, p.Proto, p.ContainerPort)},
		{"filter", "A", fmt.Sprintf("DOCKER -d %s/32 ! -i %s -o %s -p %s -m %s --dport %d -j ACCEPT",
			c, p.Bridge, p.Bridge, p.Proto, p.Proto, p.ContainerPort)},
	}
}

type rule struct{ table, pos, spec string }

// script renders rules as one iptables-restore transaction, adding them
// (add) or deleting them.
func script(rules []rule, add bool) string {
	var b strings.Builder
	for _, table := range []string{"filter", "nat"} {
		var lines []string
		for _, r := range rules {
			if r.table != table {
				continue
			}
			op := "-" + r.pos
			if !add && r.pos != "D" {
				op = "-D"
			}
			lines = append(lines, op+" "+r.spec)
		}
		if len(lines) == 0 {
			continue
		}
		fmt.Fprintf(&b, "*%s\n%s\nCOMMIT\n", table, strings.Join(lines, "\n"))
	}
	return b.String()
}

// AddNetworkScript and the other *Script functions return the
// iptables-restore transaction for one change.
func AddNetworkScript(n Network) string {
	return script(append(networkRules(n), jumpRules...), true)
}
func RemoveNetworkScript(n Network) string { return script(networkRules(n), false) }
func AddPortsScript(ps []Port) string      { return script(portsRules(ps), true) }
func RemovePortsScript(ps []Port) string   { return script(portsRules(ps), false) }

func portsRules(ps []Port) []rule {
	var rs []rule
	for _, p := range ps {
		rs = append(rs, portRules(p)...)
	}
	return rs
}

// Init installs the base chains in the calling namespace.
func Init() error { return Restore(BaseRules()) }

// AddNetwork installs a network's rules in one transaction.
func AddNetwork(n Network) error { return Restore(AddNetworkScript(n)) }

// RemoveNetwork deletes a network's rules in one transaction.
func RemoveNetwork(n Network) error { return Restore(RemoveNetworkScript(n)) }

// AddPorts installs the rules of a container's published ports in one
// transaction.
func AddPorts(ps []Port) error {
	if len(ps) == 0 {
		return nil
	}
	return Restore(AddPortsScript(ps))
}

// RemovePorts deletes them in one transaction.
func RemovePorts(ps []Port) error {
	if len(ps) == 0 {
		return nil
	}
	return Restore(RemovePortsScript(ps))
}

// MovedResolverRules points the embedded DNS server's rules, already in a
// container's namespace, at new ports: iptables-restore --noflush empties
// the user chains a script declares, so the two DOCKER_ chains are
// rewritten, and the jumps to them from OUTPUT and POSTROUTING stay as
// they are.
func MovedResolverRules(udpPort, tcpPort int) string {
	var keep []string
	for _, l := range strings.SplitAfter(ResolverRules(udpPort, tcpPort), "\n") {
		if !strings.HasPrefix(l, "-A OUTPUT ") && !strings.HasPrefix(l, "-A POSTROUTING ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}

// ResolverRules is the nat table Docker installs in a container's network
// namespace for the embedded DNS server: queries to 127.0.0.11:53 are
// DNATed to the server's random ports, and its answers are SNATed back to
// port 53. The order is the one iptables-save shows for Docker (tcp first).
func ResolverRules(udpPort, tcpPort int) string {
	return fmt.Sprintf(`*nat
:DOCKER_OUTPUT - [0:0]
:DOCKER_POSTROUTING - [0:0]
-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT
-A POSTROUTING -d 127.0.0.11/32 -j DOCKER_POSTROUTING
-A DOCKER_OUTPUT -d 127.0.0.11/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 127.0.0.11:%[2]d
-A DOCKER_OUTPUT -d 127.0.0.11/32 -p udp -m udp --dport 53 -j DNAT --to-destination 127.0.0.11:%[1]d
-A DOCKER_POSTROUTING -s 127.0.0.11/32 -p tcp -m tcp --sport %[2]d -j SNAT --to-source :53
-A DOCKER_POSTROUTING -s 127.0.0.11/32 -p udp -m udp --sport %[1]d -j SNAT --to-source :53
COMMIT
`, udpPort, tcpPort)
}
