package netns

import (
	"fmt"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
)

// upWait bounds WaitUp. The kernel's link watch normally runs within a
// millisecond; on a loaded machine it waits for the RTNL lock.
const upWait = 5 * time.Second

// WaitUp returns once the kernel has finished bringing up what a new
// endpoint's first frame crosses: ifName on ctr, a handle in the
// container's namespace, and the links called names on h (the host end of
// its veth, and its bridge; none for a macvlan link). Setting a link up
// turns its carrier on at once, but the kernel's link watch, a deferred
// work item, is what later gives the
// device its queueing discipline; until then the device drops every frame
// it is asked to send. A bridge's carrier comes on with its first port, so
// the first container on a network could otherwise start, send its ARP for
// the gateway into a bridge that cannot answer yet, and lose its first
// second (a `ping -c 1 -W 1` fails without the firewall seeing a packet).
// Link watch sets the operational state to UP in the same step, so that is
// what WaitUp polls, for at most upWait.
func WaitUp(ctr *netlink.Handle, ifName string, h *netlink.Handle, names ...string) error {
	type link struct {
		h    *netlink.Handle
		name string
	}
	links := []link{{ctr, ifName}}
	for _, name := range names {
		links = append(links, link{h, name})
	}
	deadline := time.Now().Add(upWait)
	for {
		var pending []string
		for _, l := range links {
			got, err := l.h.LinkByName(l.name)
			if err != nil {
				return fmt.Errorf("wait for the endpoint's links to come up: %w", err)
			}
			if s := got.Attrs().OperState; s != netlink.OperUp {
				pending = append(pending, fmt.Sprintf("%s (%s)", l.name, s))
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
