// Package cli is nslab's command line. Its verbs, flags and output formats
// mirror Docker's (run, exec, ps, logs, stop, rm, inspect -f, network ls and
// inspect), so the commands in the notes translate one to one; `docker` is
// an alias inside a lab host. It also holds the hidden entry points of the
// re-exec'd helpers: the lab host supervisor, the daemon and container init.
package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/bench"
	"github.com/nslab/nslab/engine/container"
	"github.com/nslab/nslab/engine/daemon"
	"github.com/nslab/nslab/engine/dns"
	"github.com/nslab/nslab/engine/labhost"
	"github.com/spf13/cobra"
)

func init() {
	// Keep the main goroutine, and so no other goroutine, on the main
	// thread: namespace helpers switch threads, and the main thread is the
	// one the runtime cannot discard if a switch back fails. Its namespaces
	// are the ones /proc/PID/ns shows for the whole process.
	runtime.LockOSThread()
}

// exitError carries an exit status out of a command.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Main runs nslab with os.Args and returns the exit status.
func Main() int {
	switch {
	case isProxy():
		return proxyMain()
	case labhost.IsSupervisor():
		// Supervise refuses to run unless it is PID 1 of a new pid
		// namespace, which only Start creates.
		return labhost.Supervise(outsideServices)
	case container.IsInit(), len(os.Args) > 1 && os.Args[1] == "__daemon":
		// These change the namespaces they run in (mount propagation,
		// forwarding, docker0, iptables). The marker exists only on a lab
		// host's private /run, so on the real host they refuse.
		if !labhost.InLabHost() {
			fmt.Fprintln(os.Stderr, "nslab: internal command refused: this is not a lab host (it would change the real host's network)")
			return 2
		}
		if container.IsInit() {
			container.Init()
			return 127
		}
		return daemon.Run()
	}
	if len(os.Args) > 1 && needsLabHost(os.Args[1]) {
		if _, err := labhost.Enter(); err != nil {
			fmt.Fprintln(os.Stderr, "nslab:", err)
			return 1
		}
	}
	root := newRoot()
	root.SetArgs(os.Args[1:])
	err := root.Execute()
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case api.IsDaemonError(err):
		fmt.Fprintln(os.Stderr, "Error response from daemon:", err)
		return 1
	default:
		fmt.Fprintln(os.Stderr, "nslab:", err)
		return 1
	}
}

// outsideServices runs in the lab host supervisor: the outside's DNS and
// web servers.
func outsideServices() error {
	if _, err := dns.ListenInNetNS(labhost.OutsideNetNS, labhost.UpstreamDNS, dns.DefaultUpstreamZone(labhost.OutsideWeb)); err != nil {
		return err
	}
	return labhost.ServeOutsideWeb()
}

func needsLabHost(verb string) bool {
	switch verb {
	case "sandbox", "shell", "version", "help", "--help", "-h", "completion", "lab":
		return false
	}
	return true
}

func newRoot() *cobra.Command {
	name := filepath.Base(os.Args[0])
	if name != "docker" {
		name = "nslab"
	}
	root := &cobra.Command{
		Use:           name,
		Short:         "A learning lab for Linux container networking, with Docker's verbs",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		sandboxCmd(), shellCmd(), hostCmd(), outsideCmd(), runCmd(), execCmd(), psCmd(), logsCmd(), stopCmd(), killCmd(),
		rmCmd(), inspectCmd(), networkCmd(), portCmd(), labCmd(), topologyCmd(), imagesCmd(), imageCmd(),
		bench.Cmd(),
	)
	return root
}

// call is labhost.CallDaemon.
func call(req api.Operation, out any, files ...*os.File) error {
	return labhost.CallDaemon(req, out, files...)
}
