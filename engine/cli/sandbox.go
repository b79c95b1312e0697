package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/nslab/nslab/engine/labhost"
	"github.com/spf13/cobra"
)

func sandboxCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "sandbox [--] [COMMAND [ARG...]]",
		Short: "Run a command in a fresh lab host, then remove the lab host",
		Long: `sandbox starts a throwaway lab host (its own pid, network, mount, UTS and
IPC namespaces, with docker0, an engine daemon and a simulated outside),
runs COMMAND inside it with nslab (and docker) first on PATH, removes the lab
host, and exits with COMMAND's status. Without a command it starts a shell.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := useEngine(); err != nil {
				return err
			}
			if len(args) == 0 {
				return inSandbox(shellArgv(), shellEnv())
			}
			return inSandbox(args, nil)
		},
	}
	c.Flags().SetInterspersed(false)
	addEngineFlag(c.Flags())
	return c
}

func shellCmd() *cobra.Command {
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
			fmt.Fprintln(os.Stderr, "nslab: starting a lab host; type exit to leave it (everything in it goes away)")
			return inSandbox(shellArgv(), shellEnv())
		},
	}
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
func shellEnv() []string {
	return []string{`PS1=[nslab lab host] \w# `, "HISTFILE=/dev/null"}
}

// inSandbox runs argv in a fresh lab host and removes it afterwards,
// returning the command's exit status.
func inSandbox(argv, env []string) error {
	h, err := labhost.Start(labhost.Options{Stderr: os.Stderr})
	if err != nil {
		return err
	}
	defer h.Close()
	c, err := labhost.Command(h.Env(), argv...)
	if err != nil {
		return err
	}
	c.Env = append(c.Env, env...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Let ^C reach the command, not us: catch (not ignore) the signals, so
	// the command keeps default handlers.
	sigc := make(chan os.Signal, 4)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigc)
	go func() {
		for s := range sigc {
			if s == syscall.SIGTERM || s == syscall.SIGHUP {
				if c.Process != nil {
					c.Process.Signal(s)
				}
			}
		}
	}()
	err = c.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		h.Close()
		return exitError{ee.ExitCode()}
	}
	if err != nil {
		return fmt.Errorf("run %q in the lab host: %w", argv[0], err)
	}
	return nil
}

func hostCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "host COMMAND [ARG...]",
		Short: "Run a command on the lab host itself (ip, brctl, iptables-save, ip monitor, ...)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireLabHost(); err != nil {
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
			if err := requireLabHost(); err != nil {
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
