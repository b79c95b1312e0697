package dns

import (
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// udpBatch is the UDP loop's batch of datagrams: up to udpBatchSize
// queries read with one recvmmsg, and their answers sent with one
// sendmmsg, each answer to the address its query came from. Its buffers
// are allocated once, with the Server.
//
// Both calls are made with RawSyscall on the socket Go's net package keeps
// non-blocking, from inside the RawConn's Read and Write callbacks, so the
// netpoller still parks the goroutine when nothing is waiting. Raw, because
// neither call can block, and the runtime's bookkeeping around an ordinary
// system call costs more than the answer here: entering one while the
// daemon is otherwise idle wakes the runtime's monitor thread (sysmon),
// which then polls every 20 µs for as long as the loop keeps a processor
// busy. Under dnsperf's load that monitor took 16% of the daemon's CPU (perf,
// 2026-11-24); see engine/README.md for what removing it measured.
type udpBatch struct {
	rc syscall.RawConn

	in     [udpBatchSize]mmsghdr
	inIov  [udpBatchSize]unix.Iovec
	inName [udpBatchSize]unix.RawSockaddrInet6 // room for either family
	inBuf  [udpBatchSize * udpQuerySize]byte

	out    [udpBatchSize]mmsghdr
	outIov [udpBatchSize]unix.Iovec
	outBuf [udpBatchSize * udpAnswerSize]byte

	read, write func(fd uintptr) bool // the callbacks, made once
	n           int                   // datagrams read, or answers sent
	nout        int                   // answers queued
	sent        int                   // answers flushed so far
	err         syscall.Errno
}

// mmsghdr is struct mmsghdr: a msghdr and the length the kernel moved.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// The kernel's layout, checked at compile time: either subtraction is a
// negative array length if the sizes differ.
var (
	_ [unix.SizeofMmsghdr - unsafe.Sizeof(mmsghdr{})]byte
	_ [unsafe.Sizeof(mmsghdr{}) - unix.SizeofMmsghdr]byte
)

func newUDPBatch(c *net.UDPConn) (*udpBatch, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	b := &udpBatch{rc: rc}
	for i := range b.in {
		b.inIov[i].Base = &b.inBuf[i*udpQuerySize]
		b.inIov[i].SetLen(udpQuerySize)
		b.in[i].hdr.Iov = &b.inIov[i]
		b.in[i].hdr.SetIovlen(1)
		b.in[i].hdr.Name = (*byte)(unsafe.Pointer(&b.inName[i]))
		b.out[i].hdr.Iov = &b.outIov[i]
		b.out[i].hdr.SetIovlen(1)
	}
	b.read = func(fd uintptr) bool {
		for i := range b.in {
			b.in[i].hdr.Namelen = uint32(unsafe.Sizeof(b.inName[i]))
		}
		n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.in[0])),
			uintptr(len(b.in)), unix.MSG_DONTWAIT, 0, 0)
		b.n, b.err = int(n), e
		return e != unix.EAGAIN
	}
	b.write = func(fd uintptr) bool {
		n, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.out[b.sent])),
			uintptr(b.nout-b.sent), unix.MSG_DONTWAIT, 0, 0)
		b.n, b.err = int(n), e
		return e != unix.EAGAIN
	}
	return b, nil
}

// readBatch waits for datagrams and reads those waiting, up to a batch.
// It returns how many it read, or an error (net.ErrClosed once the socket
// is closed).
func (b *udpBatch) readBatch() (int, error) {
	if err := b.rc.Read(b.read); err != nil {
		return 0, err
	}
	if b.err != 0 {
		return 0, b.err
	}
	return b.n, nil
}

// query is datagram i of the batch just read.
func (b *udpBatch) query(i int) []byte {
	return b.inBuf[i*udpQuerySize : i*udpQuerySize+int(b.in[i].len)]
}

// from is the address datagram i came from, for an answer sent later. The
// servers listen on IPv4 only (127.0.0.11 and the outside's address); the
// IPv6 branch keeps no zone.
func (b *udpBatch) from(i int) *net.UDPAddr {
	sa := &b.inName[i]
	p := (*[2]byte)(unsafe.Pointer(&sa.Port)) // network byte order
	port := int(p[0])<<8 | int(p[1])
	if sa.Family == unix.AF_INET {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return &net.UDPAddr{IP: net.IP(sa4.Addr[:]).To16(), Port: port}
	}
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(port)))
}

// slot is where the next answer is packed if it fits.
func (b *udpBatch) slot() []byte {
	k := b.nout * udpAnswerSize
	return b.outBuf[k : k+udpAnswerSize : k+udpAnswerSize]
}

// queue adds answer a, to datagram i's sender, to the batch to send.
func (b *udpBatch) queue(i int, a []byte) {
	o := &b.out[b.nout]
	b.outIov[b.nout].Base = &a[0]
	b.outIov[b.nout].SetLen(len(a))
	o.hdr.Name = b.in[i].hdr.Name
	o.hdr.Namelen = b.in[i].hdr.Namelen
	b.nout++
}

// flush sends the queued answers. An answer the kernel refuses (a client
// gone, a full buffer) is dropped, as one sendto would have dropped it.
func (b *udpBatch) flush() error {
	defer func() {
		for i := range b.outIov[:b.nout] {
			b.outIov[i].Base = nil // drop large answers' buffers
		}
		b.nout, b.sent = 0, 0
	}()
	for b.sent < b.nout {
		if err := b.rc.Write(b.write); err != nil {
			return err
		}
		if b.err == unix.EINTR {
			continue
		}
		if b.err != 0 {
			b.n = 1 // the first message failed: drop it
		}
		b.sent += b.n
	}
	return nil
}
