package dns

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// ResolverIP is where containers on user-defined networks send queries.
const ResolverIP = "127.0.0.11"

// Docker's resolver constants, as libnetwork's resolver.go sets them: a
// 600 s TTL on local answers, at most 3 upstream servers tried, 4 s per
// upstream query, and 1,024 forwarded queries in flight.
const (
	TTL            = 600
	maxUpstream    = 3
	upstreamTimout = 4 * time.Second
	maxConcurrent  = 1024
)

// Names is one container's view of the local names.
type Names interface {
	LookupName(qname string) (addrs []netip.Addr, known bool)
	LookupAddr(ip netip.Addr) (ptr string, ok bool)
}

// View is a container's window on a Table: the networks it is attached to,
// as a function so that connect and disconnect take effect at once.
type View struct {
	T        *Table
	Networks func() []string
}

// LookupName implements Names.
func (v View) LookupName(q string) ([]netip.Addr, bool) { return v.T.Lookup(v.Networks(), q) }

// LookupAddr implements Names.
func (v View) LookupAddr(ip netip.Addr) (string, bool) { return v.T.Reverse(v.Networks(), ip) }

// Resolver is the embedded DNS server of one container: it answers the
// container's names itself and forwards everything else to the lab host's
// upstream servers, as Docker's 127.0.0.11 does.
type Resolver struct {
	names    Names
	upstream []string
	// Forward reports whether the container may reach outside DNS; a
	// container only on internal networks may not, and gets SERVFAIL.
	forward func() bool
	sem     chan struct{}

	srv              *Server
	UDPPort, TCPPort int
}

// NewResolver returns a resolver. At most three upstream servers are used.
func NewResolver(names Names, upstream []string, forward func() bool) *Resolver {
	if len(upstream) > maxUpstream {
		upstream = upstream[:maxUpstream]
	}
	if forward == nil {
		forward = func() bool { return true }
	}
	return &Resolver{names: names, upstream: upstream, forward: forward, sem: make(chan struct{}, maxConcurrent)}
}

// StartIn opens the resolver's sockets inside the network namespace at
// nsPath, on 127.0.0.11 and two random ports (UDP and TCP), and serves
// them from the calling process.
func (r *Resolver) StartIn(nsPath string) error {
	pc, ln, err := listenIn(nsPath, ResolverIP+":0")
	if err != nil {
		return fmt.Errorf("embedded DNS: %w", err)
	}
	if err := r.Serve(pc, ln); err != nil {
		return fmt.Errorf("embedded DNS: %w", err)
	}
	return nil
}

// Serve serves already open sockets; on error it closes them.
func (r *Resolver) Serve(pc net.PacketConn, ln net.Listener) error {
	r.UDPPort = pc.LocalAddr().(*net.UDPAddr).Port
	r.TCPPort = ln.Addr().(*net.TCPAddr).Port
	srv, err := serve(pc, ln, r)
	r.srv = srv
	return err
}

// Close stops the resolver (Server.Close).
func (r *Resolver) Close() {
	if r.srv != nil {
		r.srv.Close()
	}
}

// ServeDNS answers one query through w, as a dns.Handler; the Server
// calls answer and slowAnswer directly. A message without exactly one
// question, a response, or another opcode is dropped without an answer.
func (r *Resolver) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	udp := isUDP(w)
	resp, slow := r.answer(q, udp)
	if slow {
		resp = r.slowAnswer(q, udp)
	}
	if resp != nil {
		w.WriteMsg(resp)
	}
}

// answer answers a local name at once; any other query is slow: it is
// forwarded upstream by slowAnswer.
func (r *Resolver) answer(q *dns.Msg, udp bool) (*dns.Msg, bool) {
	if q == nil || len(q.Question) != 1 || q.Response || q.Opcode != dns.OpcodeQuery {
		return nil, false
	}
	if resp := r.local(q); resp != nil {
		truncate(udp, q, resp)
		return resp, false
	}
	return nil, true
}

// slowAnswer forwards q upstream (forwardQuery).
func (r *Resolver) slowAnswer(q *dns.Msg, udp bool) *dns.Msg { return r.forwardQuery(q, udp) }

// local answers from the container's networks, or returns nil.
func (r *Resolver) local(q *dns.Msg) *dns.Msg {
	qq := q.Question[0]
	if qq.Qclass != dns.ClassINET {
		return nil
	}
	reply := func(rrs ...dns.RR) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(q)
		m.RecursionAvailable = true
		m.Authoritative = false
		m.Answer = rrs
		return m
	}
	switch qq.Qtype {
	case dns.TypeA, dns.TypeAAAA, dns.TypeMX:
		addrs, known := r.names.LookupName(qq.Name)
		if !known {
			return nil
		}
		if qq.Qtype != dns.TypeA {
			// AAAA on an IPv4-only network, or MX: the name exists,
			// with nothing of that type (NODATA).
			return reply()
		}
		rand.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
		rrs := make([]dns.RR, len(addrs))
		for i, a := range addrs {
			rrs[i] = &dns.A{Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: TTL}, A: a.AsSlice()}
		}
		return reply(rrs...)
	case dns.TypePTR:
		ip, ok := ptrAddr(qq.Name)
		if !ok {
			return nil
		}
		name, ok := r.names.LookupAddr(ip)
		if !ok {
			return nil
		}
		return reply(&dns.PTR{Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: TTL}, Ptr: name})
	}
	return nil
}

// forwardQuery sends the query, verbatim and over the client's protocol, to
// each upstream server in turn. SERVFAIL, REFUSED or no answer moves on to
// the next; any other answer, NXDOMAIN included, goes back to the client.
// When every server fails the answer is SERVFAIL.
func (r *Resolver) forwardQuery(q *dns.Msg, udp bool) *dns.Msg {
	fail := func(rcode int) *dns.Msg {
		m := new(dns.Msg)
		m.SetRcode(q, rcode)
		m.RecursionAvailable = true
		return m
	}
	if !r.forward() || len(r.upstream) == 0 {
		return fail(dns.RcodeServerFailure)
	}
	select {
	case r.sem <- struct{}{}:
		defer func() { <-r.sem }()
	case <-time.After(upstreamTimout):
		return fail(dns.RcodeRefused)
	}
	proto := "tcp"
	if udp {
		proto = "udp"
	}
	c := &dns.Client{Net: proto, Timeout: upstreamTimout, UDPSize: dns.MaxMsgSize}
	for _, up := range r.upstream {
		resp, _, err := c.Exchange(q, up)
		if err != nil || resp.Rcode == dns.RcodeServerFailure || resp.Rcode == dns.RcodeRefused {
			continue
		}
		resp.Id = q.Id
		resp.Compress = true
		return resp
	}
	return fail(dns.RcodeServerFailure)
}

func isUDP(w dns.ResponseWriter) bool {
	_, ok := w.RemoteAddr().(*net.UDPAddr)
	return ok
}

// ptrAddr parses "d.c.b.a.in-addr.arpa.".
func ptrAddr(name string) (netip.Addr, bool) {
	s, ok := strings.CutSuffix(strings.ToLower(name), ".in-addr.arpa.")
	if !ok {
		return netip.Addr{}, false
	}
	p := strings.Split(s, ".")
	if len(p) != 4 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(p[3] + "." + p[2] + "." + p[1] + "." + p[0])
	return a, err == nil && a.Is4()
}
