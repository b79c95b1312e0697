package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"path/filepath"
	"sort"
	"time"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/bridge"
	"github.com/nslab/nslab/engine/daemon"
	"github.com/nslab/nslab/engine/labhost"
	"github.com/nslab/nslab/engine/netns"
	"github.com/spf13/cobra"
	"github.com/vishvananda/netlink"
)

// Bench network: its own bridge and subnet, apart from docker0's, so the
// attach benchmark never competes with the daemon's state.
const (
	benchBridge = "benchbr0"
	benchNSDir  = labhost.StateDir + "/bench"
)

// benchGateway is the bench bridge's address and subnet.
var benchGateway = netip.MustParsePrefix("10.88.0.1/16")

// benchResult is the one line of JSON a bench subcommand prints.
type benchResult struct {
	Op      string  `json:"op"`
	N       int     `json:"n"`
	P50Ms   float64 `json:"p50_ms"`
	P90Ms   float64 `json:"p90_ms"`
	MeanMs  float64 `json:"mean_ms"`
	TotalMs float64 `json:"total_ms"`
}

// benchCmd is the hidden `nslab bench attach|run -n N`, used by
// labs/bench_test.go. It runs inside a lab host only.
func benchCmd() *cobra.Command {
	var n int
	c := &cobra.Command{
		Use:    "bench",
		Short:  "Time container network attach or run -d, N times (inside a lab host)",
		Hidden: true,
	}
	c.PersistentFlags().IntVarP(&n, "count", "n", 10, "Number of containers")
	check := func() error {
		if err := labhost.Require(); err != nil {
			return err
		}
		if n < 1 {
			return fmt.Errorf("-n must be at least 1, not %d", n)
		}
		return nil
	}
	attach := &cobra.Command{
		Use:   "attach",
		Short: "Time netns.Create plus bridge.Attach for N namespaces on a fresh bridge",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := check(); err != nil {
				return err
			}
			d, err := benchAttach(n)
			if err != nil {
				return err
			}
			return printBench("attach", d)
		},
	}
	run := &cobra.Command{
		Use:   "run",
		Short: "Time N sequential `run -d busybox sleep 1000` calls to the daemon, then remove them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := check(); err != nil {
				return err
			}
			d, err := benchRun(n)
			if err != nil {
				return err
			}
			return printBench("run", d)
		},
	}
	c.AddCommand(attach, run, benchCLICmd(), benchDNSCmd(), benchDNSTCPClientCmd(), benchPortsCmd(&n))
	return c
}

// benchAttach creates the bench bridge, then times, for each of n
// namespaces, creating and pinning it and wiring it to the bridge with eth0,
// an address and a default route. It removes everything it made.
func benchAttach(n int) (durs []time.Duration, err error) {
	if room := 1<<(32-benchGateway.Bits()) - 3; n > room {
		return nil, fmt.Errorf("-n %d: the bench subnet %s has room for %d containers", n, benchGateway.Masked(), room)
	}
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	if _, err := h.LinkByName(benchBridge); err == nil {
		return nil, fmt.Errorf("bridge %s already exists: is another bench running in this lab host?", benchBridge)
	}
	br, err := bridge.Ensure(h, benchBridge, benchGateway, daemon.DefaultMTU)
	if err != nil {
		return nil, err
	}
	var paths, veths []string
	defer func() {
		for _, p := range paths {
			if rerr := netns.Remove(p); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		// The kernel destroys unpinned namespaces, and the veths in
		// them, later and in batches (much faster than deleting veths
		// one by one). Wait for it, so that a following run does not
		// share the CPU with this teardown.
		deadline := time.Now().Add(60 * time.Second)
		for _, v := range veths {
			for {
				if _, lerr := h.LinkByName(v); lerr != nil {
					break
				}
				if time.Now().After(deadline) {
					err = errors.Join(err, fmt.Errorf("veth %s still there 60s after its namespace was removed", v))
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		if rerr := bridge.Delete(h, benchBridge); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()
	base := benchGateway.Masked().Addr().As4()
	for i := 0; i < n; i++ {
		// 10.88.0.2, 10.88.0.3, ... 10.88.1.0, ...: host i+2 of the /16.
		host := i + 2
		a := base
		a[2], a[3] = byte(host>>8), byte(host)
		ep := bridge.Endpoint{
			IfName:  "eth0",
			Addr:    netip.PrefixFrom(netip.AddrFrom4(a), benchGateway.Bits()),
			Gateway: benchGateway.Addr(),
		}
		path := filepath.Join(benchNSDir, fmt.Sprintf("c%d", i))
		start := time.Now()
		if err := netns.Create(path); err != nil {
			return nil, err
		}
		paths = append(paths, path)
		veth, err := bridge.Attach(h, br, path, ep)
		if err != nil {
			return nil, err
		}
		durs = append(durs, time.Since(start))
		veths = append(veths, veth)
	}
	return durs, nil
}

// benchRun times n sequential detached runs through the daemon's API, as
// `nslab run -d busybox sleep 1000` makes them, then force-removes them.
func benchRun(n int) (durs []time.Duration, err error) {
	var ids []string
	defer func() {
		if len(ids) == 0 {
			return
		}
		if rerr := api.Call(labhost.SocketPath, api.RmRequest{Names: ids, Force: true}, nil); rerr != nil {
			err = errors.Join(err, fmt.Errorf("rm -f the bench containers: %w", rerr))
		}
	}()
	o := api.RunOptions{Image: "busybox", Cmd: []string{"sleep", "1000"}, Detach: true}
	for i := 0; i < n; i++ {
		start := time.Now()
		id, err := benchRunOne(o)
		if err != nil {
			return nil, fmt.Errorf("run %d of %d: %w", i+1, n, err)
		}
		durs = append(durs, time.Since(start))
		ids = append(ids, id)
	}
	return durs, nil
}

func benchRunOne(o api.RunOptions) (string, error) {
	conn, err := api.Dial(labhost.SocketPath)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.Send(o); err != nil {
		return "", err
	}
	var res api.RunResult
	if err := conn.Recv(&res); err != nil {
		return "", err
	}
	return res.ID, nil
}

// printBench prints the summary of durs as one line of JSON. Percentiles
// are nearest-rank.
func printBench(op string, durs []time.Duration) error {
	ms := make([]float64, len(durs))
	var total float64
	for i, d := range durs {
		ms[i] = float64(d) / float64(time.Millisecond)
		total += ms[i]
	}
	sort.Float64s(ms)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(ms)))) - 1
		return ms[max(i, 0)]
	}
	round := func(x float64) float64 { return math.Round(x*1000) / 1000 }
	b, err := json.Marshal(benchResult{
		Op: op, N: len(ms),
		P50Ms: round(rank(0.50)), P90Ms: round(rank(0.90)),
		MeanMs: round(total / float64(len(ms))), TotalMs: round(total),
	})
	if err != nil {
		return err
	}
	_, err = fmt.Println(string(b))
	return err
}
