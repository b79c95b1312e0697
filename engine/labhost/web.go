package labhost

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/nslab/nslab/engine/netns"
)

// ServeOutsideWeb runs example.com's web server in the outside, on
// OutsideWeb port 80. It tells every client the address it came from, so a
// lab can show outbound NAT: a container's request arrives from the lab
// host's uplink address, not from the container.
func ServeOutsideWeb() error {
	var ln net.Listener
	addr := netip.AddrPortFrom(OutsideWeb, 80).String()
	err := netns.Do(OutsideNetNS, func() (err error) {
		ln, err = net.Listen("tcp4", addr)
		return err
	})
	if err != nil {
		return fmt.Errorf("outside web server on %s: %w", addr, err)
	}
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			fmt.Fprintf(w, "hello from example.com (%s): you came from %s\n", OutsideWeb, host)
		}),
	}
	go srv.Serve(ln)
	return nil
}
