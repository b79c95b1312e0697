package dns

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/nslab/nslab/engine/netns"
)

// StartInPorts is StartIn on given ports: a restarted daemon re-binds a
// container's embedded DNS server on the ports its DNAT rules (which live
// on in the container's netns) already point to.
func (r *Resolver) StartInPorts(nsPath string, udpPort, tcpPort int) error {
	var pc net.PacketConn
	var ln net.Listener
	err := netns.Do(nsPath, func() (err error) {
		if pc, err = net.ListenPacket("udp4", net.JoinHostPort(ResolverIP, strconv.Itoa(udpPort))); err != nil {
			return err
		}
		lc := net.ListenConfig{KeepAlive: -1}
		if ln, err = lc.Listen(context.Background(), "tcp4", net.JoinHostPort(ResolverIP, strconv.Itoa(tcpPort))); err != nil {
			pc.Close()
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("embedded DNS: re-bind udp %d, tcp %d in %s: %w", udpPort, tcpPort, nsPath, err)
	}
	if err := r.Serve(pc, ln); err != nil {
		return fmt.Errorf("embedded DNS: %w", err)
	}
	return nil
}
