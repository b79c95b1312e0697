package dns

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestTCPConnectionCaps is the attack of issue 16 point 7 in small: another
// process opens far more idle TCP connections to two resolvers than the
// caps allow, while this process's file descriptor limit is a little above
// what it has open. Without the caps the servers accept until the process
// runs out of descriptors, and nothing else in it (the daemon's control
// socket) can accept. With them each server holds at most its cap, the
// total stays under the process-wide cap, a new socket can still be opened
// and accepted on, UDP is still answered, and the idle timeout frees the
// connections the caps let in.
func TestTCPConnectionCaps(t *testing.T) {
	defer func(p int, tot int64, rt time.Duration) {
		maxTCPPerServer, maxTCPTotal, tcpReadTimeout = p, tot, rt
	}(maxTCPPerServer, maxTCPTotal, tcpReadTimeout)
	maxTCPPerServer, maxTCPTotal = 40, 60
	// Long enough for the attack to finish before the first idle
	// connection is dropped, short enough to watch it happen.
	tcpReadTimeout = 3 * time.Second

	tb := NewTable()
	tb.Add("n", []string{"web"}, netip.MustParseAddr("10.0.0.2"))
	r1 := startResolver(t, fixedView(tb, "n"), nil, nil)
	r2 := startResolver(t, fixedView(tb, "n"), nil, nil)

	const perServer = 400 // ten times the cap
	attacker := exec.Command(os.Args[0], "-test.run=^TestAttackHelper$")
	attacker.Env = append(os.Environ(), fmt.Sprintf("NSLAB_DNS_ATTACK=%d:127.0.0.1:%d,127.0.0.1:%d", perServer, r1.TCPPort, r2.TCPPort))
	stdin, err := attacker.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := attacker.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	attacker.Stderr = os.Stderr
	if err := attacker.Start(); err != nil {
		t.Fatalf("start the attacking process: %v", err)
	}
	defer func() { stdin.Close(); attacker.Wait() }()

	// Leave this process room for the total cap and 30 descriptors more
	// from here on; the attack is ten times bigger.
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	low := old
	low.Cur = uint64(len(fds) + int(maxTCPTotal) + 30)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)

	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "connected ") {
		t.Fatalf("attacker: %q, %v", line, err)
	}
	t.Logf("attacker: %s", strings.TrimSpace(line))
	// Readiness: every connection the attacker made has been accepted
	// (and either kept or closed). Bounded: 5 s.
	deadline := time.Now().Add(5 * time.Second)
	for r1.srv.accepted.Load()+r2.srv.accepted.Load() < 2*perServer && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := r1.srv.accepted.Load() + r2.srv.accepted.Load(); got < 2*perServer {
		t.Errorf("the servers accepted %d of %d connections in 5 s: out of file descriptors?", got, 2*perServer)
	}
	n1, n2 := r1.srv.open(), r2.srv.open()
	if n1 > maxTCPPerServer || n2 > maxTCPPerServer || n1+n2 > int(maxTCPTotal) || tcpOpen.Load() > maxTCPTotal {
		t.Errorf("open connections %d and %d (process-wide %d); caps %d per server, %d in total", n1, n2, tcpOpen.Load(), maxTCPPerServer, maxTCPTotal)
	}
	// The process can still open and accept on a new socket, as the
	// daemon's control socket must.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen during the attack: %v", err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("ok"))
			c.Close()
		}
	}()
	if c, err := net.Dial("tcp4", ln.Addr().String()); err != nil {
		t.Errorf("dial a control socket during the attack: %v", err)
	} else {
		buf := make([]byte, 2)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(buf); err != nil || string(buf) != "ok" {
			t.Errorf("control socket during the attack: %q, %v", buf, err)
		}
		c.Close()
	}
	if got := answers(ask(t, "udp", r1.UDPPort, "web", dns.TypeA, false)); len(got) != 1 || got[0] != "10.0.0.2" {
		t.Errorf("UDP during the attack: %v", got)
	}
	// The idle timeout frees the connections that were let in. Bounded:
	// the read timeout plus 3 s.
	deadline = time.Now().Add(tcpReadTimeout + 3*time.Second)
	for r1.srv.open()+r2.srv.open() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n1, n2 := r1.srv.open(), r2.srv.open(); n1+n2 > 0 {
		t.Errorf("%d and %d idle connections still open %v after the read timeout", n1, n2, 3*time.Second)
	}
	// And TCP answers again.
	if got := answers(ask(t, "tcp", r2.TCPPort, "web", dns.TypeA, false)); len(got) != 1 {
		t.Errorf("TCP after the attack: %v", got)
	}
}

// TestAttackHelper is the attacking process of TestTCPConnectionCaps: it
// opens N idle connections to each address, says so, and holds them until
// its stdin closes.
func TestAttackHelper(t *testing.T) {
	spec := os.Getenv("NSLAB_DNS_ATTACK")
	if spec == "" {
		t.Skip("the attacking process of TestTCPConnectionCaps")
	}
	nStr, addrs, _ := strings.Cut(spec, ":")
	n, _ := strconv.Atoi(nStr)
	var conns []net.Conn
	failed := 0
	for _, a := range strings.Split(addrs, ",") {
		for i := 0; i < n; i++ {
			c, err := net.DialTimeout("tcp4", a, 2*time.Second)
			if err != nil {
				failed++
				continue
			}
			conns = append(conns, c)
		}
	}
	fmt.Printf("connected %d, failed %d\n", len(conns), failed)
	bufio.NewReader(os.Stdin).ReadString('\n')
	for _, c := range conns {
		c.Close()
	}
}

// TestTCPIdleMakesRoom: at the per-server cap, a new connection is let in
// by closing the connection that has been idle (answered, and waiting)
// longest, so clients that open a connection per query are never refused
// because the server has not yet read their closes. Connections that have
// asked nothing are not closed for it, and may hold only half the slots
// before new connections are refused rather than push answered ones out.
func TestTCPIdleMakesRoom(t *testing.T) {
	// Restored last, after the resolvers (registered later) have stopped.
	old := maxTCPPerServer
	t.Cleanup(func() { maxTCPPerServer = old })
	maxTCPPerServer = 4

	tb := NewTable()
	tb.Add("n", []string{"web"}, netip.MustParseAddr("10.0.0.2"))
	q := new(dns.Msg)
	q.SetQuestion("web.", dns.TypeA)
	dial := func(port int) *dns.Conn {
		t.Helper()
		c, err := dns.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	exchange := func(c *dns.Conn) error {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if err := c.WriteMsg(q); err != nil {
			return err
		}
		m, err := c.ReadMsg()
		if err == nil && len(answers(m)) != 1 {
			err = fmt.Errorf("answers %v", answers(m))
		}
		return err
	}
	// count returns how many of s's connections are idle and fresh.
	count := func(s *Server) (idle, fresh int) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for tc := range s.conns {
			if tc.idle.Load() > 0 {
				idle++
			}
		}
		return idle, s.nfresh
	}
	// Readiness, bounded (2 s): the server has marked idle connections
	// idle (it does so just after the write the client reads) and seen
	// fresh ones arrive.
	await := func(s *Server, idle, fresh int) {
		t.Helper()
		for i := 0; i < 200; i++ {
			if n, f := count(s); n == idle && f == fresh {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		n, f := count(s)
		t.Fatalf("the server has %d idle and %d fresh connections, want %d and %d", n, f, idle, fresh)
	}
	closedByServer := func(c *dns.Conn) bool {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err := c.Read(make([]byte, 1))
		return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
	}

	// Four connections, each answered once and kept open: the cap.
	r := startResolver(t, fixedView(tb, "n"), nil, nil)
	var idle []*dns.Conn
	for i := 0; i < 4; i++ {
		c := dial(r.TCPPort)
		if err := exchange(c); err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		idle = append(idle, c)
		await(r.srv, i+1, 0)
	}
	// A fifth is answered: the first, idle longest, made room.
	if err := exchange(dial(r.TCPPort)); err != nil {
		t.Fatalf("a new connection at the cap, with idle ones to close: %v", err)
	}
	if !closedByServer(idle[0]) {
		t.Errorf("the connection idle longest is still open; want it closed to make room")
	}
	if err := exchange(idle[3]); err != nil {
		t.Errorf("a connection idle for less time is still served: %v", err)
	}
	if n := r.srv.open(); n > 4 {
		t.Errorf("%d connections open, cap 4", n)
	}

	// Two answered connections and two that ask nothing: the silent ones
	// hold half the slots, so a new connection is refused (closed at
	// once) rather than closing an answered one.
	r2 := startResolver(t, fixedView(tb, "n"), nil, nil)
	var kept []*dns.Conn
	for i := 0; i < 2; i++ {
		c := dial(r2.TCPPort)
		if err := exchange(c); err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		kept = append(kept, c)
	}
	dial(r2.TCPPort)
	dial(r2.TCPPort)
	await(r2.srv, 2, 2)
	if err := exchange(dial(r2.TCPPort)); err == nil {
		t.Errorf("a new connection with half the slots silent was answered; want it refused")
	}
	for i, c := range kept {
		if err := exchange(c); err != nil {
			t.Errorf("answered connection %d after the refusal: %v; want it kept", i, err)
		}
	}
}
