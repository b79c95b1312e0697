package dns

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestUDPBurst sends more datagrams at once than the read loop takes in one
// recvmmsg, mixing local names, a forwarded one, datagrams to ignore and one
// too long to read whole. Each query must get exactly its own answer, by
// ID, to its own sender, and nothing else may come back.
func TestUDPBurst(t *testing.T) {
	good := newUpstream(t, dns.RcodeSuccess)
	tb := NewTable()
	tb.Add("mynet", []string{"db"}, netip.MustParseAddr("172.18.0.3"))
	r := startResolver(t, fixedView(tb, "mynet"), []string{good.addr}, nil)
	// Two senders, so that an answer sent to the wrong one shows.
	var conns [2]*net.UDPConn
	for i := range conns {
		c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: r.UDPPort})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	pack := func(id uint16, name string, pad int) []byte {
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		q.Id = id
		if pad > 0 {
			q.SetEdns0(1232, false)
			opt := q.IsEdns0()
			opt.Option = append(opt.Option, &dns.EDNS0_PADDING{Padding: make([]byte, pad)})
		}
		b, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	want := [2]map[uint16]string{{}, {}} // per sender, ID → the answer's rcode and first address
	for id := uint16(1); id <= 3*udpBatchSize; id++ {
		c := conns[id%2]
		name, answer := "db.", "NOERROR 172.18.0.3"
		if id%5 == 0 {
			name, answer = "example.com.", "NOERROR 203.0.113.80" // forwarded, answered from a goroutine
		}
		want[id%2][id] = answer
		if _, err := c.Write(pack(id, name, 0)); err != nil {
			t.Fatal(err)
		}
		switch id % 7 {
		case 1: // too short for a header: no answer
			c.Write([]byte{0, 1, 2})
		case 2: // a response, not a query: no answer
			resp := pack(1000+id, "db.", 0)
			resp[2] |= 0x80
			c.Write(resp)
		}
	}
	// A valid query longer than the 512 bytes read, as miekg/dns's server
	// (and so Docker's) reads: it arrives cut short and gets FORMERR.
	long := pack(500, "db.", 600)
	if len(long) <= udpQuerySize {
		t.Fatalf("the long query is %d bytes", len(long))
	}
	conns[0].Write(long)
	want[0][500] = "FORMERR"
	buf := make([]byte, 4096)
	for i, c := range conns {
		readAnswers(t, c, want[i], buf)
	}
}

// readAnswers reads from c the answers want lists, checks them, and checks
// that nothing else comes.
func readAnswers(t *testing.T, c *net.UDPConn, want map[uint16]string, buf []byte) {
	t.Helper()
	got := map[uint16]string{}
	for len(got) < len(want) {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("after %d of %d answers: %v", len(got), len(want), err)
		}
		m := new(dns.Msg)
		if err := m.Unpack(buf[:n]); err != nil {
			t.Fatalf("an answer does not parse: %v", err)
		}
		s := dns.RcodeToString[m.Rcode]
		if len(m.Answer) > 0 {
			s += " " + m.Answer[0].(*dns.A).A.String()
		}
		if _, dup := got[m.Id]; dup {
			t.Fatalf("two answers to query %d", m.Id)
		}
		got[m.Id] = s
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("query %d: answer %q, want %q", id, got[id], w)
		}
	}
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := c.Read(buf); err == nil {
		t.Errorf("an answer nobody asked for: %d bytes", n)
	}
}

// TestTCPPipelined writes two queries in one segment, then a third split
// across writes, the way RFC 7766 lets a client pipeline: each gets its
// answer, in order, on the one connection.
func TestTCPPipelined(t *testing.T) {
	tb := NewTable()
	tb.Add("mynet", []string{"db"}, netip.MustParseAddr("172.18.0.3"))
	tb.Add("mynet", []string{"web"}, netip.MustParseAddr("172.18.0.2"))
	r := startResolver(t, fixedView(tb, "mynet"), nil, nil)
	c, err := net.Dial("tcp4", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(r.TCPPort)).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	frame := func(id uint16, name string) []byte {
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		q.Id = id
		b, _ := q.Pack()
		return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
	}
	c.Write(append(frame(1, "db."), frame(2, "web.")...))
	third := frame(3, "db.")
	c.Write(third[:1])
	c.Write(third[1:7])
	c.Write(third[7:])
	dc := &dns.Conn{Conn: c}
	for _, w := range []struct {
		id   uint16
		addr string
	}{{1, "172.18.0.3"}, {2, "172.18.0.2"}, {3, "172.18.0.3"}} {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		m, err := dc.ReadMsg()
		if err != nil {
			t.Fatalf("answer %d: %v", w.id, err)
		}
		if got := answers(m); m.Id != w.id || len(got) != 1 || got[0] != w.addr {
			t.Errorf("answer %d: id %d, %v; want %s", w.id, m.Id, got, w.addr)
		}
	}
}
