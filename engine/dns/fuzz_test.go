package dns

import (
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// capture is a dns.ResponseWriter that keeps what the handler wrote.
type capture struct {
	udp bool
	out []*dns.Msg
}

func (c *capture) LocalAddr() net.Addr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 11), Port: 53} }
func (c *capture) RemoteAddr() net.Addr {
	if c.udp {
		return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	}
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
func (c *capture) WriteMsg(m *dns.Msg) error {
	c.out = append(c.out, m.Copy())
	return nil
}
func (c *capture) Write(b []byte) (int, error) { return len(b), nil }
func (c *capture) Close() error                { return nil }
func (c *capture) TsigStatus() error           { return nil }
func (c *capture) TsigTimersOnly(bool)         {}
func (c *capture) Hijack()                     {}

// FuzzResolver feeds arbitrary bytes to the embedded DNS handler, as they
// would arrive on 127.0.0.11. It must never panic; it either drops the
// packet (as Docker does with a malformed query) or writes one well-formed
// answer with the query's ID. Forwarding is off, so no packet is sent.
func FuzzResolver(f *testing.F) {
	for _, seed := range []struct {
		name  string
		qtype uint16
	}{
		{"db.", dns.TypeA}, {"db.mynet.", dns.TypeAAAA}, {"3.0.18.172.in-addr.arpa.", dns.TypePTR},
		{".", dns.TypeNS}, {"many.", dns.TypeA}, {"example.com.", dns.TypeMX},
	} {
		q := new(dns.Msg)
		q.SetQuestion(seed.name, seed.qtype)
		b, _ := q.Pack()
		f.Add(b, true)
	}
	tb := NewTable()
	tb.Add("mynet", []string{"db", "3162e0d73cab"}, netip.MustParseAddr("172.18.0.3"))
	for i := 0; i < 60; i++ {
		tb.Add("mynet", []string{"many"}, netip.AddrFrom4([4]byte{172, 18, 1, byte(i)}))
	}
	r := NewResolver(fixedView(tb, "mynet"), nil, func() bool { return false })
	f.Fuzz(func(t *testing.T, b []byte, udp bool) {
		q := new(dns.Msg)
		if err := q.Unpack(b); err != nil {
			return // the server drops what does not parse
		}
		w := &capture{udp: udp}
		r.ServeDNS(w, q)
		if len(w.out) > 1 {
			t.Fatalf("%d answers to one query", len(w.out))
		}
		if len(w.out) == 0 {
			return
		}
		m := w.out[0]
		if m.Id != q.Id || !m.Response {
			t.Fatalf("answer id %d response=%v for query id %d", m.Id, m.Response, q.Id)
		}
		wire, err := m.Pack()
		if err != nil {
			t.Fatalf("answer does not pack: %v\n%v", err, m)
		}
		if udp && len(wire) > 512 && q.IsEdns0() == nil {
			t.Fatalf("UDP answer of %d bytes to a query without EDNS", len(wire))
		}
		if err := new(dns.Msg).Unpack(wire); err != nil {
			t.Fatalf("answer does not parse back: %v", err)
		}
	})
}
