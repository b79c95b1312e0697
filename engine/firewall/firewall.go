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
