package bench

// `nslab bench cli`: run -d and rm -f as typed at the CLI, timed from
// inside a lab host of either engine: each timing is one exec of the CLI
// binary, from fork to exit, as a shell would run it. The orchestrator
// (labs/clibench_test.go) calls it in blocks, alternating between an nslab
// lab host and a Docker-engine one, so that load from elsewhere hits both.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/nslab/nslab/engine/labhost"
	"github.com/spf13/cobra"
)

// cliBlock is what `nslab bench cli` prints: the engine, the op, each
// call's time in ms and, if a call failed, its error output (the calls
// stop there).
type cliBlock struct {
	Engine string    `json:"engine"`
	Op     string    `json:"op"`
	Ms     []float64 `json:"ms"`
	// CLIcpuMs is each call's CLI process CPU time (user and system).
	CLIcpuMs []float64 `json:"cli_cpu_ms"`
	// DaemonCPUms is nslab's daemon's own CPU time (not its reaped
	// children's, such as a removed container's) during each call, at the
	// kernel's 10 ms tick: one call's figure is coarse, a mean over many
	// is not. Unlike wall time it barely moves when other work loads the
	// machine, so it shows whether a call's cost grows with N. (Real
	// Docker's work is spread over dockerd, containerd, a shim and runc
	// per container, so it has no such column.)
	DaemonCPUms []float64 `json:"daemon_cpu_ms,omitempty"`
	Error       string    `json:"error,omitempty"`
}

func benchCLICmd() *cobra.Command {
	var op, network string
	var first, count int
	c := &cobra.Command{
		Use:    "cli",
		Short:  "Time `docker run -d` or `docker rm -f` as execs of the CLI, for containers bench-FIRST.. (inside a lab host of either engine)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := labhost.Require(); err != nil {
				return err
			}
			if op != "run" && op != "rm" {
				return fmt.Errorf("--op %q: use run or rm", op)
			}
			if first < 0 || count < 1 || count > 2000 {
				return fmt.Errorf("--first %d --count %d: use a first of 0 or more and 1 to 2000 containers", first, count)
			}
			b, err := benchCLI(op, network, first, count)
			if err != nil {
				return err
			}
			return json.NewEncoder(os.Stdout).Encode(b)
		},
	}
	c.Flags().StringVar(&op, "op", "run", "run (run -d busybox sleep 86400) or rm (rm -f)")
	c.Flags().StringVar(&network, "network", "", "Network for run (default: the default bridge)")
	c.Flags().IntVar(&first, "first", 0, "Number of the first container, bench-FIRST")
	c.Flags().IntVar(&count, "count", 10, "Containers")
	return c
}

// cliOf is the CLI binary of this lab host's engine and its environment:
// nslab's docker (the lab host's link to nslab), or the machine's real
// docker CLI with the settings of the lab host's docker wrapper, run
// directly so that no shell's start is counted.
func cliOf(engine string) (string, []string, error) {
	env := os.Environ()
	if engine != labhost.EngineDocker {
		return filepath.Join(labhost.BinDir, "docker"), env, nil
	}
	cli, err := labhost.CheckEngine(labhost.EngineDocker)
	if err != nil {
		return "", nil, err
	}
	env = append(env, "DOCKER_HOST=unix://"+labhost.DockerSocket, "DOCKER_CONFIG="+labhost.DockerDir+"/cli")
	return cli, env, nil
}

func benchCLI(op, network string, first, count int) (cliBlock, error) {
	engine := labhost.Engine()
	cli, env, err := cliOf(engine)
	if err != nil {
		return cliBlock{}, err
	}
	out := cliBlock{Engine: engine, Op: op}
	daemon := 0
	if engine == labhost.EngineNslab {
		if daemon, err = findDaemon(); err != nil {
			return out, err
		}
	}
	for i := first; i < first+count; i++ {
		name := fmt.Sprintf("bench-%d", i)
		var args []string
		switch op {
		case "run":
			args = []string{"run", "-d"}
			if engine == labhost.EngineDocker {
				args = append(args, "--pull", "never") // as the lab host's wrapper does
			}
			if network != "" {
				args = append(args, "--network", network)
			}
			args = append(args, "--name", name, "busybox", "sleep", "86400") // outlives any run: a container that exits frees its port
		case "rm":
			args = []string{"rm", "-f", name}
		}
		cmd := exec.Command(cli, args...)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		var t0 int64
		if daemon != 0 {
			if t0, err = procTicks(daemon, false); err != nil {
				return out, err
			}
		}
		start := time.Now()
		err := cmd.Run()
		d := time.Since(start)
		if err != nil {
			out.Error = fmt.Sprintf("%s %s: %v: %s", filepath.Base(cli), strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
			break
		}
		out.Ms = append(out.Ms, float64(d.Microseconds())/1000)
		cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		out.CLIcpuMs = append(out.CLIcpuMs, float64(cpu.Microseconds())/1000)
		if daemon != 0 {
			t1, err := procTicks(daemon, false)
			if err != nil {
				return out, err
			}
			out.DaemonCPUms = append(out.DaemonCPUms, float64(t1-t0)*1000/clockTicks)
		}
	}
	return out, nil
}
