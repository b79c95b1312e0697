package firewall

import (
	"net/netip"
	"strings"
	"testing"
)

func TestNetworkScript(t *testing.T) {
	n := Network{Bridge: "docker0", Subnet: netip.MustParsePrefix("172.17.0.0/16"), ICC: true, Masquerade: true}
	got := AddNetworkScript(n)
	// Docker's order of operations: every rule inserted at the top, so
	// the newest network comes first, then FORWARD's jumps put back on
	// top (DOCKER-USER first).
	want := `*filter
-I FORWARD -i docker0 -o docker0 -j ACCEPT
-I FORWARD -i docker0 ! -o docker0 -j ACCEPT
-I FORWARD -o docker0 -j DOCKER
-I FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-I DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
-I DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
-D FORWARD -j DOCKER-ISOLATION-STAGE-1
-I FORWARD -j DOCKER-ISOLATION-STAGE-1
-D FORWARD -j DOCKER-USER
-I FORWARD -j DOCKER-USER
COMMIT
*nat
-I POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-I DOCKER -i docker0 -j RETURN
COMMIT
`
	if got != want {
		t.Errorf("docker0 rules:\n%s\nwant (Docker 27's layout):\n%s", got, want)
	}
	// Removal deletes exactly the network's own specs, never the jumps.
	rm := RemoveNetworkScript(n)
	if strings.Count(rm, "\n-D ") != 8 || strings.Contains(rm, "-A ") || strings.Contains(rm, "-I ") || strings.Contains(rm, "-j DOCKER-USER") {
		t.Errorf("removal script:\n%s", rm)
	}
}

func TestICCOffAndInternal(t *testing.T) {
	off := AddNetworkScript(Network{Bridge: "br-x", Subnet: netip.MustParsePrefix("172.18.0.0/16"), ICC: false, Masquerade: true})
	// Docker appends the DROP (setIcc), so it ends FORWARD.
	if !strings.Contains(off, "-A FORWARD -i br-x -o br-x -j DROP\n") || strings.Contains(off, "-o br-x -j ACCEPT\n-I FORWARD -i br-x -o br-x") {
		t.Errorf("icc=false should append the bridge-internal DROP:\n%s", off)
	}
	in := AddNetworkScript(Network{Bridge: "br-i", Subnet: netip.MustParsePrefix("172.19.0.0/16"), ICC: true, Internal: true, Masquerade: true})
	// Inserted inbound first, so iptables-save lists the outbound DROP
	// first, as Docker's does.
	want := "-I DOCKER-ISOLATION-STAGE-1 ! -d 172.19.0.0/16 -i br-i -j DROP\n" +
		"-I DOCKER-ISOLATION-STAGE-1 ! -s 172.19.0.0/16 -o br-i -j DROP\n" +
		"-I FORWARD -i br-i -o br-i -j ACCEPT\n"
	if !strings.Contains(in, want) {
		t.Errorf("internal network rules lack\n%s\nin:\n%s", want, in)
	}
	if strings.Contains(in, "MASQUERADE") || strings.Contains(in, "*nat") {
		t.Errorf("internal network has NAT rules:\n%s", in)
	}
	// Without masquerading Docker adds neither MASQUERADE nor the nat RETURN.
	if nm := AddNetworkScript(Network{Bridge: "br-n", Subnet: netip.MustParsePrefix("172.20.0.0/16"), ICC: true}); strings.Contains(nm, "*nat") {
		t.Errorf("masquerade off still writes nat rules:\n%s", nm)
	}
}

func TestPortScript(t *testing.T) {
	p := Port{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("172.17.0.2"), ContainerPort: 80, Bridge: "docker0"}
	got := AddPortsScript([]Port{p})
	for _, want := range []string{
		"-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80\n",
		"-A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE\n",
		"-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("port rules lack %q:\n%s", want, got)
		}
	}
	p.HostIP = netip.MustParseAddr("198.51.100.2")
	p.Proto = "udp"
	if got := AddPortsScript([]Port{p}); !strings.Contains(got, "-A DOCKER -d 198.51.100.2/32 ! -i docker0 -p udp -m udp --dport 8080 -j DNAT --to-destination 172.17.0.2:80\n") {
		t.Errorf("host-IP udp rule:\n%s", got)
	}
}

// TestMovedResolverRules: moving the embedded DNS server's rules declares
// (so empties) the two DOCKER_ chains and fills them for the new ports, and
// adds no second jump to them.
func TestMovedResolverRules(t *testing.T) {
	got := MovedResolverRules(40001, 40002)
	want := `*nat
:DOCKER_OUTPUT - [0:0]
:DOCKER_POSTROUTING - [0:0]
-A DOCKER_OUTPUT -d 127.0.0.11/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 127.0.0.11:40002
-A DOCKER_OUTPUT -d 127.0.0.11/32 -p udp -m udp --dport 53 -j DNAT --to-destination 127.0.0.11:40001
-A DOCKER_POSTROUTING -s 127.0.0.11/32 -p tcp -m tcp --sport 40002 -j SNAT --to-source :53
-A DOCKER_POSTROUTING -s 127.0.0.11/32 -p udp -m udp --sport 40001 -j SNAT --to-source :53
COMMIT
`
	if got != want {
		t.Errorf("MovedResolverRules:\n%s\nwant:\n%s", got, want)
	}
}
