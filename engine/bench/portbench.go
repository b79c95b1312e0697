package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"sort"
	"time"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/firewall"
	"github.com/nslab/nslab/engine/labhost"
	"github.com/spf13/cobra"
)

// portsResult is the line `nslab bench ports` prints.
type portsResult struct {
	Op         string  `json:"op"`
	N          int     `json:"n"`            // containers already publishing a port
	Rules      int     `json:"rules"`        // lab host rules before the probes
	Run0P50    float64 `json:"run0_p50_ms"`  // run -d, no port
	Run1P50    float64 `json:"run1_p50_ms"`  // run -d -p, one port
	Run10P50   float64 `json:"run10_p50_ms"` // run -d, ten ports
	FW1P50     float64 `json:"fw1_p50_ms"`   // one port's rules: add + delete transactions
	FW10P50    float64 `json:"fw10_p50_ms"`  // ten ports' rules: add + delete transactions
	PerPortMs  float64 `json:"per_port_ms"`  // (run10 - run1) / 9
	PublishMs  float64 `json:"publish_ms"`   // run1 - run0
	ProbeCount int     `json:"probes"`
}

// benchPortsCmd uses the bench command's -n as the number of containers
// already publishing a port.
func benchPortsCmd(count *int) *cobra.Command {
	var probes int
	c := &cobra.Command{
		Use:   "ports",
		Short: "Time run -d with 0, 1 and 10 published ports while N containers already publish one each",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := labhost.Require(); err != nil {
				return err
			}
			n := *count
			if n < 0 || n > 2000 || probes < 1 || probes > 200 {
				return fmt.Errorf("-n %d --probes %d: use 0-2000 containers and 1-200 probes (the load is bounded)", n, probes)
			}
			return benchPorts(n, probes)
		},
	}
	c.Flags().IntVar(&probes, "probes", 15, "Probe runs per case")
	return c
}

func benchPorts(n, probes int) (err error) {
	var ids []string
	defer func() {
		if len(ids) > 0 {
			api.Call(labhost.SocketPath, api.RmRequest{Names: ids, Force: true}, nil)
		}
	}()
	sleep := api.RunOptions{Image: "busybox", Cmd: []string{"sleep", "3600"}, Detach: true}
	for i := 0; i < n; i++ {
		o := sleep
		o.Publish = []string{fmt.Sprintf("%d:80", 20000+i)}
		id, err := benchRunOne(o)
		if err != nil {
			return fmt.Errorf("background container %d: %w", i, err)
		}
		ids = append(ids, id)
	}
	probe := func(ports int) (float64, error) {
		var ms []float64
		for i := 0; i < probes; i++ {
			o := sleep
			for p := 0; p < ports; p++ {
				o.Publish = append(o.Publish, fmt.Sprintf("%d:%d", 30000+p, 80+p))
			}
			t0 := time.Now()
			id, err := benchRunOne(o)
			if err != nil {
				return 0, err
			}
			ms = append(ms, float64(time.Since(t0))/float64(time.Millisecond))
			if err := api.Call(labhost.SocketPath, api.RmRequest{Names: []string{id}, Force: true}, nil); err != nil {
				return 0, err
			}
		}
		return median(ms), nil
	}
	fw := func(ports int) (float64, error) {
		var fps []firewall.Port
		for p := 0; p < ports; p++ {
			fps = append(fps, firewall.Port{Proto: "tcp", HostIP: netip.IPv4Unspecified(), HostPort: uint16(40000 + p),
				ContainerIP: netip.MustParseAddr("172.17.255.254"), ContainerPort: uint16(80 + p), Bridge: "docker0"})
		}
		var ms []float64
		for i := 0; i < probes; i++ {
			t0 := time.Now()
			if err := firewall.AddPorts(fps); err != nil {
				return 0, err
			}
			if err := firewall.RemovePorts(fps); err != nil {
				return 0, err
			}
			ms = append(ms, float64(time.Since(t0))/float64(time.Millisecond))
		}
		return median(ms), nil
	}
	r := portsResult{Op: "ports", N: n, ProbeCount: probes}
	r.Rules = countRules()
	if r.Run0P50, err = probe(0); err != nil {
		return err
	}
	if r.Run1P50, err = probe(1); err != nil {
		return err
	}
	if r.Run10P50, err = probe(10); err != nil {
		return err
	}
	if r.FW1P50, err = fw(1); err != nil {
		return err
	}
	if r.FW10P50, err = fw(10); err != nil {
		return err
	}
	r.PublishMs = r.Run1P50 - r.Run0P50
	r.PerPortMs = (r.Run10P50 - r.Run1P50) / 9
	return json.NewEncoder(os.Stdout).Encode(r)
}

func median(ms []float64) float64 {
	sort.Float64s(ms)
	return float64(int(ms[len(ms)/2]*1000)) / 1000
}

// countRules counts the lab host's rules, as iptables-save lists them.
func countRules() int {
	out, err := exec.Command("iptables-save").Output()
	if err != nil {
		return -1
	}
	return bytes.Count(out, []byte("\n-A "))
}
