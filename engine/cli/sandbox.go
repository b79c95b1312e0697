package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/nslab/nslab/engine/labhost"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

func sandboxCmd() *cobra.Command {
	var runSize string
	var nodes int
	c := &cobra.Command{
		Use:   "sandbox [--] [COMMAND [ARG...]]",
		Short: "Run a command in a fresh lab host, then remove the lab host",
		Long: `sandbox starts a throwaway lab host (its own pid, network, mount, UTS and
IPC namespaces, with docker0, an engine daemon and a simulated outside),
runs COMMAND inside it with nslab (and docker) first on PATH, removes the lab
host, and exits with COMMAND's status. Without a command it starts a shell.

The lab host's /run, which holds container writable layers and logs, is a
tmpfs limited to --run-size (default: $NSLAB_RUN_SIZE, else 512M).`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := useEngine(); err != nil {
				return err
			}
			o, err := sandboxOptions(runSize)
			if err != nil {
				return err
			}
			if err := nodesOption(cmd, &o, nodes); err != nil {
				return err
			}
			if len(args) == 0 {
				return inSandbox(o, shellArgv(), shellEnv(o))
			}
			return inSandbox(o, args, nil)
		},
	}
	c.Flags().SetInterspersed(false)
	c.Flags().StringVar(&runSize, "run-size", "", "size limit of the lab host's /run tmpfs, such as 512M or 2G (default $"+labhost.EnvRunSize+", else 512M)")
	c.Flags().IntVar(&nodes, "nodes", 0, nodesFlag)
	addEngineFlag(c.Flags())
	return c
}

// sandboxOptions are the lab host options of sandbox and shell.
func sandboxOptions(size string) (labhost.Options, error) {
	o := labhost.Options{Stderr: os.Stderr}
	if size != "" {
		n, err := labhost.ParseSize(size)
		if err != nil {
			return o, fmt.Errorf("--run-size: %w", err)
		}
		o.RunSize = n
	}
	return o, nil
}

func shellCmd() *cobra.Command {
	var runSize string
	var nodes int
	c := &cobra.Command{
		Use:   "shell",
		Short: "An interactive shell on a fresh lab host, where the notes' commands run as written",
		Long: `shell starts a fresh lab host and a shell on it. Type the notes' commands as
they are written: docker is nslab there, sudo runs the command as the root you
already are, and brctl, ip netns, nsenter and iptables-save see the lab host.
Leaving the shell removes the lab host and everything in it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := useEngine(); err != nil {
				return err
			}
			o, err := sandboxOptions(runSize)
			if err != nil {
				return err
			}
			if err := nodesOption(cmd, &o, nodes); err != nil {
				return err
			}
			what := "a lab host"
			if o.Nodes > 0 {
				what = fmt.Sprintf("a sandbox of %d nodes (docker talks to node1; docker -H node2 ..., nslab node node2)", o.Nodes)
			}
			fmt.Fprintf(os.Stderr, "nslab: starting %s; type exit to leave it (everything in it goes away)\n", what)
			return inSandbox(o, shellArgv(), shellEnv(o))
		},
	}
	c.Flags().StringVar(&runSize, "run-size", "", "size limit of the lab host's /run tmpfs, such as 512M or 2G (default $"+labhost.EnvRunSize+", else 512M)")
	c.Flags().IntVar(&nodes, "nodes", 0, nodesFlag)
	addEngineFlag(c.Flags())
	return c
}

// shellArgv is an interactive shell that reads no start-up files, so the
// lab host's prompt is not overwritten.
func shellArgv() []string {
	if _, err := exec.LookPath("bash"); err == nil {
		return []string{"bash", "--noprofile", "--norc", "-i"}
	}
	return []string{"sh", "-i"}
}

// shellEnv makes the prompt say where the learner is.
func shellEnv(o labhost.Options) []string {
	if o.Nodes > 0 {
		return []string{`PS1=[nslab sandbox] \w# `, "HISTFILE=/dev/null"}
	}
	return []string{`PS1=[nslab lab host] \w# `, "HISTFILE=/dev/null"}
}

// nodesFlag is --nodes of sandbox and shell.
const nodesFlag = "Start this many nodes (node1, node2, ...), each a lab host, joined by an underlay bridge (192.0.2.0/24); commands run in the sandbox, docker talks to node1, docker -H NODE to another"

// nodesOption checks --nodes, when given, into o.
func nodesOption(cmd *cobra.Command, o *labhost.Options, nodes int) error {
	if !cmd.Flags().Changed("nodes") {
		return nil
	}
	if err := labhost.CheckNodes(nodes); err != nil {
		return err
	}
	o.Nodes = nodes
	return nil
}

// inSandbox runs argv in a fresh lab host and removes it afterwards,
// returning the command's exit status.
//
// SIGTERM and SIGHUP are caught from the start and never dropped: one that
// arrives while the lab host starts ends the sandbox before the command
// runs; one that arrives later is forwarded to the command, once it has
// started. SIGINT and SIGQUIT are caught (not ignored, so the command keeps
// default handlers) and left to the terminal, which sends them to the
// command itself.
func inSandbox(o labhost.Options, argv, env []string) error {
	sigc := make(chan os.Signal, 8)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigc)
	h, err := labhost.Start(o)
	if err != nil {
		return err
	}
	defer h.Close()
	if s := pendingTermination(sigc); s != 0 {
		return exitError{128 + int(s)}
	}
	c, err := labhost.Command(h.Env(), argv...)
	if err != nil {
		return err
	}
	c.Env = append(c.Env, env...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := c.Start(); err != nil {
		return fmt.Errorf("run %q in the lab host: %w", argv[0], err)
	}
	// Only now is c.Process set; signals that came in meanwhile wait in
	// sigc and are forwarded here, in order.
	proc := c.Process
	watch := h.Watch()
	defer watch.Close()
	stop := make(chan struct{})
	forwarded := make(chan struct{})
	go func() {
		defer close(forwarded)
		for {
			select {
			case s := <-sigc:
				if s == syscall.SIGTERM || s == syscall.SIGHUP {
					proc.Signal(s)
				}
			case <-stop:
				return
			}
		}
	}()
	err = c.Wait()
	close(stop)
	<-forwarded
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ws, _ := ee.Sys().(syscall.WaitStatus)
		if why := diedWith(watch, ws); why != "" {
			fmt.Fprintln(os.Stderr, "nslab:", why)
		}
		h.Close()
		if ws.Signaled() {
			return exitError{128 + int(ws.Signal())}
		}
		return exitError{ee.ExitCode()}
	}
	if err != nil {
		return fmt.Errorf("run %q in the lab host: %w", argv[0], err)
	}
	return nil
}

// diedWith explains a command that ended because a part of the sandbox
// died: the lab host (its supervisor, or its engine daemon beyond the
// supervisor's restarts: the kernel then kills the command), or nsenter,
// which passes on its command's fatal signal. It is "" for an ordinary
// exit or a signal a user sends on purpose.
func diedWith(w *labhost.Watch, ws syscall.WaitStatus) string {
	wait := time.Duration(0)
	if ws.Signaled() && ws.Signal() == syscall.SIGKILL || ws.ExitStatus() == 255 {
		// The kernel kills the lab host's processes before PID 1 is
		// a zombie: give the supervisor a moment to be seen gone.
		wait = 2 * time.Second
	}
	if why, ended := w.Ended(wait); ended {
		return why
	}
	if !ws.Signaled() {
		return ""
	}
	switch ws.Signal() {
	case syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE, syscall.SIGQUIT:
		return ""
	}
	return fmt.Sprintf("the command in the lab host (or nsenter, which ran it there and passes on its signal) was killed by signal %s; the lab host itself was still running", unix.SignalName(ws.Signal()))
}

// pendingTermination returns a SIGTERM or SIGHUP already received, or 0.
// SIGINT and SIGQUIT received so far count too: no command runs yet that
// could have been their target.
func pendingTermination(sigc chan os.Signal) syscall.Signal {
	select {
	case s := <-sigc:
		return s.(syscall.Signal)
	default:
		return 0
	}
}

func hostCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "host COMMAND [ARG...]",
		Short: "Run a command on the lab host itself (ip, brctl, iptables-save, ip monitor, ...)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := labhost.Require(); err != nil {
				return err
			}
			path, err := exec.LookPath(args[0])
			if err != nil {
				return fmt.Errorf("%s: command not found on the lab host", args[0])
			}
			return syscall.Exec(path, args, os.Environ())
		},
	}
	c.Flags().SetInterspersed(false)
	return c
}

func outsideCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "outside COMMAND [ARG...]",
		Short: "Run a command in the lab host's simulated outside (\"the internet\")",
		Long: `outside runs a command in the network namespace behind the lab host's eth0:
the simulated internet, where example.com (203.0.113.80) and the upstream DNS
server (203.0.113.53) live. Use it to reach published ports from outside.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := labhost.Require(); err != nil {
				return err
			}
			nsenter, err := exec.LookPath("nsenter")
			if err != nil {
				return err
			}
			argv := append([]string{"nsenter", "--net=" + labhost.OutsideNetNS, "--"}, args...)
			return syscall.Exec(nsenter, argv, os.Environ())
		},
	}
	c.Flags().SetInterspersed(false)
	return c
}
