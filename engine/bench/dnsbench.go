package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/labhost"
	"github.com/nslab/nslab/engine/netns"
	"github.com/spf13/cobra"
)

// dnsRow is one load shape of `nslab bench dns`, as dnsperf runs it.
type dnsRow struct {
	Name     string // "udp-1", "udp-16", "udp-latency", "tcp-conn-16"
	Mode     string // dnsperf -m
	Clients  int    // dnsperf -c
	InFlight int    // dnsperf -q
	// PerConn is dnsperf's num-queries-per-conn (TCP): 1 opens a
	// connection for every query.
	PerConn int
	// Verbose asks dnsperf for every answer's latency, for the p99.
	Verbose bool
	// GoClient runs nslab's own connection-per-query TCP client instead
	// of dnsperf (see dnsRows).
	GoClient bool
}

// dnsRows are the measurements. dnsperf 2.10 cannot itself open a TCP
// connection per query faster than about 10 per second per client: when
// it replaces a connection, its receiving thread stays in a poll() on the
// closed socket until that poll's 100 ms timeout (seen with strace; dnsmasq
// measures the same). So the row tcp-conn-16 shows dnsperf's figure, and
// tcp-conn-16-go the same load from a small client of nslab's own (each of
// 16 workers: connect, one query, read the answer, close).
var dnsRows = []dnsRow{
	{Name: "udp-1", Mode: "udp", Clients: 1, InFlight: 100},
	{Name: "udp-16", Mode: "udp", Clients: 16, InFlight: 100},
	{Name: "udp-latency", Mode: "udp", Clients: 1, InFlight: 1, Verbose: true},
	{Name: "tcp-16", Mode: "tcp", Clients: 16, InFlight: 100},
	{Name: "tcp-conn-16", Mode: "tcp", Clients: 16, InFlight: 16, PerConn: 1, Verbose: true},
	{Name: "tcp-conn-16-go", Mode: "tcp", Clients: 16, InFlight: 16, PerConn: 1, GoClient: true},
}

// dnsResult is one line of `nslab bench dns`: the median over the rounds
// of one server on one row, and each round's figures.
type dnsResult struct {
	Server string  `json:"server"`
	Row    string  `json:"row"`
	QPS    float64 `json:"qps"`
	MeanUs float64 `json:"mean_us"`
	P99us  float64 `json:"p99_us,omitempty"`
	// CPUus is the server process's CPU time (user and system, its
	// reaped children's included, as /proc/PID/stat counts it) per
	// answered query: what it costs the
	// machine, which load from elsewhere does not change as it changes
	// q/s and latency.
	CPUus float64 `json:"cpu_us_per_query"`
	// ClientCPUus is the client's CPU time per answered query, where
	// the client is nslab's own (the Go client row): the client and the
	// server share the machine's cores, so what one spends the other
	// cannot.
	ClientCPUus float64   `json:"client_cpu_us_per_query,omitempty"`
	Lost        int       `json:"lost"`
	Rounds      []float64 `json:"rounds_qps"`
}

// dnsperfRun is what one dnsperf run reported.
type dnsperfRun struct {
	qps, meanUs, p99us, cpuUs, clientCPUus float64
	lost                                   int
}

// dnsTarget is a server under test, reached from the client container,
// and the process that serves it.
type dnsTarget struct {
	name, addr string
	pid        int
}

// dnsmasqAddr is where the comparison server listens, in the same
// container namespace as the load generator.
const dnsmasqAddr = "127.0.0.12"

func benchDNSCmd() *cobra.Command {
	var rounds int
	var seconds float64
	var only []string
	c := &cobra.Command{
		Use:   "dns",
		Short: "Measure the embedded DNS server against dnsmasq with dnsperf, from inside a container",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := labhost.Require(); err != nil {
				return err
			}
			if rounds < 1 || rounds > 20 {
				return fmt.Errorf("--rounds %d: use 1 to 20 (the load is bounded)", rounds)
			}
			if seconds < 0.5 || seconds > 30 {
				return fmt.Errorf("--seconds %g: use 0.5 to 30 (the load is bounded)", seconds)
			}
			rows := dnsRows
			if len(only) > 0 {
				rows = nil
				for _, name := range only {
					i := slices.IndexFunc(dnsRows, func(r dnsRow) bool { return r.Name == name })
					if i < 0 {
						return fmt.Errorf("--rows %q: no such row", name)
					}
					rows = append(rows, dnsRows[i])
				}
			}
			return benchDNS(rows, rounds, seconds)
		},
	}
	c.Flags().StringSliceVar(&only, "rows", nil, "Only these rows (udp-1, udp-16, udp-latency, tcp-16, tcp-conn-16, tcp-conn-16-go)")
	c.Flags().IntVar(&rounds, "rounds", 3, "Rounds; each round runs every row against every server, interleaved")
	c.Flags().Float64Var(&seconds, "seconds", 2, "Seconds per dnsperf run")
	return c
}

func benchDNS(rows []dnsRow, rounds int, seconds float64) (err error) {
	dnsperf, err := exec.LookPath("dnsperf")
	if err != nil {
		return fmt.Errorf("dnsperf (Debian package dnsperf) is the benchmark's client; run scripts/provision.sh as root: %w", err)
	}
	dnsmasq, err := exec.LookPath("dnsmasq")
	if err != nil {
		return fmt.Errorf("dnsmasq (Debian package dnsmasq-base) is needed for the comparison: %w", err)
	}
	// A user network with the querying container and a target, on this
	// lab host's engine: nslab's daemon, or real Docker's.
	engine := labhost.Engine()
	setup := setupNslabDNS
	if engine == labhost.EngineDocker {
		setup = setupDockerDNS
	}
	nsPath, targetIP, server, cleanup, err := setup()
	if cleanup != nil {
		defer cleanup()
	}
	if err != nil {
		return err
	}

	dir, err := os.MkdirTemp(labhost.StateDir, "dnsbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// dnsmasq from Debian, serving the same name from a hosts file, in
	// the same namespace, as a real peer.
	hosts := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hosts, []byte(targetIP+" target\n"), 0o644); err != nil {
		return err
	}
	queries := filepath.Join(dir, "queries")
	if err := os.WriteFile(queries, []byte("target A\n"), 0o644); err != nil {
		return err
	}
	dm := exec.Command("nsenter", "--net="+nsPath, "--", dnsmasq, "--keep-in-foreground", "--no-resolv",
		"--no-hosts", "--addn-hosts="+hosts, "--listen-address="+dnsmasqAddr, "--bind-interfaces",
		"--port=53", "--user=root", "--pid-file", "--local-ttl=600", "--log-facility=/dev/null")
	dm.Stderr = os.Stderr
	if err := dm.Start(); err != nil {
		return fmt.Errorf("start dnsmasq: %w", err)
	}
	defer func() { dm.Process.Kill(); dm.Wait() }()

	// nsenter with --net alone execs dnsmasq in its own process.
	targets := []dnsTarget{server, {"dnsmasq", dnsmasqAddr, dm.Process.Pid}}
	if engine != labhost.EngineDocker {
		fmt.Fprintln(os.Stderr, "docker column: not in this lab host (run this in a Docker-engine lab host, `nslab sandbox --engine docker`, or `go test -run '^$' -bench DNS -benchtime 1x ./labs/` for both side by side)")
	}
	for _, t := range targets {
		// Readiness: bounded retries until the server answers the name.
		var r string
		for i := 0; i < 100 && r != targetIP; i++ {
			if r, _ = queryOnce(nsPath, t.addr+":53", "target."); r != targetIP {
				time.Sleep(20 * time.Millisecond)
			}
		}
		if r != targetIP {
			return fmt.Errorf("%s at %s did not answer target with %s within 2 s (last answer %q)", t.name, t.addr, targetIP, r)
		}
	}

	// Interleaved: each round runs every row against every server in
	// turn, so a load elsewhere on the machine hits all of them alike.
	runs := map[[2]string][]dnsperfRun{}
	for round := 0; round < rounds; round++ {
		for _, row := range rows {
			for i := range targets {
				t := targets[(i+round)%len(targets)] // alternate who goes first
				cpu0, err := cpuTicks(t.pid)
				if err != nil {
					return err
				}
				start := time.Now()
				res, err := runDNSPerf(dnsperf, nsPath, t.addr, queries, row, seconds)
				if err != nil {
					return fmt.Errorf("dnsperf %s against %s: %w", row.Name, t.name, err)
				}
				cpu1, err := cpuTicks(t.pid)
				if err != nil {
					return err
				}
				if n := res.qps * time.Since(start).Seconds(); n > 0 {
					res.cpuUs = float64(cpu1-cpu0) * 1e6 / clockTicks / n
				}
				runs[[2]string{t.name, row.Name}] = append(runs[[2]string{t.name, row.Name}], res)
			}
		}
	}
	enc := json.NewEncoder(os.Stdout)
	for _, row := range rows {
		for _, t := range targets {
			rs := runs[[2]string{t.name, row.Name}]
			out := dnsResult{Server: t.name, Row: row.Name}
			var qps, mean, p99, cpu, clientCPU []float64
			for _, r := range rs {
				qps = append(qps, r.qps)
				mean = append(mean, r.meanUs)
				p99 = append(p99, r.p99us)
				cpu = append(cpu, r.cpuUs)
				clientCPU = append(clientCPU, r.clientCPUus)
				out.Lost += r.lost
			}
			out.Rounds = qps
			out.QPS, out.MeanUs, out.P99us, out.CPUus = medianOf(qps), medianOf(mean), medianOf(p99), medianOf(cpu)
			out.ClientCPUus = medianOf(clientCPU)
			enc.Encode(out)
		}
	}
	return nil
}

// setupNslabDNS makes the benchmark's network and containers through
// nslab's daemon and returns the client's namespace, the target's address,
// the embedded server (the daemon serves every container's 127.0.0.11) and
// what removes them.
func setupNslabDNS() (nsPath, targetIP string, server dnsTarget, cleanup func(), err error) {
	if err := call(api.NetworkCreate{Name: "benchdns"}, nil); err != nil {
		return "", "", server, nil, err
	}
	cleanup = func() {
		call(api.RmRequest{Names: []string{"dnsclient", "target"}, Force: true}, nil)
		call(api.NetworkRmRequest{Names: []string{"benchdns"}}, nil)
	}
	for _, name := range []string{"dnsclient", "target"} {
		if err := call(api.RunOptions{Name: name, Image: "busybox", Cmd: []string{"sleep", "3600"}, Network: "benchdns", Detach: true}, nil); err != nil {
			return "", "", server, cleanup, err
		}
	}
	var info []struct {
		NetworkSettings struct {
			SandboxKey string
			Networks   map[string]struct{ IPAddress string }
		}
	}
	if err := call(api.InspectRequest{Names: []string{"dnsclient", "target"}}, &info); err != nil {
		return "", "", server, cleanup, err
	}
	pid, err := findDaemon()
	if err != nil {
		return "", "", server, cleanup, err
	}
	return info[0].NetworkSettings.SandboxKey, info[1].NetworkSettings.Networks["benchdns"].IPAddress,
		dnsTarget{"nslab", "127.0.0.11", pid}, cleanup, nil
}

// setupDockerDNS is setupNslabDNS on real Docker, in a Docker-engine lab
// host, through the docker CLI. Docker's embedded DNS server runs inside
// dockerd (a socket in each container's namespace, reached at 127.0.0.11:53
// through DNAT rules), so dockerd's CPU time is the server's.
func setupDockerDNS() (nsPath, targetIP string, server dnsTarget, cleanup func(), err error) {
	cli, env, err := cliOf(labhost.EngineDocker)
	if err != nil {
		return "", "", server, nil, err
	}
	docker := func(args ...string) (string, error) {
		cmd := exec.Command(cli, args...)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return strings.TrimSpace(string(out)), nil
	}
	if _, err := docker("network", "create", "benchdns"); err != nil {
		return "", "", server, nil, err
	}
	cleanup = func() {
		docker("rm", "-f", "dnsclient", "target")
		docker("network", "rm", "benchdns")
	}
	for _, name := range []string{"dnsclient", "target"} {
		if _, err := docker("run", "-d", "--pull", "never", "--name", name, "--network", "benchdns", "busybox", "sleep", "3600"); err != nil {
			return "", "", server, cleanup, err
		}
	}
	if nsPath, err = docker("inspect", "-f", "{{.NetworkSettings.SandboxKey}}", "dnsclient"); err != nil {
		return "", "", server, cleanup, err
	}
	if targetIP, err = docker("inspect", "-f", "{{.NetworkSettings.Networks.benchdns.IPAddress}}", "target"); err != nil {
		return "", "", server, cleanup, err
	}
	b, err := os.ReadFile(labhost.DockerPidfile)
	if err != nil {
		return "", "", server, cleanup, fmt.Errorf("dockerd's pid: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return "", "", server, cleanup, fmt.Errorf("dockerd's pid file %s: %w", labhost.DockerPidfile, err)
	}
	return nsPath, targetIP, dnsTarget{"docker", "127.0.0.11", pid}, cleanup, nil
}

// runDNSPerf runs dnsperf inside the namespace at nsPath against addr:53
// for the given seconds, and parses its report.
func runDNSPerf(dnsperf, nsPath, addr, queries string, row dnsRow, seconds float64) (dnsperfRun, error) {
	if row.GoClient {
		return runTCPConnClient(nsPath, addr, row.Clients, seconds)
	}
	if row.InFlight == 1 {
		// dnsperf sends only 10-100 queries a second with one in
		// flight: run three times as long for a mean worth the name.
		seconds *= 3
	}
	args := []string{"--net=" + nsPath, "--", dnsperf, "-s", addr, "-p", "53", "-m", row.Mode, "-d", queries,
		"-c", strconv.Itoa(row.Clients), "-q", strconv.Itoa(row.InFlight),
		"-l", strconv.FormatFloat(seconds, 'f', -1, 64), "-t", "2"}
	if row.PerConn > 0 {
		args = append(args, "-O", fmt.Sprintf("num-queries-per-conn=%d", row.PerConn))
	}
	if row.Verbose {
		args = append(args, "-v")
	}
	cmd := exec.Command("nsenter", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return dnsperfRun{}, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return parseDNSPerf(out)
}

// parseDNSPerf reads dnsperf's statistics and, with -v, each answer's
// latency (the last field of the lines starting with "> ").
func parseDNSPerf(out []byte) (dnsperfRun, error) {
	var r dnsperfRun
	var lat []float64
	var haveQPS, haveMean bool
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "> ") && len(f) >= 2:
			if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
				lat = append(lat, v*1e6)
			}
		case strings.HasPrefix(line, "Queries per second:") && len(f) == 4:
			v, err := strconv.ParseFloat(f[3], 64)
			r.qps, haveQPS = v, err == nil
		case strings.HasPrefix(line, "Average Latency (s):") && len(f) >= 4 && !haveMean:
			// The first is the queries'; a TCP run adds the connections'.
			v, err := strconv.ParseFloat(f[3], 64)
			r.meanUs, haveMean = v*1e6, err == nil
		case strings.HasPrefix(line, "Queries lost:") && len(f) >= 3:
			r.lost, _ = strconv.Atoi(f[2])
		case strings.HasPrefix(line, "Response codes:") && (!strings.Contains(line, "NOERROR") || !strings.Contains(line, "(100.00%)")):
			return r, fmt.Errorf("dnsperf got errors: %s", line)
		}
	}
	if !haveQPS || !haveMean {
		return r, fmt.Errorf("no statistics in dnsperf's output:\n%s", out)
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		r.p99us = lat[len(lat)*99/100]
	}
	return r, nil
}

func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// queryOnce asks addr for name's A record over UDP from inside the
// namespace at nsPath.
func queryOnce(nsPath, addr, name string) (string, error) {
	var c net.Conn
	err := netns.Do(nsPath, func() (err error) {
		c, err = net.DialTimeout("udp", addr, 2*time.Second)
		return err
	})
	if err != nil {
		return "", err
	}
	conn := &dns.Conn{Conn: c}
	defer conn.Close()
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	m, _, err := (&dns.Client{Timeout: time.Second}).ExchangeWithConn(q, conn)
	if err != nil {
		return "", err
	}
	if len(m.Answer) == 0 {
		return "", errors.New("no answer (" + dns.RcodeToString[m.Rcode] + ")")
	}
	a, ok := m.Answer[0].(*dns.A)
	if !ok {
		return "", fmt.Errorf("answer %v is not an A record", m.Answer[0])
	}
	return a.A.String(), nil
}

// runTCPConnClient runs `nslab bench dns-tcp-client` inside the namespace.
func runTCPConnClient(nsPath, addr string, clients int, seconds float64) (dnsperfRun, error) {
	// By name, as the lab host runs it: the test harness's nslab is a
	// link that dispatches on its name, which os.Executable loses.
	self, err := exec.LookPath("nslab")
	if err != nil {
		if self, err = os.Executable(); err != nil {
			return dnsperfRun{}, err
		}
	}
	cmd := exec.Command("nsenter", "--net="+nsPath, "--", self, "bench", "dns-tcp-client", "--addr", addr+":53",
		"--clients", strconv.Itoa(clients), "--seconds", strconv.FormatFloat(seconds, 'f', -1, 64))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return dnsperfRun{}, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var r struct{ QPS, MeanUs, P99us, CPUus float64 }
	if err := json.Unmarshal(out, &r); err != nil {
		return dnsperfRun{}, fmt.Errorf("dns-tcp-client printed %q: %w", out, err)
	}
	return dnsperfRun{qps: r.QPS, meanUs: r.MeanUs, p99us: r.P99us, clientCPUus: r.CPUus}, nil
}

// benchDNSTCPClientCmd is the hidden `nslab bench dns-tcp-client`: clients
// workers, each connecting to addr over TCP, asking for "target." A,
// reading the answer and closing, over and over for the given seconds
// (bounded: at most 30 s, each query 2 s). It runs in the namespace it was
// started in, and prints qps, mean and p99 latency as JSON.
func benchDNSTCPClientCmd() *cobra.Command {
	var addr string
	var clients int
	var seconds float64
	c := &cobra.Command{
		Use:    "dns-tcp-client",
		Short:  "One TCP connection per DNS query, from the current network namespace (used by bench dns)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := labhost.Require(); err != nil {
				return err
			}
			if clients < 1 || clients > 256 || seconds <= 0 || seconds > 30 {
				return fmt.Errorf("--clients %d --seconds %g: use 1 to 256 clients and at most 30 s", clients, seconds)
			}
			if _, err := netip.ParseAddrPort(addr); err != nil {
				return fmt.Errorf("--addr %q: %w", addr, err)
			}
			return tcpConnClient(addr, clients, time.Duration(seconds*float64(time.Second)))
		},
	}
	c.Flags().StringVar(&addr, "addr", "", "Server address:port")
	c.Flags().IntVar(&clients, "clients", 16, "Concurrent clients")
	c.Flags().Float64Var(&seconds, "seconds", 2, "Duration")
	return c
}

func tcpConnClient(addr string, clients int, d time.Duration) error {
	q := new(dns.Msg)
	q.SetQuestion("target.", dns.TypeA)
	lat := make([][]time.Duration, clients)
	errs := make([]int, clients)
	firstErr := make([]error, clients)
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// No keepalive: four setsockopt calls per connection for a
			// timer that never fires on a connection this short.
			cl := &dns.Client{Net: "tcp", Timeout: 2 * time.Second, Dialer: &net.Dialer{Timeout: 2 * time.Second, KeepAlive: -1}}
			for time.Now().Before(end) {
				t0 := time.Now()
				m, _, err := cl.Exchange(q, addr)
				if err == nil && len(m.Answer) != 1 {
					err = fmt.Errorf("%d answers, want 1", len(m.Answer))
				}
				if err != nil {
					if errs[i]++; firstErr[i] == nil {
						firstErr[i] = fmt.Errorf("after %v: %w", time.Since(start).Round(time.Millisecond), err)
					}
					continue
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	nerr := 0
	for i := range lat {
		all = append(all, lat[i]...)
		nerr += errs[i]
	}
	if nerr > 0 || len(all) == 0 {
		if nerr == 0 {
			return errors.New("no query was answered")
		}
		return fmt.Errorf("%d queries failed, %d answered; the first failures: %w", nerr, len(all), errors.Join(firstErr...))
	}
	slices.Sort(all)
	var sum time.Duration
	for _, l := range all {
		sum += l
	}
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return fmt.Errorf("the client's CPU time: %w", err)
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return json.NewEncoder(os.Stdout).Encode(map[string]float64{
		"QPS": float64(len(all)) / elapsed.Seconds(), "MeanUs": us(sum / time.Duration(len(all))), "P99us": us(all[len(all)*99/100]),
		"CPUus": us(cpu) / float64(len(all)),
	})
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times on Linux.
const clockTicks = 100

// cpuTicks returns a process's user plus system time, with that of the
// children it has reaped, in clock ticks.
func cpuTicks(pid int) (int64, error) { return procTicks(pid, true) }

// procTicks is cpuTicks, with or without the reaped children's time.
func procTicks(pid int, children bool) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("CPU time of pid %d: %w", pid, err)
	}
	// Fields after the command (which may hold spaces) in parentheses.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	// utime, stime, then cutime and cstime: the children it waited for
	// (dnsmasq forks one per TCP connection).
	if len(f) < 15 {
		return 0, fmt.Errorf("CPU time of pid %d: short /proc/%d/stat", pid, pid)
	}
	var sum int64
	fields := f[11:15]
	if !children {
		fields = f[11:13]
	}
	for _, s := range fields {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("CPU time of pid %d: bad /proc/%d/stat: %w", pid, pid, err)
		}
		sum += v
	}
	return sum, nil
}

// findDaemon returns the pid of this lab host's engine daemon (nslab
// __daemon), which serves every container's embedded DNS.
func findDaemon() (int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if args := strings.Split(string(cmd), "\x00"); len(args) > 1 && args[1] == "__daemon" {
			return pid, nil
		}
	}
	return 0, errors.New("no engine daemon (nslab __daemon) in this lab host's /proc")
}
