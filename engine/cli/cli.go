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
	"regexp"
	"runtime"
	"strings"
	"sync"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/bench"
	"github.com/nslab/nslab/engine/container"
	"github.com/nslab/nslab/engine/daemon"
	"github.com/nslab/nslab/engine/dns"
	"github.com/nslab/nslab/engine/labhost"
	"github.com/nslab/nslab/engine/shim"
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
	case container.IsInit(), shim.IsLogShim(), len(os.Args) > 1 && os.Args[1] == "__daemon":
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
		if shim.IsLogShim() {
			return shim.LogShimMain()
		}
		return daemon.Run()
	}
	if len(os.Args) > 1 && os.Args[1] == "__nodes" {
		return labhost.NodesMain()
	}
	if err := selectNode(); err != nil {
		fmt.Fprintln(os.Stderr, "nslab:", err)
		return 1
	}
	if len(os.Args) > 1 && (needsLabHost(os.Args[1]) || dockerNodeVerb(os.Args[1:])) {
		reached, err := false, error(nil)
		if callsOnly(os.Args[1:]) {
			reached, err = labhost.Reach()
		}
		if err == nil && !reached {
			_, err = labhost.Enter()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "nslab:", err)
			return 1
		}
	}
	root := newRoot()
	root.SetArgs(os.Args[1:])
	cmd, err := root.ExecuteC()
	if err != nil && cmd == root && strings.HasPrefix(err.Error(), "unknown command ") {
		err = unknownCommand(root, os.Args[1:])
	}
	var ee exitError
	se, isSE := isStatus(err)
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case isSE:
		if se.status != "" {
			fmt.Fprintln(os.Stderr, se.status)
		}
		return se.code
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

// callsOnly reports whether a command does nothing in the lab host but call
// its daemon (a run that names files for the CLI to read or write does
// more), so that a caller on the real host may call it directly
// (labhost.Reach) instead of entering. exec (nsenter by the container's
// pid), logs (reads the log file), info (the lab host's hostname), host,
// outside, topology and the container group, which holds exec and logs,
// must run inside; so must run with a terminal, whose pty the container
// binds by its path in the lab host's /dev/pts, and start, which may
// attach one.
func callsOnly(args []string) bool {
	switch args[0] {
	case "ps", "inspect", "network", "rm", "stop", "restart", "kill", "port":
		return true
	case "run":
		return !runNeedsInside(args[1:])
	}
	return false
}

// runNeedsInside reports whether a run's args may ask for a terminal
// (--tty, or a group of short flags with t in it: -t, -it, -dit) or name
// files the CLI itself reads or writes (--env-file, --label-file,
// --cidfile), whose paths are the lab host's (its own /run, /proc, /sys).
// It may say yes for an argument of the container's command too; that only
// costs the fast path.
func runNeedsInside(args []string) bool {
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		switch {
		case name == "--tty" || name == "--env-file" || name == "--label-file" || name == "--cidfile":
			return true
		case !strings.HasPrefix(name, "--") && strings.HasPrefix(name, "-") && strings.Contains(name, "t"):
			return true
		}
	}
	return false
}

func needsLabHost(verb string) bool {
	switch verb {
	case "sandbox", "shell", "help", "--help", "-h", "completion", "lab", "node", "underlay":
		return false
	}
	return true
}

func newRoot() *cobra.Command {
	name := progName()
	root := &cobra.Command{
		Use:           name,
		Short:         "A learning lab for Linux container networking, with Docker's verbs",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		sandboxCmd(), shellCmd(), hostCmd(), outsideCmd(), runCmd(), execCmd(), psCmd(), logsCmd(), stopCmd(), killCmd(),
		rmCmd(), startCmd(), restartCmd(), inspectCmd(), networkCmd(), portCmd(), labCmd(), topologyCmd(), imagesCmd(), imageCmd(),
		containerCmd(), versionCmd(), infoCmd(), bench.Cmd(), nodeCmd(), underlayCmd(),
	)
	root.SetFlagErrorFunc(flagError)
	dockerArgs(root)
	return root
}

// flagError is Docker's cli.FlagErrorFunc (20.10 to 24): the error, then
// where to look, and status 125. Docker 25+ says "Run 'docker run --help'
// for more information" after a usage line; nslab follows v24, the notes'.
func flagError(cmd *cobra.Command, err error) error {
	usage := ""
	if cmd.HasSubCommands() {
		usage = "\n\n" + cmd.UsageString()
	}
	return statusError{status: fmt.Sprintf("%s\nSee '%s --help'.%s", err, cmd.CommandPath(), usage), code: 125}
}

// cobraArgs are cobra's argument-count messages, which dockerArgs words as
// Docker's cli.RequiresMinArgs and friends do.
var cobraArgs = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:requires at least (\d+) arg\(s\)|accepts at most (\d+) arg\(s\)|accepts (\d+) arg\(s\)|accepts between (\d+) and (\d+) arg\(s\)|unknown command ")`)
})

// dockerArgs gives every command Docker's wording for a wrong number of
// arguments (status 1, as Docker's plain errors), and Docker's usage line
// without [flags].
func dockerArgs(c *cobra.Command) {
	c.DisableFlagsInUseLine = true
	for _, sub := range c.Commands() {
		dockerArgs(sub)
	}
	if c.Args == nil || c.HasSubCommands() {
		return
	}
	orig := c.Args
	c.Args = func(cmd *cobra.Command, args []string) error {
		err := orig(cmd, args)
		if err == nil {
			return nil
		}
		m := cobraArgs().FindStringSubmatch(err.Error())
		if m == nil {
			return err
		}
		var what string
		switch {
		case m[1] != "":
			what = "requires at least " + m[1] + " " + plural("argument", m[1])
		case m[2] != "":
			what = "requires at most " + m[2] + " " + plural("argument", m[2])
		case m[3] != "":
			what = "requires exactly " + m[3] + " " + plural("argument", m[3])
		case m[4] != "":
			what = "requires at least " + m[4] + " and at most " + m[5] + " " + plural("argument", m[5])
		default:
			what = "accepts no arguments"
		}
		return statusError{code: 1, status: fmt.Sprintf("%q %s.\nSee '%s --help'.\n\nUsage:  %s\n\n%s",
			cmd.CommandPath(), what, cmd.CommandPath(), cmd.UseLine(), cmd.Short)}
	}
}

func plural(word, n string) string {
	if n == "1" {
		return word
	}
	return word + "s"
}

// unknownCommand is Docker's answer to a verb it does not have.
func unknownCommand(root *cobra.Command, args []string) error {
	verb := ""
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			verb = a
			break
		}
	}
	return statusError{code: 1, status: fmt.Sprintf("%s: '%s' is not a %s command.\nSee '%s --help'", root.Name(), verb, root.Name(), root.Name())}
}

// runError reports a failed run as Docker's CLI does: "docker: " and the
// daemon's error, with Docker's status: 127 for a command that is not
// there, 126 for one that cannot be run, 125 for anything else. Errors
// before the container starts also say where to look for help.
func runError(err error) error {
	msg := err.Error()
	if api.IsDaemonError(err) {
		msg = "Error response from daemon: " + msg
	}
	msg = strings.TrimSuffix(msg, ".") + "."
	var sf startFailure
	started := errors.As(err, &sf) || strings.Contains(msg, "OCI runtime") || strings.Contains(msg, "userland proxy") ||
		strings.Contains(msg, "port is already allocated") || strings.Contains(msg, "external connectivity")
	if !started && api.IsDaemonError(err) {
		msg += "\nSee '" + progName() + " run --help'."
	}
	code := 125
	switch {
	case strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory"):
		code = 127
	case strings.Contains(msg, "permission denied") || strings.Contains(msg, "is a directory"):
		code = 126
	}
	return statusError{status: progName() + ": " + msg, code: code}
}

// progName is the name the CLI answers to: docker, or nslab.
func progName() string {
	if filepath.Base(os.Args[0]) == "docker" {
		return "docker"
	}
	return "nslab"
}

// call is labhost.CallDaemon.
func call(req api.Operation, out any, files ...*os.File) error {
	return labhost.CallDaemon(req, out, files...)
}
