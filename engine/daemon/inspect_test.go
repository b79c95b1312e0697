package daemon

import (
	"encoding/json"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/nslab/nslab/engine/portmap"
)

// inspectFixture is a daemon with a user network, the default bridge, host
// and none, a running container on both bridges with a published port, and
// a stopped container. No kernel object is involved.
func inspectFixture() (*Daemon, []*Container, []*Network) {
	t0 := time.Date(2026, 11, 23, 20, 0, 0, 123456789, time.UTC)
	bridgeNet := &Network{ID: "b1" + pad, Name: "bridge", Driver: "bridge", Bridge: "docker0", Subnet: netip.MustParsePrefix("172.17.0.0/16"), Gateway: netip.MustParseAddr("172.17.0.1"), MTU: 1500, Default: true, Created: t0}
	user := &Network{ID: "u1" + pad, Name: "app", Driver: "bridge", Bridge: "br-u1", Subnet: netip.MustParsePrefix("10.10.0.0/24"), Gateway: netip.MustParseAddr("10.10.0.1"), Created: t0, Internal: true, Options: map[string]string{"com.docker.network.bridge.enable_icc": "false"}}
	host := &Network{ID: "h1" + pad, Name: "host", Driver: "host", Created: t0}
	none := &Network{ID: "n1" + pad, Name: "none", Driver: "null", Created: t0}
	web := &Container{
		ID: "c1" + pad, Name: "web", Image: "busybox", ImageID: "sha256:1a" + pad, Cmd: []string{"-f"}, Hostname: "c1" + pad[:10],
		Entrypoint: []string{"httpd"}, Env: []string{"PATH=/bin", "MODE=test"},
		CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"MKNOD"}, SecurityOpt: []string{"no-new-privileges"},
		Sysctls: map[string]string{"net.ipv4.ip_forward": "1"}, LogConfig: map[string]string{"max-size": "1m"},
		NetworkMode: "bridge", Created: t0, StartedAt: t0.Add(time.Second), Status: "running", Pid: 42,
		SandboxID: "s1" + pad, SandboxKey: "/run/nslab/netns/s1", Dir: "/run/nslab/containers/c1",
		Endpoints: []*Endpoint{
			{NetworkID: bridgeNet.ID, Network: "bridge", EndpointID: "e1" + pad, HostVeth: "veth1", IfName: "eth0", Addr: netip.MustParsePrefix("172.17.0.2/16"), Gateway: bridgeNet.Gateway, MAC: "02:42:ac:11:00:02"},
			{NetworkID: user.ID, Network: "app", EndpointID: "e2" + pad, HostVeth: "veth2", IfName: "eth1", Addr: netip.MustParsePrefix("10.10.0.2/24"), Gateway: user.Gateway, MAC: "02:42:0a:0a:00:02", Aliases: []string{"www"}, DNSNames: []string{"web", "www", "c1" + pad[:10]}},
		},
		Bindings: []portmap.Binding{{Proto: "tcp", HostIP: netip.MustParseAddr("0.0.0.0"), ContainerPort: 80}},
		Exposed:  []portmap.Binding{{Proto: "tcp", ContainerPort: 80}, {Proto: "udp", ContainerPort: 53}},
		Ports:    []portmap.Binding{{Proto: "tcp", HostIP: netip.MustParseAddr("0.0.0.0"), HostPort: 32768, ContainerPort: 80}},
	}
	side := &Container{
		ID: "c2" + pad, Name: "side", Image: "busybox", ImageID: "sha256:1a" + pad, Cmd: []string{"sh"}, Privileged: true, Hostname: "web", NetworkMode: "container:" + web.ID,
		PidMode: "host", Created: t0, Status: "exited", ExitCode: 137, FinishedAt: t0.Add(time.Minute), Dir: "/run/nslab/containers/c2", AutoRemove: true, Tty: true, OpenStdin: true,
	}
	hosted := &Container{ID: "c3" + pad, Name: "onhost", Image: "busybox", Hostname: "lab", NetworkMode: "host", Created: t0, Status: "running", Pid: 7, Dir: "/run/nslab/containers/c3"}
	d := &Daemon{networks: map[string]*Network{}, containers: map[string]*Container{}}
	for _, n := range []*Network{bridgeNet, user, host, none} {
		d.networks[n.ID] = n
	}
	for _, c := range []*Container{web, side, hosted} {
		d.containers[c.ID] = c
	}
	return d, []*Container{web, side, hosted}, []*Network{bridgeNet, user, host, none}
}

const pad = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"

// The inspect JSON is exactly what Docker's types print, byte for byte, as
// recorded in testdata/inspect.golden.
func TestInspectJSON(t *testing.T) {
	d, cs, ns := inspectFixture()
	var out []byte
	for _, c := range cs {
		b, err := json.Marshal(d.containerJSON(c))
		if err != nil {
			t.Fatal(err)
		}
		out = append(append(out, b...), '\n')
	}
	for _, n := range ns {
		b, err := json.Marshal(d.networkJSON(n))
		if err != nil {
			t.Fatal(err)
		}
		out = append(append(out, b...), '\n')
	}
	if os.Getenv("NSLAB_UPDATE") != "" {
		os.MkdirAll("testdata", 0o755)
		os.WriteFile("testdata/inspect.golden", out, 0o644)
	}
	want, err := os.ReadFile("testdata/inspect.golden")
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != string(want) {
		t.Fatalf("inspect JSON changed:\n got: %s\nwant: %s", out, want)
	}
}
