package dns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
	"github.com/nslab/nslab/engine/netns"
)

// rootServers is the root NS set, which `dig -c db` (an invalid class, so dig
// asks for "." NS) shows in the notes.
var rootServers = []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m"}

// UpstreamZone is the data the outside's DNS server serves. Names outside
// it get NXDOMAIN.
type UpstreamZone map[string][]dns.RR

// DefaultUpstreamZone returns the outside's names: example.com and its web
// server, and big.example.com with enough addresses (100) that the answer
// exceeds both 512 bytes and dig's default EDNS size (1232), so it must
// come over TCP.
func DefaultUpstreamZone(web netip.Addr) UpstreamZone {
	z := UpstreamZone{}
	add := func(s string) {
		rr, err := dns.NewRR(s)
		if err != nil {
			panic(err)
		}
		name := strings.ToLower(rr.Header().Name)
		z[name] = append(z[name], rr)
	}
	for _, l := range rootServers {
		add(fmt.Sprintf(". 518400 IN NS %s.root-servers.net.", l))
	}
	add(fmt.Sprintf("example.com. 300 IN A %s", web))
	add("www.example.com. 300 IN CNAME example.com.")
	for i := 0; i < 100; i++ {
		add(fmt.Sprintf("big.example.com. 300 IN A 198.18.0.%d", 1+i))
	}
	return z
}

// answer answers q from the zone, at once (the zone is in memory).
func (z UpstreamZone) answer(q *dns.Msg, udp bool) (*dns.Msg, bool) {
	m := new(dns.Msg)
	if len(q.Question) != 1 || q.Opcode != dns.OpcodeQuery {
		m.SetRcode(q, dns.RcodeFormatError)
		return m, false
	}
	m.SetReply(q)
	m.RecursionAvailable = true
	qq := q.Question[0]
	name := strings.ToLower(qq.Name)
	rrs, ok := z[name]
	if !ok {
		m.Rcode = dns.RcodeNameError
	}
	for _, rr := range rrs {
		t := rr.Header().Rrtype
		if t == qq.Qtype || qq.Qtype == dns.TypeANY || t == dns.TypeCNAME {
			m.Answer = append(m.Answer, dns.Copy(rr))
			if c, ok := rr.(*dns.CNAME); ok && qq.Qtype != dns.TypeCNAME {
				for _, rr2 := range z[strings.ToLower(c.Target)] {
					if rr2.Header().Rrtype == qq.Qtype {
						m.Answer = append(m.Answer, dns.Copy(rr2))
					}
				}
			}
		}
	}
	if opt := q.IsEdns0(); opt != nil {
		m.SetEdns0(opt.UDPSize(), false)
	}
	truncate(udp, q, m)
	return m, false
}

func (z UpstreamZone) slowAnswer(q *dns.Msg, udp bool) *dns.Msg {
	m, _ := z.answer(q, udp)
	return m
}

// truncate cuts a UDP answer to 512 bytes, or to the client's EDNS size,
// setting TC so the client retries over TCP.
func truncate(udp bool, q, m *dns.Msg) {
	if !udp {
		return
	}
	size := dns.MinMsgSize
	if opt := q.IsEdns0(); opt != nil && int(opt.UDPSize()) > size {
		size = int(opt.UDPSize())
	}
	m.Truncate(size)
}

// listenIn opens UDP and TCP sockets on hostport inside the network
// namespace pinned at nsPath. They stay in that namespace and may be served
// from any goroutine.
func listenIn(nsPath, hostport string) (net.PacketConn, net.Listener, error) {
	var pc net.PacketConn
	var ln net.Listener
	err := netns.Do(nsPath, func() (err error) {
		if pc, err = net.ListenPacket("udp4", hostport); err != nil {
			return err
		}
		// No TCP keepalive on accepted connections: the idle timeout
		// closes them long before a keepalive would fire, and setting it
		// costs four setsockopt calls per connection.
		lc := net.ListenConfig{KeepAlive: -1}
		if ln, err = lc.Listen(context.Background(), "tcp4", hostport); err != nil {
			pc.Close()
		}
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s in %s: %w", hostport, nsPath, err)
	}
	return pc, ln, nil
}

// ListenInNetNS serves z on UDP and TCP port 53 of addr inside the network
// namespace pinned at nsPath, until Close.
func ListenInNetNS(nsPath string, addr netip.Addr, z UpstreamZone) (*Server, error) {
	pc, ln, err := listenIn(nsPath, netip.AddrPortFrom(addr, 53).String())
	if err != nil {
		return nil, err
	}
	return serve(pc, ln, z)
}
