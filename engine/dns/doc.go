// Package dns holds nslab's DNS servers: the embedded resolver that answers
// container names at 127.0.0.11, and the upstream server of the lab host's
// simulated outside, which stands in for "the internet's DNS" so that no
// query ever leaves the sandbox. miekg/dns parses and packs every message;
// the serving loops are nslab's own (server.go).
//
// # The UDP serving loop
//
// Each server has one goroutine reading its UDP socket. For every datagram
// it parses the query, asks the resolver for a local answer, packs it into
// a buffer it reuses and sends it, all before reading the next datagram.
// Only a query that must go upstream leaves the loop, on a goroutine of
// its own (at most 1024 at once per server, beyond which the answer is
// REFUSED at once), so a slow or dead upstream never delays a local name.
//
// Why: a local answer costs a microsecond or two of handler work; the rest
// is the path around it. miekg/dns's server, used before, starts a
// goroutine for every datagram, so each query woke a second goroutine,
// often on another thread. Answering inline is what dnsmasq does in its
// epoll loop, and Go's netpoller gives the same shape: one wake-up per
// burst of datagrams, then reads that succeed without blocking until the
// socket is empty. The figures are in engine/README.md (dnsperf against
// dnsmasq in the same network namespace, interleaved).
//
// Measured and left out: one shared thread blocked in epoll_wait for every
// container's socket (dnsmasq's exact design) cost 17-21 µs of CPU per
// query against 12-13 µs for the goroutine per socket, because the Go
// scheduler keeps preempting a goroutine that never parks and takes its P
// away during epoll_wait. recvmmsg/sendmmsg batching and one SO_REUSEPORT
// socket per core would cost buffers or sockets per container for every
// container, idle or not; most of a query's remaining CPU is the kernel
// delivering the answer over loopback inside sendto, which batching does
// not remove. An idle resolver holds two parked goroutines, two sockets and
// 8 KiB of buffers, and no OS thread.
//
// # TCP
//
// One goroutine accepts; each connection gets a goroutine that answers its
// queries in order (a forwarded one blocks only its own connection). A
// connection is closed after 2 s without a first query, 8 s idle after
// that, or a 2 s write, as miekg's server (and so Docker's resolver) does.
// Connections are capped at 64 per server and 1024 in the process, the
// excess accepted and closed at once: without the caps, idle connections
// opened from a container exhausted the daemon's file descriptors and its
// control socket stopped accepting.
package dns
