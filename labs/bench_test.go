package labs_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/nslab/nslab/engine/labhost"
)

// The engine's two costs that grow with the number of containers, measured
// at several sizes inside one fresh lab host per size:
//
//	go test ./labs -run '^$' -bench . -benchtime 1x
//
// Each iteration runs `nslab bench attach|run -n N` in the lab host (see
// engine/bench/bench.go) and reports the median and 90th percentile of the N
// per-container timings; ns/op, the time of a whole iteration, is hidden.
var benchSizes = []int{1, 10, 100, 500}

// BenchmarkAttach times a container's network attach without the daemon:
// create and pin a netns, then a veth with its peer born in it as eth0, an
// address and a default route, on a bridge of its own.
func BenchmarkAttach(b *testing.B) { benchInLabHost(b, "attach") }

// BenchmarkRunDetached times `run -d busybox sleep 1000` through the
// daemon's API, which is `nslab run -d` without the CLI's process start.
func BenchmarkRunDetached(b *testing.B) { benchInLabHost(b, "run") }

// benchLine is what `nslab bench` prints.
type benchLine struct {
	Op      string  `json:"op"`
	N       int     `json:"n"`
	P50Ms   float64 `json:"p50_ms"`
	P90Ms   float64 `json:"p90_ms"`
	MeanMs  float64 `json:"mean_ms"`
	TotalMs float64 `json:"total_ms"`
}

func benchInLabHost(b *testing.B, op string) {
	needBench(b)
	for _, n := range benchSizes {
		// One lab host per size, started on first use: the framework
		// may call the sub-benchmark more than once (b.N = 1, then
		// more), and a size filtered out by -bench starts none.
		var h *labhost.Host
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			if h == nil {
				var err error
				h, err = labhost.Start(labhost.Options{Stderr: os.Stderr})
				if err != nil {
					b.Fatalf("start lab host: %v", err)
				}
			}
			var p50, p90, mean float64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := runBench(b, h, op, n)
				p50 += r.P50Ms
				p90 += r.P90Ms
				mean += r.MeanMs
			}
			b.StopTimer()
			// Averaged over the iterations; with -benchtime 1x, the
			// one run's values.
			b.ReportMetric(p50/float64(b.N), "p50-ms")
			b.ReportMetric(p90/float64(b.N), "p90-ms")
			b.ReportMetric(mean/float64(b.N), "mean-ms")
			b.ReportMetric(0, "ns/op")
		})
		if h != nil {
			h.Close()
		}
	}
}

// benchOutput runs `nslab bench ARGS...` in h and returns what it printed;
// on failure the benchmark stops with the command's error output.
func benchOutput(b *testing.B, h *labhost.Host, args ...string) []byte {
	b.Helper()
	cmd, err := labhost.Command(h.Env(), append([]string{"nslab", "bench"}, args...)...)
	if err != nil {
		b.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("nslab bench %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// runBench runs `nslab bench OP -n N` in h and parses its line.
func runBench(b *testing.B, h *labhost.Host, op string, n int) benchLine {
	out := benchOutput(b, h, op, "-n", strconv.Itoa(n))
	var r benchLine
	if err := json.Unmarshal(bytes.TrimSpace(out), &r); err != nil {
		b.Fatalf("nslab bench %s -n %d printed %q: %v", op, n, out, err)
	}
	if r.Op != op || r.N != n {
		b.Fatalf("nslab bench %s -n %d reported op %q n %d", op, n, r.Op, r.N)
	}
	return r
}

// needBench skips unless a lab host can start here, and checks that it
// would run this test binary as nslab: labhost.Start re-executes the test
// binary as "nslab", which only TestMain's testscript.Main dispatches.
func needBench(b *testing.B) {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("the benchmarks build namespaces and bridges in a lab host, so they need root: run `sudo go test ./labs -run '^$' -bench .`, or use the VM (see README.md)")
	}
	if _, err := exec.LookPath("nsenter"); err != nil {
		b.Fatal("nsenter (Debian package util-linux) is needed to enter a lab host; run scripts/provision.sh as root")
	}
	path, err := exec.LookPath("nslab")
	if err != nil {
		b.Fatalf("nslab is not on PATH: TestMain must register it with testscript.Main: %v", err)
	}
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	st1, err1 := os.Stat(path)
	st2, err2 := os.Stat(self)
	if err1 != nil || err2 != nil || st1.Size() != st2.Size() {
		b.Fatalf("nslab on PATH (%s) is not a copy of this test binary: TestMain must register \"nslab\" with testscript.Main", path)
	}
}
