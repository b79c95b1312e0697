package daemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/bridge"
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
	web.Inspect = newInspectState(web, api.RunOptions{Detach: true, Network: "bridge"})
	side.Inspect = newInspectState(side, api.RunOptions{Interactive: true, Tty: true})
	hosted.Inspect = newInspectState(hosted, api.RunOptions{Detach: true, Network: "host", PublishAll: true})
	hosted.Inspect.HostSandboxID, hosted.Inspect.ModeEndpointID = "5h"+pad, "eh"+pad
	web.Endpoints[1].IPv4Req = "10.10.0.2"
	d := &Daemon{dir: "/run/nslab", networks: map[string]*Network{}, containers: map[string]*Container{}}
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

// shape lists a JSON object's structure in order: each key's path and the
// kind of its value (null, {}, [], string, number, bool), each once. Array
// elements are path[]. The keys of .Containers, container IDs, are *.
func shape(b []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	var walk func(path string) error
	walk = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' {
				add(path + " {}")
				for dec.More() {
					k, err := dec.Token()
					if err != nil {
						return err
					}
					key := k.(string)
					if path == ".Containers" {
						key = "*"
					}
					if err := walk(path + "." + key); err != nil {
						return err
					}
				}
			} else {
				add(path + " []")
				for dec.More() {
					if err := walk(path + "[]"); err != nil {
						return err
					}
				}
			}
			_, err := dec.Token() // the closing delimiter
			return err
		case nil:
			add(path + " null")
		case string:
			add(path + " string")
		case json.Number:
			add(path + " number")
		case bool:
			add(path + " bool")
		}
		return nil
	}
	return out, walk("")
}

// dockerScenes builds, without a kernel, the containers and networks that
// testdata/docker-20.10/probe.sh made on real Docker, as nslab's daemon
// holds them: running, stopped (through keepForInspect, as a stop does)
// and on every network mode.
func dockerScenes(t *testing.T) (*Daemon, map[string]*Container, map[string]*Network) {
	t0 := time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC)
	nets := map[string]*Network{
		"bridge":   {ID: "b0" + pad, Name: "bridge", Driver: "bridge", Bridge: "docker0", Subnet: netip.MustParsePrefix("172.17.0.0/16"), Gateway: netip.MustParseAddr("172.17.0.1"), MTU: 1500, Default: true, Created: t0},
		"mynet":    {ID: "m0" + pad, Name: "mynet", Driver: "bridge", Bridge: "br-m0", Subnet: netip.MustParsePrefix("10.20.0.0/24"), Gateway: netip.MustParseAddr("10.20.0.1"), UserSubnet: true, Created: t0},
		"othernet": {ID: "o0" + pad, Name: "othernet", Driver: "bridge", Bridge: "br-o0", Subnet: netip.MustParsePrefix("172.18.0.0/16"), Gateway: netip.MustParseAddr("172.18.0.1"), Created: t0},
		"host":     {ID: "h0" + pad, Name: "host", Driver: "host", Created: t0},
		"none":     {ID: "n0" + pad, Name: "none", Driver: "null", Created: t0},
	}
	d := &Daemon{dir: "/run/nslab", networks: map[string]*Network{}, containers: map[string]*Container{}}
	for _, n := range nets {
		d.networks[n.ID] = n
	}
	cs := map[string]*Container{}
	i := 0
	mk := func(name string, o api.RunOptions) *Container {
		i++
		id := fmt.Sprintf("%02x", i) + pad + "cd"
		c := &Container{
			ID: id, Name: name, Image: "busybox", ImageID: "sha256:1a" + pad, Cmd: []string{"sleep", "1000"},
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, Hostname: id[:12],
			Created: t0, StartedAt: t0, Status: "running", Pid: 100 + i, Dir: "/run/nslab/containers/" + id, lower: "/run/nslab/images/busybox",
			RunAliases: o.Aliases, RunIP: o.IP,
		}
		if o.Hostname != "" {
			c.Hostname = o.Hostname
		}
		switch o.Network {
		case "", "default":
			c.NetworkMode = "bridge"
		default:
			c.NetworkMode = o.Network
			if x := cs[strings.TrimPrefix(o.Network, "container:")]; x != nil {
				c.NetworkMode = "container:" + x.ID
			}
		}
		if c.NetworkMode == "host" {
			c.Hostname = "labhost"
		}
		if c.NetworkMode != "host" && !strings.HasPrefix(c.NetworkMode, "container:") {
			c.SandboxID = fmt.Sprintf("5%x", i) + pad + "cd"
			c.SandboxKey = "/run/nslab/netns/" + c.SandboxID[:12]
		}
		c.Inspect = newInspectState(c, o)
		d.containers[id] = c
		cs[name] = c
		return c
	}
	ep := func(c *Container, net, addr, ipReq string, aliases ...string) {
		n := nets[net]
		p := netip.PrefixFrom(netip.MustParseAddr(addr), n.Subnet.Bits())
		c.Endpoints = append(c.Endpoints, &Endpoint{NetworkID: n.ID, Network: net, EndpointID: "e" + c.ID[1:], Addr: p, Gateway: n.Gateway, MAC: bridge.MAC(p.Addr()).String(), Aliases: aliases, IPv4Req: ipReq})
	}
	stop := func(c *Container, code int) {
		d.keepForInspect(c)
		c.Endpoints, c.SandboxID, c.SandboxKey, c.Ports, c.Pid = nil, "", "", nil, 0
		c.Status, c.ExitCode, c.FinishedAt = "exited", code, t0.Add(time.Minute)
	}
	ep(mk("plain", api.RunOptions{Detach: true}), "bridge", "172.17.0.2", "")
	onnet := mk("onnet", api.RunOptions{Detach: true, Network: "mynet", IP: "10.20.0.5"})
	ep(onnet, "mynet", "10.20.0.5", "10.20.0.5")
	onnet.Bindings = []portmap.Binding{{Proto: "tcp", HostIP: netip.IPv4Unspecified(), HostPort: 8080, ContainerPort: 80}}
	onnet.Exposed = []portmap.Binding{{Proto: "tcp", ContainerPort: 80}}
	onnet.Ports = []portmap.Binding{{Proto: "tcp", HostIP: netip.IPv4Unspecified(), HostPort: 8080, ContainerPort: 80}, {Proto: "tcp", HostIP: netip.IPv6Unspecified(), HostPort: 8080, ContainerPort: 80}}
	ep(mk("aliased", api.RunOptions{Detach: true, Network: "mynet", Aliases: []string{"www"}, Hostname: "foo"}), "mynet", "10.20.0.2", "", "www")
	explicit := mk("explicit", api.RunOptions{Detach: true, Network: "bridge", Expose: []string{"80"}})
	explicit.Exposed = []portmap.Binding{{Proto: "tcp", ContainerPort: 80}}
	ep(explicit, "bridge", "172.17.0.3", "")
	ep(explicit, "mynet", "10.20.0.9", "10.20.0.9", "extra")
	mk("hostrun", api.RunOptions{Detach: true, Network: "host"})
	stop(mk("hoststop", api.RunOptions{Detach: true, Network: "host"}), 137)
	mk("nonerun", api.RunOptions{Detach: true, Network: "none"})
	mk("shared", api.RunOptions{Detach: true, Network: "container:nonerun"})
	stopped := mk("stopped", api.RunOptions{Detach: true})
	ep(stopped, "bridge", "172.17.0.4", "")
	stop(stopped, 137)
	pubstop := mk("pubstop", api.RunOptions{Detach: true, Network: "othernet"})
	ep(pubstop, "othernet", "172.18.0.2", "")
	pubstop.Bindings = []portmap.Binding{{Proto: "tcp", HostIP: netip.IPv4Unspecified(), HostPort: 8082, ContainerPort: 80}}
	pubstop.Exposed = []portmap.Binding{{Proto: "tcp", ContainerPort: 80}}
	stop(pubstop, 137)
	for _, name := range []string{"attached", "interactive"} {
		c := mk(name, api.RunOptions{Interactive: name == "interactive", Detach: false})
		c.Cmd = []string{"true"}
		c.OpenStdin = name == "interactive"
		ep(c, "bridge", "172.17.0.9", "")
		stop(c, 0)
	}
	return d, cs, nets
}

// shapeDiffs are where nslab's inspect differs from Docker 20.10's in
// shape, on purpose. Each is "object: line" (a line only one engine has).
var shapeDiffs = map[string]string{
	// The notes' Docker (v24) lists the default bridge's gateway; dockerd
	// 20.10 keeps none in its IPAM config (labs/CONFORMANCE.md, host-and-none).
	"net bridge: .IPAM.Config[].Gateway string": "nslab",
}

// TestInspectShapeMatchesDocker compares, key by key and in order, the
// shape (every key path and whether its value is null, {}, [], a string, a
// number or a bool) of nslab's inspect with real Docker's for the same
// containers and networks, recorded in testdata/docker-20.10.
func TestInspectShapeMatchesDocker(t *testing.T) {
	var dockerCs, dockerNs map[string]json.RawMessage
	for file, into := range map[string]*map[string]json.RawMessage{"containers.json": &dockerCs, "networks.json": &dockerNs} {
		b, err := os.ReadFile(filepath.Join("testdata", "docker-20.10", file))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatal(err)
		}
	}
	d, cs, nets := dockerScenes(t)
	compare := func(what string, ours any, theirs json.RawMessage) {
		b, err := json.Marshal(ours)
		if err != nil {
			t.Fatal(err)
		}
		got, err := shape(b)
		if err != nil {
			t.Fatal(err)
		}
		want, err := shape(theirs)
		if err != nil {
			t.Fatal(err)
		}
		drop := func(lines []string, engine string) []string {
			var out []string
			for _, l := range lines {
				if shapeDiffs[what+": "+l] != engine {
					out = append(out, l)
				}
			}
			return out
		}
		got, want = drop(got, "nslab"), drop(want, "docker")
		if strings.Join(got, "\n") == strings.Join(want, "\n") {
			return
		}
		inGot, inWant := map[string]bool{}, map[string]bool{}
		for _, l := range got {
			inGot[l] = true
		}
		for _, l := range want {
			inWant[l] = true
		}
		var diffs []string
		for _, l := range want {
			if !inGot[l] {
				diffs = append(diffs, "  docker only: "+l)
			}
		}
		for _, l := range got {
			if !inWant[l] {
				diffs = append(diffs, "  nslab only:  "+l)
			}
		}
		if len(diffs) == 0 {
			diffs = append(diffs, "  the same keys in another order:\n    nslab:  "+strings.Join(got, ", ")+"\n    docker: "+strings.Join(want, ", "))
		}
		t.Errorf("%s: inspect's shape differs from Docker 20.10's:\n%s", what, strings.Join(diffs, "\n"))
	}
	if len(cs) != len(dockerCs) || len(nets) != len(dockerNs) {
		t.Fatalf("scenes: %d containers and %d networks, Docker's record has %d and %d", len(cs), len(nets), len(dockerCs), len(dockerNs))
	}
	for name, c := range cs {
		compare("container "+name, d.containerJSON(c), dockerCs[name])
	}
	for name, n := range nets {
		compare("net "+name, d.networkJSON(n), dockerNs[name])
	}
}

// hexID is a 64- or 12-hex ID, which differs between the engines.
var hexID = regexp.MustCompile(`\b[0-9a-f]{64}\b|\b[0-9a-f]{12}\b`)

// TestInspectValuesMatchDocker compares the values inspect derives from
// run's options and the container's life with Docker's for the same
// scenes, IDs and the engines' state directories aside: the network mode
// as run named it, attach flags, aliases (the short ID and the hostname
// after --network-alias), --ip's IPAMConfig, DriverOpts, the sandbox key a
// stopped or host-mode container keeps, and ports.
func TestInspectValuesMatchDocker(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "docker-20.10", "containers.json"))
	if err != nil {
		t.Fatal(err)
	}
	var docker map[string]map[string]any
	if err := json.Unmarshal(b, &docker); err != nil {
		t.Fatal(err)
	}
	d, cs, _ := dockerScenes(t)
	norm := func(v any) string {
		b, _ := json.Marshal(v)
		s := strings.ReplaceAll(string(b), "/var/run/docker/netns/", "NETNS/")
		s = strings.ReplaceAll(s, "/run/nslab/netns/", "NETNS/")
		return hexID.ReplaceAllString(s, "ID")
	}
	get := func(m map[string]any, path ...string) any {
		var v any = m
		for _, k := range path {
			mm, _ := v.(map[string]any)
			v = mm[k]
		}
		return v
	}
	for name, c := range cs {
		b, err := json.Marshal(d.containerJSON(c))
		if err != nil {
			t.Fatal(err)
		}
		var ours map[string]any
		if err := json.Unmarshal(b, &ours); err != nil {
			t.Fatal(err)
		}
		paths := [][]string{
			{"HostConfig", "NetworkMode"}, {"HostConfig", "PortBindings"}, {"HostConfig", "PublishAllPorts"},
			{"Config", "AttachStdin"}, {"Config", "AttachStdout"}, {"Config", "AttachStderr"}, {"Config", "OpenStdin"}, {"Config", "StdinOnce"},
			{"Config", "ExposedPorts"}, {"NetworkSettings", "SandboxKey"}, {"NetworkSettings", "Ports"},
		}
		for net := range get(docker[name], "NetworkSettings", "Networks").(map[string]any) {
			for _, k := range []string{"IPAMConfig", "Aliases", "DriverOpts", "IPAddress"} {
				paths = append(paths, []string{"NetworkSettings", "Networks", net, k})
			}
		}
		for _, p := range paths {
			if got, want := norm(get(ours, p...)), norm(get(docker[name], p...)); got != want {
				t.Errorf("container %s: .%s is %s, Docker's %s", name, strings.Join(p, "."), got, want)
			}
		}
	}
}
