// Package dns holds nslab's DNS servers: the embedded resolver that answers
// container names at 127.0.0.11, and the upstream server of the lab host's
// simulated outside, which stands in for "the internet's DNS" so that no
// query ever leaves the sandbox. miekg/dns parses and packs every message;
// the serving loops are nslab's own (server.go).
//
// # The UDP serving loop
//
// Each server has one goroutine reading its UDP socket. It takes the
// datagrams waiting, up to 8, with one recvmmsg; for each it parses the
// query, asks the resolver for a local answer and packs it; then it sends
// the answers with one sendmmsg, and reads again. Only a query that must go
// upstream leaves the loop, on a goroutine of its own (at most 1024 at once
// per server, beyond which the answer is REFUSED at once), so a slow or
// dead upstream never delays a local name.
//
// Why: a local answer costs a microsecond or two of handler work; the rest
// is the path around it. miekg/dns's server, used before, starts a
// goroutine for every datagram, so each query woke a second goroutine,
// often on another thread. Answering inline is what dnsmasq does in its
// epoll loop, and Go's netpoller gives the same shape: one wake-up per
// burst of datagrams. Batching then takes two system calls per burst
// instead of two per datagram, and wakes the client once per burst: with
// dnsperf's 100 queries in flight, CPU per query fell from 11-13 µs to 7-8.5
// (dnsmasq: 8-10), and the loop went from 0.6-0.9× dnsmasq's rate to
// 1.15-1.39×. The buffers are 8 slots of 512 bytes for queries (miekg/dns's
// server, and so Docker's resolver, reads 512) and 8 for answers: 8 KiB per
// server, what the one-datagram loop held. The figures are in
// engine/README.md (dnsperf against dnsmasq in the same network namespace,
// interleaved).
//
// recvmmsg and sendmmsg are made raw (udpbatch.go), inside the socket's
// RawConn callbacks, so that the netpoller still parks the loop when no
// datagram waits. Through x/net's batch calls, which enter the runtime's
// system-call bookkeeping, perf showed 16% of the daemon's CPU in the
// runtime's monitor thread: every call made while the process was idle
// woke it, and it then polled every 20 µs while the loop ran. Raw calls
// that cannot block need none of that bookkeeping; they also keep each
// sender's address as the kernel wrote it, for the reply, with no net.Addr
// made per datagram. CPU per query fell from 7.4-9.3 µs to 4.7-6.4 µs
// (dnsmasq: 8.2-10.6 in the same runs).
//
// Measured and left out: one shared thread blocked in epoll_wait for every
// container's socket (dnsmasq's exact design) cost 17-21 µs of CPU per
// query against 12-13 µs for the goroutine per socket, because the Go
// scheduler keeps preempting a goroutine that never parks and takes its P
// away during epoll_wait. One SO_REUSEPORT socket per core would cost
// sockets and goroutines per container for every container, idle or not.
// An idle resolver holds two parked goroutines, two sockets and 8 KiB of
// buffers, and no OS thread.
//
// # TCP
//
// One goroutine accepts; each connection gets a goroutine that answers its
// queries in order (a forwarded one blocks only its own connection). It
// reads into a small buffer, so a query's length and body, which clients
// write together, take one read, and pipelined queries are kept. A
// connection is closed after 2 s without a first query, 8 s idle after
// that, or a 2 s write, as miekg's server (and so Docker's resolver) does.
// Connections are capped at 64 per server and 1024 in the process: without
// the caps, idle connections opened from a container exhausted the daemon's
// file descriptors and its control socket stopped accepting. At a cap, a
// new connection makes room by closing an idle one (answered, and waiting
// for another query or for the client's close, not yet read): one whose
// client has closed it if its socket shows that, else the one idle longest;
// never one with a query waiting in its socket, since closing unread data
// resets. Only when none is idle, or when connections that have asked
// nothing hold half the slots, is the new one accepted and closed at once.
// Refusing at once, as before, reset clients that open a connection per
// query, whose closes the server had not read yet.
package dns
