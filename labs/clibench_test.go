package labs_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nslab/nslab/engine/labhost"
)

// cliBlock is what `nslab bench cli` prints (engine/bench/clibench.go).
type cliBlock struct {
	Engine      string    `json:"engine"`
	Op          string    `json:"op"`
	Ms          []float64 `json:"ms"`
	CLIcpuMs    []float64 `json:"cli_cpu_ms"`
	DaemonCPUms []float64 `json:"daemon_cpu_ms"`
	Error       string    `json:"error"`
}

// meanOf is the mean of v.
func meanOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// benchCLIBlock runs `nslab bench cli` in h for containers bench-first..
// and returns its block.
func benchCLIBlock(b *testing.B, h *labhost.Host, op string, first, count int, extra ...string) cliBlock {
	b.Helper()
	out := benchOutput(b, h, append([]string{"cli", "--op", op, "--first", strconv.Itoa(first), "--count", strconv.Itoa(count)}, extra...)...)
	var r cliBlock
	if err := json.Unmarshal(bytes.TrimSpace(out), &r); err != nil {
		b.Fatalf("nslab bench cli printed %q: %v", out, err)
	}
	return r
}

// envInt is an integer setting from the environment, or def.
func envInt(b *testing.B, name string, def, lo, hi int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		b.Fatalf("%s=%q: want %d to %d", name, s, lo, hi)
	}
	return n
}

// pct is the nearest-rank percentile p of ms.
func pct(ms []float64, p float64) float64 {
	if len(ms) == 0 {
		return 0
	}
	s := slices.Clone(ms)
	slices.Sort(s)
	return s[max(int(math.Ceil(p*float64(len(s))))-1, 0)]
}

// BenchmarkCLI times `docker run -d busybox sleep 86400` and `docker rm -f`
// as execs of the CLI binary, N containers each, on nslab and, side by
// side in the same run, on real Docker (the machine's dockerd in a
// Docker-engine lab host). The runs go in blocks of 10, alternating which
// engine goes first, then the removals the same way, so that load from
// elsewhere on the machine hits both alike. Without dockerd, one line says
// the Docker column is skipped.
//
//	go test -run '^$' -bench CLI -benchtime 1x ./labs/
//
// NSLAB_BENCH_CLI_N sets N (default 100).
func BenchmarkCLI(b *testing.B) {
	needBench(b)
	n := envInt(b, "NSLAB_BENCH_CLI_N", 100, 1, 1000)
	const block = 10
	hosts := benchHosts(b)
	if len(hosts) > 1 {
		cmd, _ := labhost.Command(hosts[1].Env(), "docker", "info", "-f", "{{.ServerVersion}} {{.Driver}} {{.DockerRootDir}}")
		info, _ := cmd.Output()
		fmt.Printf("docker: dockerd %s (version, storage driver, data root; the data root is on the lab host's tmpfs /run)\n", strings.TrimSpace(string(info)))
	}
	// One warm-up container each, not counted: the first run of a lab
	// host loads the image.
	for _, h := range hosts {
		for _, op := range []string{"run", "rm"} {
			if r := benchCLIBlock(b, h, op, 100000, 1); r.Error != "" {
				b.Fatalf("warm-up %s on %s: %s", op, r.Engine, r.Error)
			}
		}
	}
	ms := map[[2]string][]float64{}  // engine, op
	cli := map[[2]string][]float64{} // the CLI's CPU time
	dcpu := map[[2]string][]float64{}
	for _, op := range []string{"run", "rm"} {
		for first, k := 0, 0; first < n; first, k = first+block, k+1 {
			count := min(block, n-first)
			for i := range hosts {
				h := hosts[(i+k)%len(hosts)]
				r := benchCLIBlock(b, h, op, first, count)
				if r.Error != "" {
					b.Fatalf("%s on %s: %s", op, r.Engine, r.Error)
				}
				k := [2]string{r.Engine, op}
				ms[k] = append(ms[k], r.Ms...)
				cli[k] = append(cli[k], r.CLIcpuMs...)
				dcpu[k] = append(dcpu[k], r.DaemonCPUms...)
			}
		}
	}
	for _, e := range []string{labhost.EngineNslab, labhost.EngineDocker} {
		for _, op := range []string{"run", "rm"} {
			v := ms[[2]string{e, op}]
			if len(v) == 0 {
				continue
			}
			b.Run(fmt.Sprintf("engine=%s/op=%s/N=%d", e, op, n), func(b *testing.B) {
				k := [2]string{e, op}
				b.ReportMetric(pct(v, 0.5), "p50-ms")
				b.ReportMetric(pct(v, 0.9), "p90-ms")
				b.ReportMetric(meanOf(cli[k]), "cli-cpu-ms")
				if len(dcpu[k]) > 0 {
					b.ReportMetric(meanOf(dcpu[k]), "daemon-cpu-ms")
				}
				if e == labhost.EngineNslab {
					if d := ms[[2]string{labhost.EngineDocker, op}]; len(d) > 0 {
						b.ReportMetric(pct(v, 0.5)/pct(d, 0.5), "p50/docker")
					}
					if op == "rm" {
						b.ReportMetric(pct(v, 0.5)/pct(ms[[2]string{e, "run"}], 0.5), "p50/run")
					}
				}
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// BenchmarkCLIToBridgeLimit fills one bridge: `docker run -d` as typed at
// the CLI, one container after another, up to the kernel's 1023 ports per
// bridge, then the 1024th, which must be refused with the kernel's
// "exchange full"; then `docker rm -f` of all, newest first. It reports the
// median of run and rm over each range of the bridge's fill, to show that
// neither grows with N, and the daemon's mean CPU time per call, which
// load from elsewhere barely moves. nslab only: real Docker's limit is the same kernel's
// (moby/moby#14718).
//
//	go test -run '^$' -bench CLIToBridgeLimit -benchtime 1x ./labs/
func BenchmarkCLIToBridgeLimit(b *testing.B) {
	needBench(b)
	h, err := labhost.Start(labhost.Options{Stderr: os.Stderr})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	const limit = 1023 // ports per bridge (BR_MAX_PORTS - 1)
	var run, runCPU []float64
	for first := 0; first < limit; first += 100 {
		r := benchCLIBlock(b, h, "run", first, min(100, limit-first))
		if r.Error != "" {
			b.Fatalf("run bench-%d: %s", first+len(r.Ms), r.Error)
		}
		run = append(run, r.Ms...)
		runCPU = append(runCPU, r.DaemonCPUms...)
	}
	over := benchCLIBlock(b, h, "run", limit, 1)
	if over.Error == "" || !strings.Contains(over.Error, "exchange full") {
		b.Fatalf("container %d on one bridge: want the kernel's refusal (exchange full), got %+v", limit+1, over)
	}
	fmt.Printf("container %d: %s\n", limit+1, over.Error)
	// rm -f newest first, so rm at fill N sees N ports on the bridge.
	rm, rmCPU := make([]float64, limit), make([]float64, limit)
	for last := limit; last > 0; last -= 100 {
		first := max(last-100, 0)
		r := benchCLIBlock(b, h, "rm", first, last-first)
		if r.Error != "" {
			b.Fatalf("rm: %s", r.Error)
		}
		copy(rm[first:], r.Ms)
		copy(rmCPU[first:], r.DaemonCPUms)
	}
	ranges := [][2]int{{1, 1}, {2, 10}, {11, 100}, {101, 500}, {501, 1000}, {1001, 1023}}
	for _, rg := range ranges {
		b.Run(fmt.Sprintf("N=%d-%d", rg[0], rg[1]), func(b *testing.B) {
			b.ReportMetric(pct(run[rg[0]-1:rg[1]], 0.5), "run-p50-ms")
			b.ReportMetric(pct(run[rg[0]-1:rg[1]], 0.9), "run-p90-ms")
			b.ReportMetric(pct(rm[rg[0]-1:rg[1]], 0.5), "rm-p50-ms")
			b.ReportMetric(pct(rm[rg[0]-1:rg[1]], 0.9), "rm-p90-ms")
			b.ReportMetric(meanOf(runCPU[rg[0]-1:rg[1]]), "run-daemon-cpu-ms")
			b.ReportMetric(meanOf(rmCPU[rg[0]-1:rg[1]]), "rm-daemon-cpu-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// benchHosts starts an nslab lab host and, where dockerd is installed, a
// Docker-engine one beside it (else one line says the Docker column is
// skipped); both are closed when b ends.
func benchHosts(b *testing.B) []*labhost.Host {
	b.Helper()
	nh, err := labhost.Start(labhost.Options{Stderr: os.Stderr})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nh.Close() })
	if _, err := labhost.CheckEngine(labhost.EngineDocker); err != nil {
		fmt.Println("docker column skipped:", err)
		return []*labhost.Host{nh}
	}
	dh, err := labhost.Start(labhost.Options{Stderr: os.Stderr, Engine: labhost.EngineDocker})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dh.Close() })
	return []*labhost.Host{nh, dh}
}
