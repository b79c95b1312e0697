package bridge

import (
	"fmt"
	"net"
	"sync"

	vnetns "github.com/vishvananda/netns"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Interface indices as Docker v24 leaves them: Docker creates the veth pair
// in the host, where the kernel numbers the peer N and the host end N+1 from
// the host's counter, then moves the peer into the container, which keeps
// N. So the notes show the adjacent pair `7: eth0@if8` in the container and
// `8: veth4866e91@if7` in the host.
//
// nslab creates the peer directly inside the container's namespace (the
// fast path: no move), where the kernel would number it 2. Instead the one
// RTM_NEWLINK request names both indices: ifi_index in the request's
// header for the host end, and the peer's own ifinfomsg inside
// VETH_INFO_PEER for the peer (the kernel honours both, for CRIU). The pair
// takes the next two indices of the host's counter, which nslab keeps: one
// more than the highest index it has seen in the lab host. An index already
// taken (EEXIST in the host, EBUSY in the container's namespace) moves the
// pair on.

// ifindexes hands out the next pair; the first use reads the host's links.
var ifindexes struct {
	sync.Mutex
	next int // 0: not read yet
}

// nextPair returns (peer, host) = (N, N+1) for the next free N.
func nextPair(h *netlink.Handle) (int, int, error) {
	ifindexes.Lock()
	defer ifindexes.Unlock()
	if ifindexes.next == 0 {
		if err := resyncIfindex(h); err != nil {
			return 0, 0, err
		}
	}
	n := ifindexes.next
	ifindexes.next += 2
	return n, n + 1, nil
}

// resyncIfindex sets the counter past every link in the host. Call with
// ifindexes locked.
func resyncIfindex(h *netlink.Handle) error {
	links, err := h.LinkList()
	if err != nil {
		return fmt.Errorf("list links for the next interface index: %w", err)
	}
	max := 1
	for _, l := range links {
		if i := l.Attrs().Index; i > max {
			max = i
		}
	}
	if ifindexes.next <= max {
		ifindexes.next = max + 1
	}
	return nil
}

// sawIndex keeps the counter past an index the kernel chose (a bridge).
func sawIndex(i int) {
	ifindexes.Lock()
	defer ifindexes.Unlock()
	if ifindexes.next != 0 && ifindexes.next <= i {
		ifindexes.next = i + 1
	}
}

// resync rereads the host's links after an index clash: something else
// numbered links there.
func resync(h *netlink.Handle) {
	ifindexes.Lock()
	defer ifindexes.Unlock()
	resyncIfindex(h)
}

// addVeth is netlink.LinkAdd of a veth whose peer is born in ns, with both
// interface indices chosen: host end hostIdx, peer peerIdx. It sends the
// request on a new socket in the calling thread's network namespace, the
// one Attach's handle is on (every caller uses netlink.NewHandle()).
func addVeth(name string, master, mtu int, peerName string, peerMAC net.HardwareAddr, ns vnetns.NsHandle, hostIdx, peerIdx int) error {
	req := nl.NewNetlinkRequest(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(hostIdx)
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)))
	req.AddData(nl.NewRtAttr(unix.IFLA_TXQLEN, nl.Uint32Attr(0)))
	if mtu > 0 {
		req.AddData(nl.NewRtAttr(unix.IFLA_MTU, nl.Uint32Attr(uint32(mtu))))
	}
	if master > 0 {
		req.AddData(nl.NewRtAttr(unix.IFLA_MASTER, nl.Uint32Attr(uint32(master))))
	}
	info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	info.AddRtAttr(nl.IFLA_INFO_KIND, nl.NonZeroTerminated("veth"))
	data := info.AddRtAttr(nl.IFLA_INFO_DATA, nil)
	peer := data.AddRtAttr(nl.VETH_INFO_PEER, nil)
	pm := nl.NewIfInfomsgChild(peer, unix.AF_UNSPEC)
	pm.Index = int32(peerIdx)
	peer.AddRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(peerName))
	peer.AddRtAttr(unix.IFLA_TXQLEN, nl.Uint32Attr(0))
	if mtu > 0 {
		peer.AddRtAttr(unix.IFLA_MTU, nl.Uint32Attr(uint32(mtu)))
	}
	if peerMAC != nil {
		peer.AddRtAttr(unix.IFLA_ADDRESS, []byte(peerMAC))
	}
	peer.AddRtAttr(unix.IFLA_NET_NS_FD, nl.Uint32Attr(uint32(ns)))
	req.AddData(info)
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}
