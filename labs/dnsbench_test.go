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
// inside a container with Debian's dnsperf, against Debian's dnsmasq
// serving the same name in the same namespace, interleaved in one run
// (`nslab bench dns`: 3 rounds of 2 s per row and server, 6 s for the
// latency row; about 110 s).
// Each row and server is a sub-benchmark reporting the median q/s, mean and
// p99 latency, and the server's CPU time per query; the nslab rows add
// nslab/dnsmasq ratios (q/s, and mean latency). Real Docker's embedded DNS joins as a third column where
// dockerd runs inside the lab host; otherwise one line says it is skipped.
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
		Server string
		Row    string
		QPS    float64 `json:"qps"`
		MeanUs float64 `json:"mean_us"`
		P99us  float64 `json:"p99_us"`
		CPUus  float64 `json:"cpu_us_per_query"`
		Lost   int
	}
	var rs []result
	byKey := map[string]result{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			b.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		rs = append(rs, r)
		byKey[r.Server+"/"+r.Row] = r
	}
	for _, r := range rs {
		b.Run(fmt.Sprintf("row=%s/server=%s", r.Row, r.Server), func(b *testing.B) {
			b.ReportMetric(r.QPS, "qps")
			b.ReportMetric(r.MeanUs, "mean-us")
			if r.P99us > 0 {
				b.ReportMetric(r.P99us, "p99-us")
			}
			b.ReportMetric(r.CPUus, "cpu-us/query")
			b.ReportMetric(float64(r.Lost), "lost")
			if dm, ok := byKey["dnsmasq/"+r.Row]; ok && r.Server != "dnsmasq" && dm.QPS > 0 && dm.MeanUs > 0 {
				b.ReportMetric(r.QPS/dm.QPS, "qps/dnsmasq")
				b.ReportMetric(r.MeanUs/dm.MeanUs, "latency/dnsmasq")
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}
