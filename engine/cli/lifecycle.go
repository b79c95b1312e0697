package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/labhost"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// lifecycleFlags are run's --restart and --stop-signal.
func lifecycleFlags(f *pflag.FlagSet, o *api.RunOptions) {
	f.StringVar(&o.Restart, "restart", "no", "Restart policy to apply when a container exits (no, on-failure[:max-retries], always, unless-stopped)")
	f.StringVar(&o.StopSignal, "stop-signal", "", "Signal to stop a container (default SIGTERM)")
}

// checkLifecycleFlags is what Docker's CLI refuses itself, before asking
// the daemon, with its words; the daemon checks the policy's name.
func checkLifecycleFlags(o api.RunOptions) error {
	if _, count, ok := strings.Cut(o.Restart, ":"); ok {
		if _, err := strconv.Atoi(count); err != nil {
			return errors.New("invalid restart policy format: maximum retry count must be an integer")
		}
	}
	if o.AutoRemove && o.Restart != "" && o.Restart != "no" {
		return errors.New("conflicting options: cannot specify both --restart and --rm")
	}
	return nil
}

// startError is a run whose container was created but did not start:
// Docker prints the ID of a detached run first, then the error.
func startError(o api.RunOptions, res api.RunResult) error {
	if o.Detach {
		fmt.Println(res.ID)
	}
	return startFailure{&api.Error{Msg: res.StartError}}
}

// startFailure is an error of the daemon's start of a created container.
// Docker's CLI reports it without the "See 'docker run --help'" line that
// follows a refused create.
type startFailure struct{ error }

func (e startFailure) Unwrap() error { return e.error }

func startCmd() *cobra.Command {
	var attach, interactive bool
	c := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if attach || interactive {
				if len(args) > 1 {
					fmt.Fprintln(os.Stderr, "you cannot start and attach multiple containers at once")
					return exitError{1}
				}
				code, err := startAttached(args[0], interactive)
				if err != nil {
					return err
				}
				if code != 0 {
					return exitError{code}
				}
				return nil
			}
			// As Docker's CLI: each name on success, each error as it
			// comes, then the list of those that failed.
			var failed []string
			for _, name := range args {
				var res api.StartResult
				if err := call(api.StartRequest{Container: name}, &res); err != nil {
					printCallError(err)
					failed = append(failed, name)
					continue
				}
				fmt.Println(name)
			}
			if len(failed) > 0 {
				fmt.Fprintf(os.Stderr, "Error: failed to start containers: %s\n", strings.Join(failed, ", "))
				return exitError{1}
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	c.Flags().BoolVarP(&interactive, "interactive", "i", false, "Attach container's STDIN")
	return c
}

func restartCmd() *cobra.Command {
	var timeout int
	c := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := api.RestartRequest{}
			if cmd.Flags().Changed("time") {
				req.Timeout = &timeout
			}
			var errs []string
			for _, name := range args {
				req.Container = name
				var id string
				if err := call(req, &id); err != nil {
					errs = append(errs, callErrorText(err))
					continue
				}
				fmt.Println(name)
			}
			if len(errs) > 0 {
				fmt.Fprintln(os.Stderr, strings.Join(errs, "\n"))
				return exitError{1}
			}
			return nil
		},
	}
	c.Flags().IntVarP(&timeout, "time", "t", 10, "Seconds to wait for stop before killing the container")
	return c
}

func callErrorText(err error) string {
	if api.IsDaemonError(err) {
		return "Error response from daemon: " + err.Error()
	}
	return "nslab: " + err.Error()
}

func printCallError(err error) { fmt.Fprintln(os.Stderr, callErrorText(err)) }

// startAttached starts one container with the caller's terminal or
// stdout and stderr (and, with -i, stdin) as its stdio, as run does
// without -d, and returns its exit code.
func startAttached(name string, interactive bool) (int, error) {
	var raw api.InspectResponse
	if err := call(api.InspectRequest{Names: []string{name}}, &raw); err != nil {
		return 0, err
	}
	var info struct{ Config struct{ Tty bool } }
	if len(raw) != 1 || json.Unmarshal(raw[0], &info) != nil {
		return 0, fmt.Errorf("inspect %s: unexpected answer", name)
	}
	if err := labhost.Require(); err != nil {
		return 0, err
	}
	a, err := attach(info.Config.Tty, interactive)
	if err != nil {
		return 0, err
	}
	defer a.close()
	conn, err := labhost.Connect(api.StartRequest{Container: name, Attach: true, Interactive: interactive}, a.files...)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var res api.StartResult
	if err := conn.Recv(&res); err != nil {
		return 0, err
	}
	return a.pump(res.ID, interactive, func() (*int, error) {
		err := conn.Recv(&res)
		return res.ExitCode, err
	})
}
