package labs_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"
)

// dnsLine is one line of `nslab bench dns` (engine/bench/dnsbench.go).
type dnsLine struct {
	Server string
	Row    string
	QPS    float64 `json:"qps"`
	MeanUs float64 `json:"mean_us"`
	P99us  float64 `json:"p99_us"`
	CPUus  float64 `json:"cpu_us_per_query"`
	// ClientCPUus: the Go client's own CPU per query (tcp-conn-16-go).
	ClientCPUus float64 `json:"client_cpu_us_per_query"`
	Lost        int
}

// BenchmarkDNS measures the embedded DNS server through 127.0.0.11:53 from
// inside a container on a user-defined network with Debian's dnsperf,
// against Debian's dnsmasq serving the same name in the same namespace,
// and, side by side in the same run, real Docker's embedded DNS in a
// Docker-engine lab host (the machine's dockerd), measured the same way
// against a dnsmasq of its own. Each round runs `nslab bench dns --rounds 1`
// in both lab hosts, alternating which goes first, so that load from
// elsewhere hits both alike (rows: 2 s per run and server, 6 s for the
// latency row). Without dockerd, one line says the Docker column is
// skipped.
//
// Each row and server is a sub-benchmark reporting the median over the
// rounds of q/s, mean and p99 latency, and the server's CPU time per query.
// nslab's rows add ratios to dnsmasq and to Docker; Docker's, to the
// dnsmasq of its lab host.
//
//	go test -run '^$' -bench DNS -benchtime 1x ./labs/
//
// NSLAB_BENCH_DNS_ROUNDS sets the rounds (default 3), NSLAB_BENCH_DNS_ROWS
// the rows (default all; see `nslab bench dns --help`).
func BenchmarkDNS(b *testing.B) {
	needBench(b)
	rounds := envInt(b, "NSLAB_BENCH_DNS_ROUNDS", 3, 1, 20)
	hosts := benchHosts(b)
	// Per server (dnsmasq named after the lab host it ran in) and row,
	// every round's figures.
	all := map[[2]string][]dnsLine{}
	var order []string
	for round := 0; round < rounds; round++ {
		for i := range hosts {
			h := hosts[(i+round)%len(hosts)]
			args := []string{"dns", "--rounds", "1"}
			if rows := os.Getenv("NSLAB_BENCH_DNS_ROWS"); rows != "" {
				args = append(args, "--rows", rows)
			}
			out := benchOutput(b, h, args...)
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				var r dnsLine
				if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
					b.Fatalf("bad line %q: %v", sc.Text(), err)
				}
				if r.Server == "dnsmasq" && h != hosts[0] {
					r.Server = "dnsmasq-docker-host"
				}
				k := [2]string{r.Server, r.Row}
				if _, ok := all[k]; !ok {
					order = append(order, r.Server+"\x00"+r.Row)
				}
				all[k] = append(all[k], r)
			}
		}
	}
	med := func(k [2]string, f func(dnsLine) float64) float64 {
		var v []float64
		for _, r := range all[k] {
			v = append(v, f(r))
		}
		if len(v) == 0 {
			return 0
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	qps := func(r dnsLine) float64 { return r.QPS }
	mean := func(r dnsLine) float64 { return r.MeanUs }
	for _, key := range order {
		server, row, _ := bytes.Cut([]byte(key), []byte{0})
		k := [2]string{string(server), string(row)}
		b.Run(fmt.Sprintf("row=%s/server=%s", k[1], k[0]), func(b *testing.B) {
			b.ReportMetric(med(k, qps), "qps")
			b.ReportMetric(med(k, mean), "mean-us")
			if p := med(k, func(r dnsLine) float64 { return r.P99us }); p > 0 {
				b.ReportMetric(p, "p99-us")
			}
			b.ReportMetric(med(k, func(r dnsLine) float64 { return r.CPUus }), "cpu-us/query")
			if c := med(k, func(r dnsLine) float64 { return r.ClientCPUus }); c > 0 {
				b.ReportMetric(c, "client-cpu-us/query")
			}
			lost := 0
			for _, r := range all[k] {
				lost += r.Lost
			}
			b.ReportMetric(float64(lost), "lost")
			ratio := func(other, unit string) {
				o := [2]string{other, k[1]}
				if med(o, qps) > 0 && med(o, mean) > 0 {
					b.ReportMetric(med(k, qps)/med(o, qps), "qps/"+unit)
					b.ReportMetric(med(k, mean)/med(o, mean), "latency/"+unit)
				}
			}
			switch k[0] {
			case "nslab":
				ratio("dnsmasq", "dnsmasq")
				ratio("docker", "docker")
			case "docker":
				ratio("dnsmasq-docker-host", "dnsmasq")
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}
