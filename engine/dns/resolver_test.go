package dns

import (
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// These tests serve on 127.0.0.1 in the test's own namespace: loopback
// sockets only, no configuration changes, so they need no root.

func startResolver(t testing.TB, names Names, upstream []string, forward func() bool) *Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := NewResolver(names, upstream, forward)
	if err := r.Serve(pc, ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func ask(t testing.TB, proto string, port int, name string, qtype uint16, edns bool) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	if edns {
		q.SetEdns0(1232, false)
	}
	c := &dns.Client{Net: proto, Timeout: 5 * time.Second}
	resp, _, err := c.Exchange(q, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)).String())
	if err != nil {
		t.Fatalf("%s %s query for %s: %v", proto, dns.TypeToString[qtype], name, err)
	}
	return resp
}

func answers(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, v.A.String())
		case *dns.PTR:
			out = append(out, v.Ptr)
		}
	}
	sort.Strings(out)
	return out
}

func fixedView(tb *Table, nets ...string) View {
	return View{T: tb, Networks: func() []string { return nets }}
}

func TestLocalAnswers(t *testing.T) {
	tb := NewTable()
	tb.Add("mynet", []string{"db", "database", "3162e0d73cab"}, netip.MustParseAddr("172.18.0.3"))
	tb.Add("mynet", []string{"web", "www"}, netip.MustParseAddr("172.18.0.2"))
	tb.Add("mynet", []string{"replica", "www"}, netip.MustParseAddr("172.18.0.4"))
	tb.Add("other", []string{"secret"}, netip.MustParseAddr("172.19.0.2"))
	r := startResolver(t, fixedView(tb, "mynet"), nil, nil)

	m := ask(t, "udp", r.UDPPort, "db", dns.TypeA, false)
	if got := answers(m); len(got) != 1 || got[0] != "172.18.0.3" || m.Answer[0].Header().Ttl != 600 {
		t.Fatalf("db A = %v (TTL %v), want 172.18.0.3 with TTL 600", got, m.Answer)
	}
	if !m.RecursionAvailable || m.Authoritative {
		t.Errorf("flags: ra=%v aa=%v, want ra=1 aa=0 as Docker sets them", m.RecursionAvailable, m.Authoritative)
	}
	for _, name := range []string{"DATABASE", "3162e0d73cab", "db.mynet", "Db.mynet."} {
		if got := answers(ask(t, "tcp", r.TCPPort, name, dns.TypeA, false)); len(got) != 1 || got[0] != "172.18.0.3" {
			t.Errorf("%s A = %v, want 172.18.0.3", name, got)
		}
	}
	if got := answers(ask(t, "udp", r.UDPPort, "www", dns.TypeA, false)); strings.Join(got, ",") != "172.18.0.2,172.18.0.4" {
		t.Errorf("www A = %v, want both addresses", got)
	}
	if m := ask(t, "udp", r.UDPPort, "db", dns.TypeAAAA, false); m.Rcode != dns.RcodeSuccess || len(m.Answer) != 0 {
		t.Errorf("db AAAA = rcode %s, %d answers; want NOERROR with none (NODATA)", dns.RcodeToString[m.Rcode], len(m.Answer))
	}
	if got := answers(ask(t, "udp", r.UDPPort, "3.0.18.172.in-addr.arpa", dns.TypePTR, false)); len(got) != 1 || got[0] != "db.mynet." {
		t.Errorf("PTR 172.18.0.3 = %v, want db.mynet.", got)
	}
	// A name on a network the container is not on is not answered
	// locally: with no upstream it gets SERVFAIL, never the address.
	if m := ask(t, "udp", r.UDPPort, "secret", dns.TypeA, false); m.Rcode != dns.RcodeServerFailure || len(m.Answer) != 0 {
		t.Errorf("secret (other network) = %s %v, want SERVFAIL and nothing leaked", dns.RcodeToString[m.Rcode], answers(m))
	}
	if m := ask(t, "udp", r.UDPPort, "secret.other", dns.TypeA, false); len(m.Answer) != 0 {
		t.Errorf("secret.other leaked %v", answers(m))
	}
}

func TestRandomOrder(t *testing.T) {
	tb := NewTable()
	for i := 2; i < 10; i++ {
		tb.Add("n", []string{"many"}, netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}))
	}
	r := startResolver(t, fixedView(tb, "n"), nil, nil)
	firsts := map[string]bool{}
	for i := 0; i < 40; i++ {
		m := ask(t, "udp", r.UDPPort, "many", dns.TypeA, false)
		firsts[m.Answer[0].(*dns.A).A.String()] = true
	}
	if len(firsts) < 2 {
		t.Errorf("40 answers all started with the same address: not shuffled")
	}
}

func TestTruncation(t *testing.T) {
	tb := NewTable()
	for i := 0; i < 100; i++ {
		tb.Add("n", []string{"many"}, netip.AddrFrom4([4]byte{10, 0, byte(i / 250), byte(2 + i%250)}))
	}
	r := startResolver(t, fixedView(tb, "n"), nil, nil)
	size := func(m *dns.Msg) int { m.Compress = true; return m.Len() } // as sent on the wire
	m := ask(t, "udp", r.UDPPort, "many", dns.TypeA, false)
	if !m.Truncated || size(m) > 512 {
		t.Errorf("UDP without EDNS: truncated=%v, %d bytes; want TC set and at most 512 bytes", m.Truncated, size(m))
	}
	m = ask(t, "udp", r.UDPPort, "many", dns.TypeA, true)
	if !m.Truncated || size(m) > 1232 {
		t.Errorf("UDP with EDNS 1232: truncated=%v, %d bytes", m.Truncated, size(m))
	}
	m = ask(t, "tcp", r.TCPPort, "many", dns.TypeA, false)
	if m.Truncated || len(m.Answer) != 100 {
		t.Errorf("TCP: truncated=%v, %d answers; want all 100", m.Truncated, len(m.Answer))
	}
}

// fakeUpstream answers every query with rcode, and counts queries.
type fakeUpstream struct {
	mu    sync.Mutex
	rcode int
	seen  int
	addr  string
}

func newUpstream(t *testing.T, rcode int) *fakeUpstream {
	u := &fakeUpstream{rcode: rcode}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = pc.LocalAddr().String()
	s := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		u.mu.Lock()
		u.seen++
		u.mu.Unlock()
		m := new(dns.Msg)
		m.SetRcode(q, u.rcode)
		if u.rcode == dns.RcodeSuccess {
			rr, _ := dns.NewRR(q.Question[0].Name + " 300 IN A 203.0.113.80")
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	})}
	go s.ActivateAndServe()
	t.Cleanup(func() { s.Shutdown() })
	return u
}

func (u *fakeUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.seen
}

func TestForwarding(t *testing.T) {
	servfail := newUpstream(t, dns.RcodeServerFailure)
	refused := newUpstream(t, dns.RcodeRefused)
	good := newUpstream(t, dns.RcodeSuccess)
	nx := newUpstream(t, dns.RcodeNameError)
	unused := newUpstream(t, dns.RcodeSuccess)

	// SERVFAIL and REFUSED move on to the next server.
	r := startResolver(t, fixedView(NewTable()), []string{servfail.addr, refused.addr, good.addr, unused.addr}, nil)
	m := ask(t, "udp", r.UDPPort, "example.com", dns.TypeA, false)
	if got := answers(m); len(got) != 1 || got[0] != "203.0.113.80" {
		t.Fatalf("forwarded answer = %v (%s)", got, dns.RcodeToString[m.Rcode])
	}
	if unused.count() != 0 {
		t.Errorf("a fourth upstream server was queried; Docker uses at most three")
	}
	// NXDOMAIN goes straight back.
	r = startResolver(t, fixedView(NewTable()), []string{nx.addr, good.addr}, nil)
	before := good.count()
	if m := ask(t, "udp", r.UDPPort, "nope.example.com", dns.TypeA, false); m.Rcode != dns.RcodeNameError {
		t.Errorf("rcode %s, want NXDOMAIN from the first server", dns.RcodeToString[m.Rcode])
	}
	if good.count() != before {
		t.Errorf("after NXDOMAIN the next server was asked too")
	}
	// Every server failing gives SERVFAIL.
	r = startResolver(t, fixedView(NewTable()), []string{servfail.addr, refused.addr}, nil)
	if m := ask(t, "tcp", r.TCPPort, "example.com", dns.TypeA, false); m.Rcode != dns.RcodeServerFailure {
		t.Errorf("rcode %s, want SERVFAIL when every server fails", dns.RcodeToString[m.Rcode])
	}
	// A container without outside access gets SERVFAIL without asking.
	before = good.count()
	r = startResolver(t, fixedView(NewTable()), []string{good.addr}, func() bool { return false })
	if m := ask(t, "udp", r.UDPPort, "example.com", dns.TypeA, false); m.Rcode != dns.RcodeServerFailure || good.count() != before {
		t.Errorf("internal-only container: rcode %s, upstream asked %d times", dns.RcodeToString[m.Rcode], good.count()-before)
	}
}

// TestConcurrentChanges runs queries over UDP and TCP while containers
// join and leave the table, under -race. Every answer must be one of the
// addresses that name ever had. The load is bounded: 8 clients, 200
// queries each.
func TestConcurrentChanges(t *testing.T) {
	tb := NewTable()
	tb.Add("n", []string{"stable"}, netip.MustParseAddr("10.0.0.2"))
	r := startResolver(t, fixedView(tb, "n"), nil, nil)
	stop := make(chan struct{})
	var churn, clients sync.WaitGroup
	for w := 0; w < 4; w++ {
		churn.Add(1)
		go func(w int) {
			defer churn.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ip := netip.AddrFrom4([4]byte{10, 0, 1, byte(w*50 + i%50)})
				names := []string{"churn", "c" + strings.ReplaceAll(ip.String(), ".", "-")}
				tb.Add("n", names, ip)
				tb.Remove("n", names, ip)
			}
		}(w)
	}
	for q := 0; q < 8; q++ {
		proto, port := "udp", r.UDPPort
		if q%2 == 1 {
			proto, port = "tcp", r.TCPPort
		}
		clients.Add(1)
		go func() {
			defer clients.Done()
			for i := 0; i < 200; i++ {
				if got := answers(ask(t, proto, port, "stable", dns.TypeA, false)); len(got) != 1 || got[0] != "10.0.0.2" {
					t.Errorf("stable = %v during churn", got)
					return
				}
				m := ask(t, proto, port, "churn", dns.TypeA, false)
				for _, a := range answers(m) {
					if !strings.HasPrefix(a, "10.0.1.") {
						t.Errorf("churn answered %s", a)
					}
				}
			}
		}()
	}
	clients.Wait()
	close(stop)
	churn.Wait()
}

// BenchmarkServeDNS measures the handler alone (no sockets): the cost of a
// local A answer, to separate it from the server's I/O.
func BenchmarkServeDNS(b *testing.B) {
	tb := NewTable()
	tb.Add("mynet", []string{"target"}, netip.MustParseAddr("172.18.0.3"))
	r := NewResolver(fixedView(tb, "mynet"), nil, nil)
	q := new(dns.Msg)
	q.SetQuestion("target.", dns.TypeA)
	w := &capture{udp: true}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		w.out = w.out[:0]
		r.ServeDNS(w, q)
	}
}
