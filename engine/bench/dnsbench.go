package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/labhost"
	"github.com/nslab/nslab/engine/netns"
	"github.com/spf13/cobra"
)

// dnsResult is one line of `nslab bench dns`.
type dnsResult struct {
	Server  string  `json:"server"`
	Proto   string  `json:"proto"`
	Clients int     `json:"clients"`
	Queries int     `json:"queries"`
	QPS     float64 `json:"qps"`
	P50us   float64 `json:"p50_us"`
	P99us   float64 `json:"p99_us"`
	Errors  int     `json:"errors"`
	// Reconnects counts TCP connections the server closed and the client
	// reopened (dnsmasq closes one after a fixed number of queries).
	Reconnects int `json:"reconnects"`
}

// dnsmasqAddr is where the comparison server listens, in the same
// container namespace as the load generator.
const dnsmasqAddr = "127.0.0.12:53"

func benchDNSCmd() *cobra.Command {
	var total int
	c := &cobra.Command{
		Use:   "dns",
		Short: "Measure the embedded DNS server and dnsmasq from inside a container (UDP/TCP, 1 and 16 clients)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := labhost.Require(); err != nil {
				return err
			}
			if total < 16 || total > 200000 {
				return fmt.Errorf("--queries %d: use 16 to 200000 (the load is bounded)", total)
			}
			return benchDNS(total)
		},
	}
	c.Flags().IntVar(&total, "queries", 20000, "Queries per measurement, split across the clients")
	return c
}

func benchDNS(total int) (err error) {
	// A user network with the querying container and a target.
	if err := call(api.NetworkCreate{Name: "benchdns"}, nil); err != nil {
		return err
	}
	defer call(api.NetworkRmRequest{Names: []string{"benchdns"}}, nil)
	for _, name := range []string{"dnsclient", "target"} {
		if err := call(api.RunOptions{Name: name, Image: "busybox", Cmd: []string{"sleep", "3600"}, Network: "benchdns", Detach: true}, nil); err != nil {
			return err
		}
	}
	defer call(api.RmRequest{Names: []string{"dnsclient", "target"}, Force: true}, nil)
	var info []struct {
		NetworkSettings struct {
			SandboxKey string
			Networks   map[string]struct{ IPAddress string }
		}
	}
	if err := call(api.InspectRequest{Names: []string{"dnsclient", "target"}}, &info); err != nil {
		return err
	}
	nsPath := info[0].NetworkSettings.SandboxKey
	targetIP := info[1].NetworkSettings.Networks["benchdns"].IPAddress

	// dnsmasq from Debian, serving the same name from a hosts file, in
	// the same namespace, as a real peer.
	dir, err := os.MkdirTemp(labhost.StateDir, "dnsbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	hosts := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hosts, []byte(targetIP+" target\n"), 0o644); err != nil {
		return err
	}
	dnsmasq, err := exec.LookPath("dnsmasq")
	if err != nil {
		return fmt.Errorf("dnsmasq (Debian package dnsmasq-base) is needed for the comparison: %w", err)
	}
	dm := exec.Command("nsenter", "--net="+nsPath, "--", dnsmasq, "--keep-in-foreground", "--no-resolv",
		"--no-hosts", "--addn-hosts="+hosts, "--listen-address=127.0.0.12", "--bind-interfaces",
		"--port=53", "--user=root", "--pid-file", "--local-ttl=600", "--log-facility=/dev/null")
	dm.Stderr = os.Stderr
	if err := dm.Start(); err != nil {
		return fmt.Errorf("start dnsmasq: %w", err)
	}
	defer func() { dm.Process.Kill(); dm.Wait() }()
	// Readiness: bounded retries until dnsmasq answers.
	ready := false
	for i := 0; i < 100 && !ready; i++ {
		r, _ := queryOnce(nsPath, "udp", dnsmasqAddr, "target.")
		ready = r == targetIP
		if !ready {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !ready {
		return errors.New("dnsmasq did not answer within 2 s")
	}
	if r, err := queryOnce(nsPath, "udp", "127.0.0.11:53", "target."); err != nil || r != targetIP {
		return fmt.Errorf("embedded DNS answered %q, %v; want %s", r, err, targetIP)
	}

	enc := json.NewEncoder(os.Stdout)
	for _, proto := range []string{"udp", "tcp"} {
		for _, clients := range []int{1, 16} {
			for _, srv := range []struct{ name, addr string }{{"nslab", "127.0.0.11:53"}, {"dnsmasq", dnsmasqAddr}} {
				res, err := loadDNS(nsPath, proto, srv.addr, clients, total/clients)
				if err != nil {
					return fmt.Errorf("%s %s x%d: %w", srv.name, proto, clients, err)
				}
				res.Server = srv.name
				enc.Encode(res)
			}
		}
	}
	return nil
}

// dialIn opens a DNS connection from inside the namespace at nsPath.
func dialIn(nsPath, proto, addr string) (*dns.Conn, error) {
	var c net.Conn
	err := netns.Do(nsPath, func() (err error) {
		c, err = net.DialTimeout(proto, addr, 2*time.Second)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &dns.Conn{Conn: c}, nil
}

func queryOnce(nsPath, proto, addr, name string) (string, error) {
	conn, err := dialIn(nsPath, proto, addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	c := &dns.Client{Net: proto, Timeout: time.Second}
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	m, _, err := c.ExchangeWithConn(q, conn)
	if err != nil {
		return "", err
	}
	if len(m.Answer) == 0 {
		return "", fmt.Errorf("no answer (%s)", dns.RcodeToString[m.Rcode])
	}
	return m.Answer[0].(*dns.A).A.String(), nil
}

// loadDNS runs clients workers, each with one connection made inside the
// container's namespace, each sending perClient queries one after another.
// The load is bounded by count, and every query has a 2 s timeout.
func loadDNS(nsPath, proto, addr string, clients, perClient int) (dnsResult, error) {
	conns := make([]*dns.Conn, clients)
	for i := range conns {
		c, err := dialIn(nsPath, proto, addr)
		if err != nil {
			return dnsResult{}, err
		}
		conns[i] = c
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	lat := make([][]time.Duration, clients)
	errs := make([]int, clients)
	redials := make([]int, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cl := &dns.Client{Net: proto, Timeout: 2 * time.Second}
			q := new(dns.Msg)
			q.SetQuestion("target.", dns.TypeA)
			for j := 0; j < perClient; j++ {
				q.Id = dns.Id()
				t0 := time.Now()
				m, _, err := cl.ExchangeWithConn(q, conns[i])
				if err != nil && proto == "tcp" && redials[i] < perClient {
					// The server closed the connection: reopen it and
					// ask again, as a resolver library would.
					conns[i].Close()
					if c, derr := dialIn(nsPath, proto, addr); derr == nil {
						conns[i] = c
						redials[i]++
						m, _, err = cl.ExchangeWithConn(q, conns[i])
					}
				}
				if err != nil || len(m.Answer) != 1 {
					errs[i]++
					continue
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	nerr, nre := 0, 0
	for i := range lat {
		all = append(all, lat[i]...)
		nerr += errs[i]
		nre += redials[i]
	}
	if len(all) == 0 {
		return dnsResult{}, errors.New("no query was answered")
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	return dnsResult{
		Proto: proto, Clients: clients, Queries: len(all),
		QPS:   float64(len(all)) / elapsed.Seconds(),
		P50us: us(all[len(all)/2]), P99us: us(all[len(all)*99/100]), Errors: nerr, Reconnects: nre,
	}, nil
}
