package portmap

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
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
	// 0 as the host port means "pick one", as in Docker.
	if b, err := Parse("0:80"); err != nil || b.HostPort != 0 {
		t.Errorf("Parse(0:80) = %v, %v", b, err)
	}
	// Docker's messages (go-connections' nat.ParsePortSpec), exactly;
	// nslab's own limits say so after Docker's words.
	for spec, msg := range map[string]string{
		"8080:80/sctpx":   "invalid proto: sctpx",
		"8080:80/sctp":    "invalid proto: sctp: nslab publishes tcp and udp only",
		"8080:abc":        "invalid containerPort: abc",
		"99999:80":        "invalid hostPort: 99999",
		"1:2:3:4":         "invalid IP address: 1:2",
		"300.1.1.1:80:80": "invalid IP address: 300.1.1.1",
		"[::1]:80:80":     "invalid IP address: ::1: nslab publishes on IPv4 addresses only",
		"8000-8010:80":    "invalid hostPort: 8000-8010: nslab does not publish port ranges",
		"8080:0":          "invalid containerPort: 0",
		"8080:":           "no port specified: 8080:<empty>",
	} {
		if _, err := Parse(spec); err == nil || err.Error() != msg {
			t.Errorf("Parse(%q) error = %v, want %q", spec, err, msg)
		}
	}
	for spec, msg := range map[string]string{
		"80:90": "invalid port format for --expose: 80:90",
		"abc":   "invalid range format for --expose: abc, error: invalid containerPort: abc",
	} {
		if _, err := ParseExposed(spec); err == nil || err.Error() != msg {
			t.Errorf("ParseExposed(%q) error = %v, want %q", spec, err, msg)
		}
	}
}

func TestAllocator(t *testing.T) {
	a := &Allocator{used: map[string]bool{}, first: 40000, end: 40002}
	b1, _ := Parse("8080:80")
	if _, err := a.Allocate([]Binding{b1}); err != nil {
		t.Fatal(err)
	}
	// The same port on the same address clashes, with Docker's message.
	b2, _ := Parse("8080:81")
	if err := a.Check([]Binding{b2}); err == nil || err.Error() != "Bind for 0.0.0.0:8080 failed: port is already allocated" {
		t.Errorf("Check(8080:81) = %v", err)
	}
	// Another address is another entry, as in Docker's allocator: the
	// clash with 0.0.0.0 comes from the proxy's bind instead.
	b3, _ := Parse("198.51.100.2:8080:80")
	if err := a.Check([]Binding{b3}); err != nil {
		t.Errorf("Check(198.51.100.2:8080:80) = %v, want it left to the proxy's bind", err)
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
	got, _ = a.Allocate([]Binding{auto})
	if got[0].HostPort != 40000 {
		t.Errorf("released port not reused: %v", got)
	}
	// Automatic ports avoid a port taken on any address.
	a.Release(got)
	busy, _ := Parse("127.0.0.1:40000:80")
	if _, err := a.Allocate([]Binding{busy}); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Allocate([]Binding{auto}); got[0].HostPort != 40001 {
		t.Errorf("automatic port %v collides with 127.0.0.1:40000", got)
	}
}

// TestMain lets the test binary serve as docker-proxy, as nslab's binary
// does: the proxy tests run it through a link of that name.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == ProxyName {
		os.Exit(ProxyMain(os.Args[1:], os.NewFile(3, "signal-parent"), os.Stderr))
	}
	if link := os.Getenv("NSLAB_TEST_FAKE_DAEMON"); link != "" {
		fakeDaemon(link)
	}
	os.Exit(m.Run())
}

// fakeBinding is the binding the fake daemon's proxy serves.
var fakeBinding = Binding{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 0, ContainerPort: 9}

// fakeDaemon stands in for the daemon: it starts a proxy, prints its pid
// and waits to be killed.
func fakeDaemon(link string) {
	p, err := StartProxy(link, fakeBinding, netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println(p.Pid())
	select {}
}

// TestProxyOutlivesDaemon kills a process that started a proxy: the proxy
// must live on (live-restore: the restarted daemon adopts it, so published
// ports keep forwarding), AdoptProxy must take it by pid only for its own
// binding, and Close must end the adopted proxy.
func TestProxyOutlivesDaemon(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "NSLAB_TEST_FAKE_DAEMON="+proxyLink(t))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	pid, err2 := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || err2 != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("fake daemon said %q, %v", line, err)
	}
	stat := fmt.Sprintf("/proc/%d/stat", pid)
	if b, _ := os.ReadFile(stat); !strings.Contains(string(b), "("+ProxyName+")") {
		t.Fatalf("pid %d is not a proxy: %q", pid, b)
	}
	defer syscall.Kill(pid, syscall.SIGKILL) // if the test fails before Close
	cmd.Process.Kill()
	cmd.Wait()
	alive := func() bool {
		b, err := os.ReadFile(stat)
		return err == nil && strings.Contains(string(b), "("+ProxyName+")") && !strings.Contains(string(b), ") Z ")
	}
	if !alive() {
		t.Fatalf("proxy %d died with its daemon", pid)
	}
	b := fakeBinding
	other := b
	other.ContainerPort = 10
	if _, err := AdoptProxy(pid, other, netip.MustParseAddr("127.0.0.1")); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("pid %d is not the docker-proxy for", pid)) {
		t.Errorf("AdoptProxy for another binding: %v", err)
	}
	p, err := AdoptProxy(pid, b, netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Pid() != pid {
		t.Errorf("adopted proxy's pid is %d, not %d", p.Pid(), pid)
	}
	p.Close()
	for i := 0; alive(); i++ {
		if i == 200 {
			t.Fatalf("adopted proxy %d still runs after Close", pid)
		}
		time.Sleep(10 * time.Millisecond) // bounded: 2 s
	}
}

func proxyLink(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), ProxyName)
	if err := os.Symlink(exe, link); err != nil {
		t.Fatal(err)
	}
	return link
}

func freePort(t *testing.T) uint16 {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// TestProxyTCP runs a docker-proxy process on loopback in the test's own
// namespace: Docker's argv and process name, readiness before StartProxy
// returns, relaying, and the listener gone after Close.
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
	link := proxyLink(t)
	bport := uint16(backend.Addr().(*net.TCPAddr).Port)
	hport := freePort(t)
	b := Binding{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: hport, ContainerPort: bport}
	p, err := StartProxy(link, b, netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.Pid()))
	want := fmt.Sprintf("%s -proto tcp -host-ip 127.0.0.1 -host-port %d -container-ip 127.0.0.1 -container-port %d", link, hport, bport)
	if got := strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " ")); got != want {
		t.Errorf("proxy argv = %q, want Docker's %q", got, want)
	}
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.Pid())); string(comm) != ProxyName+"\n" {
		t.Errorf("proxy process name = %q, want %s", comm, ProxyName)
	}
	// StartProxy returned, so the proxy already listens: no retry needed.
	addr := netip.AddrPortFrom(b.HostIP, hport).String()
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

	// A second proxy on the same port fails in its bind, as Docker's does.
	if _, err := StartProxy(link, b, netip.MustParseAddr("127.0.0.1")); err == nil ||
		err.Error() != fmt.Sprintf("Error starting userland proxy: listen tcp4 %s: bind: address already in use", addr) {
		t.Errorf("second proxy on %s: %v", addr, err)
	}
	p.Close()
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", p.Pid())); err == nil {
		t.Error("proxy process still there after Close")
	}
	if _, err := net.Dial("tcp4", addr); err == nil {
		t.Error("proxy still listening after Close")
	}
	if _, err := StartProxy(link, Binding{Proto: "tcp", HostIP: netip.MustParseAddr("192.0.2.77"), HostPort: 8080, ContainerPort: 80}, netip.MustParseAddr("127.0.0.1")); err == nil ||
		err.Error() != "Error starting userland proxy: listen tcp4 192.0.2.77:8080: bind: cannot assign requested address" {
		t.Errorf("proxy on a foreign address: %v", err)
	}
}

// TestProxyUDP relays a datagram both ways through a docker-proxy process.
func TestProxyUDP(t *testing.T) {
	backend, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go func() {
		buf := make([]byte, 100)
		for {
			n, from, err := backend.ReadFrom(buf)
			if err != nil {
				return
			}
			backend.WriteTo(buf[:n], from)
		}
	}()
	hport := freePort(t)
	b := Binding{Proto: "udp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: hport, ContainerPort: uint16(backend.LocalAddr().(*net.UDPAddr).Port)}
	p, err := StartProxy(proxyLink(t), b, netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("udp4", netip.AddrPortFrom(b.HostIP, hport).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("ping"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 10)
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("udp echo through proxy = %q, %v", buf[:n], err)
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

// TestStartProxies starts a container's proxies side by side; when one
// cannot bind, the error is its own and the others are stopped.
func TestStartProxies(t *testing.T) {
	link := proxyLink(t)
	lo := netip.MustParseAddr("127.0.0.1")
	ok := Binding{Proto: "tcp", HostIP: lo, HostPort: freePort(t), ContainerPort: 80}
	bad := Binding{Proto: "tcp", HostIP: netip.MustParseAddr("192.0.2.77"), HostPort: 8080, ContainerPort: 80}
	ps, err := StartProxies(link, []Binding{ok, ok, bad}, lo)
	if err == nil || ps != nil {
		t.Fatalf("StartProxies with a foreign address = %v, %v", ps, err)
	}
	// Two proxies on one port: one of them fails in its bind, and the
	// error says which address.
	if !strings.Contains(err.Error(), "bind: address already in use") && !strings.Contains(err.Error(), "192.0.2.77:8080") {
		t.Errorf("error = %v", err)
	}
	// The proxy that did start is gone: the port is free again.
	l, err := net.Listen("tcp4", ok.HostAddr())
	if err != nil {
		t.Fatalf("port of the stopped proxy still taken: %v", err)
	}
	l.Close()
	ps, err = StartProxies(link, []Binding{ok, {Proto: "udp", HostIP: lo, HostPort: ok.HostPort, ContainerPort: 53}}, lo)
	if err != nil || len(ps) != 2 {
		t.Fatalf("StartProxies = %v, %v", ps, err)
	}
	for _, p := range ps {
		p.Close()
	}
}

// BenchmarkStartProxy is what one binding's docker-proxy costs the daemon:
// fork/exec, the runtime's start, the bind and the readiness report, then
// the stop (SIGINT and wait).
//
//	go test -run '^$' -bench StartProxy -benchtime 100x ./engine/portmap/
func BenchmarkStartProxy(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	link := filepath.Join(b.TempDir(), ProxyName)
	if err := os.Symlink(exe, link); err != nil {
		b.Fatal(err)
	}
	lo := netip.MustParseAddr("127.0.0.1")
	bd := Binding{Proto: "tcp", HostIP: lo, ContainerPort: 80}
	var start, stop time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		p, err := StartProxy(link, bd, lo)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		p.Close()
		start += t1.Sub(t0)
		stop += time.Since(t1)
	}
	b.ReportMetric(float64(start.Microseconds())/float64(b.N)/1000, "start-ms")
	b.ReportMetric(float64(stop.Microseconds())/float64(b.N)/1000, "stop-ms")
}
