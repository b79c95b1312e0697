package bridge

import (
	"fmt"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
)

// upWait bounds waitUp. The kernel's link watch normally runs within a
// millisecond; on a loaded machine it waits for the RTNL lock.
const upWait = 5 * time.Second

// waitUp returns once the kernel has finished bringing up what a new
// endpoint's first packet crosses: the container's interface, the host
// veth and the bridge. Setting a link up turns its carrier on at once, but
// the kernel's link watch, a deferred work item, is what later gives the
// device its queueing discipline; until then the device drops every frame
// it is asked to send. A bridge's carrier comes on with its first port, so
// the first container on a network could otherwise start, send its ARP for
// the gateway into a bridge that cannot answer yet, and lose its first
// second (a `ping -c 1 -W 1` fails without the firewall seeing a packet).
// Link watch sets the operational state to UP in the same step, so that is
// what waitUp polls, through netlink.
func waitUp(h *netlink.Handle, ns vnetns.NsHandle, ifName string, hostIdx, brIdx int) error {
	ch, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink handle in container netns: %w", err)
	}
	defer ch.Close()
	deadline := time.Now().Add(upWait)
	for {
		var pending []string
		for _, l := range []struct {
			h    *netlink.Handle
			name string
			idx  int
		}{{ch, ifName, 0}, {h, "", hostIdx}, {h, "", brIdx}} {
			var link netlink.Link
			if l.idx == 0 {
				link, err = l.h.LinkByName(l.name)
			} else {
				link, err = l.h.LinkByIndex(l.idx)
			}
			if err != nil {
				return fmt.Errorf("wait for the endpoint's links to come up: %w", err)
			}
			if link.Attrs().OperState != netlink.OperUp {
				pending = append(pending, fmt.Sprintf("%s (%s)", link.Attrs().Name, link.Attrs().OperState))
			}
		}
		if len(pending) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still not up after %v: the kernel has not finished bringing the links up", strings.Join(pending, ", "), upWait)
		}
		time.Sleep(time.Millisecond)
	}
}
