// Package firewall writes the lab host's iptables rules. Every change is one
// iptables-restore transaction (--noflush), never one iptables exec per
// rule, and the rules stay visible to iptables-save, which is how learners
// read them.
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
// It runs in the network namespace of the calling process.
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

// MasqueradeRule is Docker's outbound NAT rule for a bridge network: traffic
// from the subnet that leaves by any other interface takes the lab host's
// address.
func MasqueradeRule(subnet netip.Prefix, bridge string) string {
	return fmt.Sprintf("-s %s ! -o %s -j MASQUERADE", subnet.Masked(), bridge)
}

// EnsureMasquerade installs MasqueradeRule in nat POSTROUTING unless it is
// already there.
func EnsureMasquerade(subnet netip.Prefix, bridge string) error {
	rule := strings.Fields(MasqueradeRule(subnet, bridge))
	if exec.Command("iptables", append([]string{"--wait", "-t", "nat", "-C", "POSTROUTING"}, rule...)...).Run() == nil {
		return nil
	}
	return Restore("*nat\n-A POSTROUTING " + strings.Join(rule, " ") + "\nCOMMIT\n")
}

// DeleteMasquerade removes MasqueradeRule from nat POSTROUTING.
func DeleteMasquerade(subnet netip.Prefix, bridge string) error {
	return Restore("*nat\n-D POSTROUTING " + MasqueradeRule(subnet, bridge) + "\nCOMMIT\n")
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

// RestoreIn applies an iptables-restore script inside the network
// namespace pinned at nsPath: iptables-restore is forked from a thread that
// has joined it.
func RestoreIn(nsPath, script string) error {
	return netns.Do(nsPath, func() error { return Restore(script) })
}
