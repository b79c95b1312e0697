package portmap

import (
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for spec, want := range map[string]string{
		"8080:80":               "0.0.0.0:8080->80/tcp",
		"8080:80/udp":           "0.0.0.0:8080->80/udp",
		"127.0.0.1:8080:80/tcp": "127.0.0.1:8080->80/tcp",
		"80":                    "0.0.0.0:0->80/tcp",
		"198.51.100.2::53/udp":  "198.51.100.2:0->53/udp",
	} {
		b, err := Parse(spec)
		if err != nil || b.String() != want {
			t.Errorf("Parse(%q) = %v, %v; want %s", spec, b, err, want)
		}
	}
	for spec, msg := range map[string]string{
		"8080:80/sctp":    `invalid proto "sctp"`,
		"8080:http":       `invalid containerPort "http"`,
		"99999:80":        `invalid hostPort "99999"`,
		"1:2:3:4":         "invalid port format",
		"300.1.1.1:80:80": `invalid IP address "300.1.1.1"`,
		"8000-8010:80":    "does not publish port ranges",
		"0:80":            `invalid hostPort "0"`,
		"8080:0":          `invalid containerPort "0"`,
	} {
		if _, err := Parse(spec); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("Parse(%q) error = %v, want one containing %q", spec, err, msg)
		}
	}
}

func TestAllocator(t *testing.T) {
	a := &Allocator{used: map[string]bool{}, first: 40000, end: 40002}
	b1, _ := Parse("8080:80")
	if _, err := a.Allocate([]Binding{b1}); err != nil {
		t.Fatal(err)
	}
	// The same port on 0.0.0.0, or on a specific address, clashes.
	for _, spec := range []string{"8080:81", "198.51.100.2:8080:80"} {
		b, _ := Parse(spec)
		if err := a.Check([]Binding{b}); err == nil || err.Error() != "Bind for "+b.HostIP.String()+":8080 failed: port is already allocated" {
			t.Errorf("Check(%s) = %v", spec, err)
		}
	}
	// udp is separate.
	u, _ := Parse("8080:80/udp")
	if err := a.Check([]Binding{u}); err != nil {
		t.Errorf("udp 8080 clashed with tcp 8080: %v", err)
	}
	// Automatic ports come from the range, lowest free first, and run out.
	auto, _ := Parse("80")
	got, err := a.Allocate([]Binding{auto, auto})
	if err != nil || got[0].HostPort != 40000 || got[1].HostPort != 40001 {
		t.Fatalf("automatic ports = %v, %v", got, err)
	}
	if _, err := a.Allocate([]Binding{auto, auto}); err == nil {
		t.Errorf("allocated past the end of the range")
	}
	if _, err := a.Allocate([]Binding{auto}); err != nil {
		t.Errorf("a failed allocation leaked ports: %v", err)
	}
	a.Release(got)
	if got, _ := a.Allocate([]Binding{auto}); got[0].HostPort != 40000 {
		t.Errorf("released port not reused: %v", got)
	}
}

// TestProxyTCP runs the proxy on loopback in the test's own namespace.
func TestProxyTCP(t *testing.T) {
	backend, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go func() {
		for {
			c, err := backend.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	bport := uint16(backend.Addr().(*net.TCPAddr).Port)
	p, err := StartProxy(Binding{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), ContainerPort: bport}, netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	addr := p.ln.Addr().String()
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("ping\n"))
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping\n" {
		t.Fatalf("echo through proxy = %q, %v", buf, err)
	}
	c.Close()
	p.Close()
	if _, err := net.Dial("tcp4", addr); err == nil {
		t.Error("proxy still listening after Close")
	}
	if _, err := StartProxy(Binding{Proto: "tcp", HostIP: netip.MustParseAddr("192.0.2.77"), HostPort: 8080, ContainerPort: 80}, netip.MustParseAddr("127.0.0.1")); err == nil || !strings.Contains(err.Error(), "Error starting userland proxy") {
		t.Errorf("proxy on a foreign address: %v", err)
	}
}

// FuzzParse checks that no -p value panics, and that whatever parses
// renders back to a binding with the same ports.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"8080:80", "80", "127.0.0.1:8080:80/udp", "::80", "1:2:3:4", "80/", "/tcp", "8000-8010:80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		b, err := Parse(spec)
		if err != nil {
			return
		}
		if b.ContainerPort == 0 || (b.Proto != "tcp" && b.Proto != "udp") || !b.HostIP.Is4() {
			t.Fatalf("Parse(%q) = %+v without an error", spec, b)
		}
	})
}
