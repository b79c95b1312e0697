package dns

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// The limits on TCP connections. A container can open connections to
// 127.0.0.11 faster than anything closes them; without a cap every idle
// connection holds one of the daemon's file descriptors and a goroutine,
// and 21,000 of them once left the daemon unable to accept on its control
// socket. A connection over either cap is accepted and closed at once, so
// the client sees the refusal instead of hanging in the listen backlog.
// They are variables so that tests can lower them.
var (
	// maxTCPPerServer caps one server's (one container's) open
	// connections, so one container cannot use up the total.
	maxTCPPerServer = 64
	// maxTCPTotal caps open connections over every server in the process,
	// well below the daemon's file descriptor limit.
	maxTCPTotal int64 = 1024
	// The timeouts miekg/dns, and so Docker's resolver, use: 2 s for the
	// first query on a connection and for writes, 8 s idle between queries.
	tcpReadTimeout  = 2 * time.Second
	tcpIdleTimeout  = 8 * time.Second
	tcpWriteTimeout = 2 * time.Second
)

// The UDP loop's buffers. It reads up to udpBatchSize datagrams with one
// recvmmsg and sends their answers with one sendmmsg. A query is read into
// udpQuerySize bytes, as miekg/dns's server (and so Docker's resolver)
// reads 512: a longer one arrives cut short, does not parse, and gets
// FORMERR. An answer is packed into a slot of udpAnswerSize bytes, or, when
// larger (EDNS), into a buffer of its own. 8 KiB per server in all, the
// same as the one-datagram loop it replaced.
const (
	udpBatchSize  = 8
	udpQuerySize  = 512
	udpAnswerSize = 512
)

// tcpOpen counts open TCP connections over every Server in the process.
var tcpOpen atomic.Int64

// tcpConn is a TCP connection a Server holds.
type tcpConn struct {
	c *net.TCPConn
	// idle is when the connection's last answer was written (Unix
	// nanoseconds): it waits for another query, or for the client's
	// close, which it has not read yet. It is 0 while the connection
	// waits for its first query or reads or answers one, and evicted
	// once the server has closed it to make room (evictIdleLocked).
	idle atomic.Int64
	// fresh: no query has arrived on it yet. Guarded by the Server's mu.
	fresh bool
}

// evicted marks a tcpConn the server closed to make room for a new one.
const evicted = -1

// answerer is what a Server serves. answer must not block: it returns the
// reply to q, nil to send nothing, or slow=true when the reply needs work
// that may block (forwarding upstream), which slowAnswer then does on
// another goroutine.
type answerer interface {
	answer(q *dns.Msg, udp bool) (resp *dns.Msg, slow bool)
	slowAnswer(q *dns.Msg, udp bool) *dns.Msg
}

// Server serves an answerer on one UDP socket and one TCP listener. See the
// package comment for why it reads and answers UDP inline.
type Server struct {
	a   answerer
	udp *net.UDPConn
	tcp *net.TCPListener

	// slow bounds the goroutines answering slow UDP queries; a query
	// over the bound gets REFUSED at once.
	slow chan struct{}

	mu     sync.Mutex
	conns  map[*tcpConn]struct{}
	closed bool
	nconns int // len(conns)
	nfresh int // how many of conns are fresh

	accepted atomic.Int64 // connections accepted, kept or not (tests)
	wg       sync.WaitGroup
}

// serve starts serving a on pc and ln. pc must be a *net.UDPConn and ln a
// *net.TCPListener. On error both are closed.
func serve(pc net.PacketConn, ln net.Listener, a answerer) (*Server, error) {
	s := &Server{a: a, udp: pc.(*net.UDPConn), tcp: ln.(*net.TCPListener),
		slow: make(chan struct{}, maxConcurrent), conns: map[*tcpConn]struct{}{}}
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	return s, nil
}

// Close closes the sockets and every TCP connection. It waits at most
// 200 ms for queries in flight (a forwarded one can take seconds), so a
// container's removal never stalls the daemon.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	for tc := range s.conns {
		tc.c.Close()
	}
	s.mu.Unlock()
	s.udp.Close()
	s.tcp.Close()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(200 * time.Millisecond):
	}
}

// serveUDP is the UDP read loop: one goroutine per socket that reads the
// datagrams waiting, up to udpBatchSize at once, parses each and, for a local
// name, packs its answer; then it sends the answers together, before
// reading again. Only slow queries leave the loop.
func (s *Server) serveUDP() {
	defer s.wg.Done()
	b, err := newUDPBatch(s.udp)
	if err != nil {
		return // not a socket: serve has nothing to read
	}
	for {
		n, err := b.readBatch()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		for i := range n {
			if resp := s.answerUDP(b.query(i), func() net.Addr { return b.from(i) }); resp != nil {
				if a, err := resp.PackBuffer(b.slot()); err == nil {
					b.queue(i, a)
				}
			}
		}
		if err := b.flush(); errors.Is(err, net.ErrClosed) {
			return
		}
	}
}

// answerUDP is one datagram's answer, or nil when it gets none now: a query
// to ignore, or a slow one, which a goroutine answers (or, over the bound,
// which gets REFUSED at once).
func (s *Server) answerUDP(b []byte, from func() net.Addr) *dns.Msg {
	q, reject := parseQuery(b)
	if reject != nil || q == nil {
		return reject
	}
	resp, slow := s.a.answer(q, true)
	if !slow {
		return resp
	}
	select {
	case s.slow <- struct{}{}:
		to := from()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.slow }()
			if resp := s.a.slowAnswer(q, true); resp != nil {
				if b, err := resp.Pack(); err == nil {
					s.udp.WriteTo(b, to)
				}
			}
		}()
		return nil
	default:
		m := new(dns.Msg)
		m.SetRcode(q, dns.RcodeRefused)
		return m
	}
}

// serveTCP accepts connections, refusing (closing at once) those over the
// per-server or process-wide cap that no idle connection makes room for
// (admit).
func (s *Server) serveTCP() {
	defer s.wg.Done()
	backoff := time.Duration(0)
	for {
		c, err := s.tcp.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors or similar: wait rather than spin,
			// as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.accepted.Add(1)
		tc := &tcpConn{c: c}
		if !s.admit(tc) {
			c.Close()
			continue
		}
		go s.serveConn(tc)
	}
}

// admit counts tc in, within the caps. At a cap, it makes room by closing
// an idle connection of this server, as RFC 7766 (6.2.3) lets a server
// under pressure do (evictIdleLocked). A client opening a connection per
// query closes each once answered, but the server learns of that only when
// it next reads, and 16 such clients at 10,000 queries a second kept 64
// answered connections waiting for that read, so new ones were refused,
// and the client saw "connection reset by peer". Connections that have
// asked nothing yet may hold at most half the slots before a new one is
// refused instead of making room: connections that never ask (an attack)
// still meet the cap, and cannot push out every answered client.
func (s *Server) admit(tc *tcpConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	// The process-wide slot is taken first, so that room made below
	// cannot go to another server in between; an eviction gives one
	// back.
	full := tcpOpen.Add(1) > maxTCPTotal || s.nconns >= maxTCPPerServer
	if full && (s.nfresh >= maxTCPPerServer/2 || !s.evictIdleLocked()) {
		tcpOpen.Add(-1)
		return false
	}
	s.conns[tc] = struct{}{}
	s.nconns++
	tc.fresh = true
	s.nfresh++
	s.wg.Add(1)
	return true
}

// evictIdleLocked closes one idle connection and counts it out at once
// (its goroutine then finds it gone): one whose client has closed it, if
// any (its end of file waits to be read), else the one idle longest. Never
// one with a query waiting to be read: closing a socket with unread data
// resets the connection, which is what making room is meant to avoid. It
// reports false when no connection can go. s.mu must be held.
func (s *Server) evictIdleLocked() bool {
	for {
		var pick *tcpConn
		var since int64
	scan:
		for tc := range s.conns {
			t := tc.idle.Load()
			if t <= 0 {
				continue
			}
			switch peek(tc.c) {
			case peekGone:
				pick, since = tc, t
				break scan
			case peekEmpty:
				if pick == nil || t < since {
					pick, since = tc, t
				}
			}
		}
		if pick == nil {
			return false
		}
		// Lost only to the connection's own goroutine, which has just
		// read a query on it: look again.
		if pick.idle.CompareAndSwap(since, evicted) {
			s.dropLocked(pick)
			pick.c.Close()
			return true
		}
	}
}

// What an idle connection's socket holds, seen without reading it.
const (
	peekEmpty = iota // nothing: the client is waiting, or quiet
	peekData         // the next query, or part of it
	peekGone         // the client's close (or a reset)
)

// peek looks at c's receive queue without taking from it or blocking.
func peek(c *net.TCPConn) int {
	rc, err := c.SyscallConn()
	if err != nil {
		return peekData // unknown: keep it
	}
	state := peekData
	rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch {
		case err == unix.EAGAIN:
			state = peekEmpty
		case err != nil || n == 0:
			state = peekGone
		}
	})
	return state
}

// dropLocked counts tc out, once. s.mu must be held.
func (s *Server) dropLocked(tc *tcpConn) {
	if _, ok := s.conns[tc]; ok {
		delete(s.conns, tc)
		s.nconns--
		tcpOpen.Add(-1)
		if tc.fresh {
			tc.fresh = false
			s.nfresh--
		}
	}
}

// open returns how many TCP connections s holds open.
func (s *Server) open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nconns
}

// serveConn answers length-prefixed queries on one connection, one after
// another, until the client closes it, a read times out (2 s for the first
// query, 8 s idle after that), a write does, or the server closes it to
// make room.
func (s *Server) serveConn(tc *tcpConn) {
	c := tc.c
	defer func() {
		c.Close()
		s.mu.Lock()
		s.dropLocked(tc)
		s.mu.Unlock()
		s.wg.Done()
	}()
	// in holds what has arrived: a query's two-byte length and the query
	// (or the start of the next). A client writes both at once, so one
	// read usually brings a whole query.
	in := make([]byte, 0, 2+512)
	out := make([]byte, 2, 514)
	timeout := tcpReadTimeout
	first := true
	for used := 0; ; {
		// Drop the query answered last (its message may still point into
		// in until it has been answered); what followed it stays.
		in = in[:copy(in, in[used:])]
		c.SetReadDeadline(time.Now().Add(timeout))
		if !readAtLeast(c, &in, 2) {
			return
		}
		// A query is coming: the connection is no longer idle, unless
		// the server has already closed it to make room.
		if t := tc.idle.Load(); t == evicted || !tc.idle.CompareAndSwap(t, 0) {
			return
		}
		if first {
			first = false
			s.mu.Lock()
			if tc.fresh {
				tc.fresh = false
				s.nfresh--
			}
			s.mu.Unlock()
		}
		n := int(binary.BigEndian.Uint16(in))
		if !readAtLeast(c, &in, 2+n) {
			return
		}
		used = 2 + n
		q, resp := parseQuery(in[2:used])
		timeout = tcpIdleTimeout
		if q == nil && resp == nil {
			return
		}
		if q != nil {
			var slow bool
			if resp, slow = s.a.answer(q, false); slow {
				resp = s.a.slowAnswer(q, false)
			}
		}
		if resp == nil {
			continue
		}
		b, err := resp.PackBuffer(out[2:cap(out)])
		if err != nil {
			continue
		}
		if len(b)+2 > cap(out) {
			out = make([]byte, 2, len(b)+2)
		}
		out = append(out[:2], b...) // no copy when b already sits at out[2:]
		binary.BigEndian.PutUint16(out, uint16(len(b)))
		c.SetWriteDeadline(time.Now().Add(tcpWriteTimeout))
		if _, err := c.Write(out); err != nil {
			return
		}
		tc.idle.Store(time.Now().UnixNano())
	}
}

// readAtLeast reads from c into *buf until it holds at least n bytes,
// growing it if needed. It reports false when c fails or ends first.
func readAtLeast(c net.Conn, buf *[]byte, n int) bool {
	b := *buf
	if cap(b) < n {
		b = append(make([]byte, 0, n), b...)
	}
	for len(b) < n {
		k, err := c.Read(b[len(b):cap(b)])
		b = b[:len(b)+k]
		if err != nil && len(b) < n {
			*buf = b
			return false
		}
	}
	*buf = b
	return true
}

// parseQuery applies miekg/dns's server checks (DefaultMsgAcceptFunc) to a
// message as it arrived, as Docker's resolver does through miekg/dns: a
// message whose header does not parse, or a response, gets nothing; one the
// checks refuse, or whose body does not parse, gets FORMERR (NOTIMP for
// another opcode) back as reply. Otherwise q is the parsed query.
func parseQuery(b []byte) (q, reply *dns.Msg) {
	if len(b) < 12 {
		return nil, nil
	}
	dh := dns.Header{
		Id:      binary.BigEndian.Uint16(b[0:]),
		Bits:    binary.BigEndian.Uint16(b[2:]),
		Qdcount: binary.BigEndian.Uint16(b[4:]),
		Ancount: binary.BigEndian.Uint16(b[6:]),
		Nscount: binary.BigEndian.Uint16(b[8:]),
		Arcount: binary.BigEndian.Uint16(b[10:]),
	}
	action := dns.DefaultMsgAcceptFunc(dh)
	if action == dns.MsgIgnore {
		return nil, nil
	}
	if action == dns.MsgAccept {
		q = new(dns.Msg)
		if q.Unpack(b) == nil {
			return q, nil
		}
	}
	r := new(dns.Msg)
	r.Id = dh.Id
	r.Opcode = int(dh.Bits>>11) & 0xF
	if r.Opcode == dns.OpcodeQuery {
		r.RecursionDesired = dh.Bits&(1<<8) != 0
		r.CheckingDisabled = dh.Bits&(1<<4) != 0
	}
	r.Response = true
	r.Rcode = dns.RcodeFormatError
	if action == dns.MsgRejectNotImplemented {
		r.Rcode = dns.RcodeNotImplemented
	}
	return nil, r
}
