package portmap

import (
	"context"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// udpIdle is how long a UDP flow through the proxy lives without traffic
// (docker-proxy uses 90 s).
const udpIdle = 90 * time.Second

// relay is the inside of one docker-proxy process: it listens on the host
// port in the lab host and copies traffic to the container.
type relay struct {
	ctx    context.Context // cancelled by Close, so a dial in progress ends
	cancel context.CancelFunc
	ln     net.Listener
	pc     net.PacketConn
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[io.Closer]bool
	closed bool
}

// listen opens the binding's host address and port, as docker-proxy does:
// tcp4 or udp4 for an IPv4 address, tcp6 or udp6 for an IPv6 one.
func listen(proto string, host netip.AddrPort, container netip.AddrPort) (*relay, error) {
	p := &relay{target: container.String(), conns: map[io.Closer]bool{}}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	family := "4"
	if host.Addr().Is6() {
		family = "6"
	}
	var err error
	if proto == "udp" {
		p.pc, err = net.ListenPacket("udp"+family, host.String())
	} else {
		p.ln, err = net.Listen("tcp"+family, host.String())
	}
	if err != nil {
		p.cancel()
		return nil, err
	}
	p.wg.Add(1)
	if proto == "udp" {
		go p.serveUDP()
	} else {
		go p.serveTCP()
	}
	return p, nil
}

// Close stops the proxy and every flow through it.
func (p *relay) Close() {
	p.cancel()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
	} else {
		p.pc.Close()
	}
	p.wg.Wait()
}

func (p *relay) track(c io.Closer) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

func (p *relay) untrack(c io.Closer) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *relay) serveTCP() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(in) {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(in)
			dctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
			out, err := (&net.Dialer{}).DialContext(dctx, "tcp4", p.target)
			cancel()
			if err != nil {
				return
			}
			if !p.track(out) {
				return
			}
			defer p.untrack(out)
			done := make(chan struct{}, 2)
			cp := func(dst, src net.Conn) {
				io.Copy(dst, src)
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
				}
				done <- struct{}{}
			}
			go cp(out, in)
			go cp(in, out)
			<-done
			<-done
		}()
	}
}

func (p *relay) serveUDP() {
	defer p.wg.Done()
	flows := map[string]net.Conn{}
	var mu sync.Mutex
	buf := make([]byte, 65535)
	for {
		n, from, err := p.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		mu.Lock()
		out, ok := flows[from.String()]
		if !ok {
			out, err = net.Dial("udp4", p.target)
			if err != nil || !p.track(out) {
				mu.Unlock()
				continue
			}
			flows[from.String()] = out
			p.wg.Add(1)
			go func(from net.Addr, out net.Conn) {
				defer p.wg.Done()
				defer func() {
					mu.Lock()
					delete(flows, from.String())
					mu.Unlock()
					p.untrack(out)
				}()
				rb := make([]byte, 65535)
				for {
					out.SetReadDeadline(time.Now().Add(udpIdle))
					n, err := out.Read(rb)
					if err != nil {
						return
					}
					p.pc.WriteTo(rb[:n], from)
				}
			}(from, out)
		}
		mu.Unlock()
		out.Write(buf[:n])
	}
}
