package labs_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/nslab/nslab/engine/labhost"
)

// BenchmarkDNS measures the embedded DNS server through 127.0.0.11:53 from
// inside a container (UDP and TCP, 1 and 16 clients, a bounded 20,000
// queries each), and Debian's dnsmasq serving the same name in the same
// namespace in the same run. Each result is a sub-benchmark with qps, p50
// and p99 latency; the dnsmasq rows add nslab's throughput as a ratio.
//
//	go test -run '^$' -bench DNS -benchtime 1x ./labs/
func BenchmarkDNS(b *testing.B) {
	needBench(b)
	h, err := labhost.Start(labhost.Options{Stderr: os.Stderr})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	out := benchOutput(b, h, "dns")
	type result struct {
		Server, Proto            string
		Clients, Queries, Errors int
		QPS                      float64 `json:"qps"`
		P50us                    float64 `json:"p50_us"`
		P99us                    float64 `json:"p99_us"`
	}
	nslabQPS := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			b.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		key := fmt.Sprintf("proto=%s/clients=%d", r.Proto, r.Clients)
		if r.Server == "nslab" {
			nslabQPS[key] = r.QPS
		}
		b.Run(fmt.Sprintf("server=%s/%s", r.Server, key), func(b *testing.B) {
			b.ReportMetric(r.QPS, "qps")
			b.ReportMetric(r.P50us, "p50-us")
			b.ReportMetric(r.P99us, "p99-us")
			b.ReportMetric(float64(r.Errors), "errors")
			if r.Server == "dnsmasq" && r.QPS > 0 {
				b.ReportMetric(nslabQPS[key]/r.QPS, "nslab/dnsmasq")
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}
