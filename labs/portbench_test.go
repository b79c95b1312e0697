package labs_test

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/nslab/nslab/engine/labhost"
)

// BenchmarkPublish measures what publishing ports costs while N containers
// (1, 10, 100, 500) already publish one port each: `run -d` with 0, 1 and
// 10 published ports end to end, and the firewall transactions alone (one
// iptables-restore to add a container's port rules, one to delete them).
//
//	go test -run '^$' -bench Publish -benchtime 1x ./labs/
func BenchmarkPublish(b *testing.B) {
	needBench(b)
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			h, err := labhost.Start(labhost.Options{Stderr: os.Stderr})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			var r struct {
				Rules   int     `json:"rules"`
				Run0    float64 `json:"run0_p50_ms"`
				Run1    float64 `json:"run1_p50_ms"`
				Run10   float64 `json:"run10_p50_ms"`
				FW1     float64 `json:"fw1_p50_ms"`
				FW10    float64 `json:"fw10_p50_ms"`
				PerPort float64 `json:"per_port_ms"`
				Publish float64 `json:"publish_ms"`
			}
			for i := 0; i < b.N; i++ {
				out := benchOutput(b, h, "ports", "-n", fmt.Sprint(n))
				if err := json.Unmarshal(out, &r); err != nil {
					b.Fatalf("bad output %q: %v", out, err)
				}
			}
			b.ReportMetric(float64(r.Rules), "rules")
			b.ReportMetric(r.Run0, "run0-ms")
			b.ReportMetric(r.Run1, "run1port-ms")
			b.ReportMetric(r.Run10, "run10ports-ms")
			b.ReportMetric(r.FW1, "fw1port-ms")
			b.ReportMetric(r.FW10, "fw10ports-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}
