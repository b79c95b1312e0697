package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/container"
	"github.com/nslab/nslab/engine/labhost"
	"github.com/nslab/nslab/engine/portmap"
	"github.com/nslab/nslab/engine/shim"
	"github.com/spf13/cobra"
)

func runCmd() *cobra.Command {
	var o api.RunOptions
	var env, envFiles []string
	var rf *runFlags
	c := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and start a container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Image, o.Cmd = args[0], args[1:]
			for _, kv := range o.Sysctls {
				// Docker's CLI refuses these while parsing flags.
				if _, _, err := container.ValidSysctl(kv); err != nil {
					fmt.Fprintf(os.Stderr, "nslab: invalid argument %q for \"--sysctl\" flag: %v\n", kv, err)
					return exitError{125}
				}
			}
			if err := checkRunFlags(o); err != nil {
				fmt.Fprintln(os.Stderr, "nslab:", err)
				return exitError{125}
			}
			var err error
			if o.Env, err = readEnvFiles(envFiles, env); err != nil {
				fmt.Fprintln(os.Stderr, "nslab:", err)
				return exitError{125}
			}
			if err := rf.finish(cmd.Flags(), &o); err != nil {
				fmt.Fprintln(os.Stderr, "nslab:", err)
				return exitError{125}
			}
			if err := createCIDFile(o.ContainerIDFile); err != nil {
				fmt.Fprintln(os.Stderr, "nslab:", err)
				return exitError{cidFileExit(err)}
			}
			defer removeEmptyCIDFile(o.ContainerIDFile)
			code, err := run(o)
			if err != nil {
				return runError(err)
			}
			if code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
	f := c.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.Detach, "detach", "d", false, "Run container in background and print container ID")
	f.BoolVarP(&o.Interactive, "interactive", "i", false, "Keep STDIN open")
	f.BoolVarP(&o.Tty, "tty", "t", false, "Allocate a pseudo-TTY")
	f.BoolVar(&o.AutoRemove, "rm", false, "Automatically remove the container when it exits")
	f.StringVar(&o.Name, "name", "", "Assign a name to the container")
	f.StringVarP(&o.Hostname, "hostname", "h", "", "Container host name")
	f.StringVar(&o.Network, "network", "", "Connect a container to a network (bridge, host, none, container:<name|id>)")
	f.StringVar(&o.Network, "net", "", "Alias of --network")
	f.StringVar(&o.Pid, "pid", "", "PID namespace to use (host, container:<name|id>)")
	f.StringSliceVar(&o.Aliases, "network-alias", nil, "Add network-scoped alias for the container")
	f.StringVar(&o.IP, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	f.StringArrayVarP(&o.Publish, "publish", "p", nil, "Publish a container's port(s) to the host ([IP:][HOSTPORT:]CONTAINERPORT[/PROTO])")
	f.BoolVarP(&o.PublishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	f.StringArrayVar(&o.Expose, "expose", nil, "Expose a port or a range of ports")
	f.BoolVar(&o.Privileged, "privileged", false, "Give extended privileges to this container")
	f.StringArrayVar(&o.CapAdd, "cap-add", nil, "Add Linux capabilities")
	f.StringArrayVar(&o.CapDrop, "cap-drop", nil, "Drop Linux capabilities")
	f.StringArrayVar(&o.Sysctls, "sysctl", nil, "Sysctl options (namespaced ones: net.*, fs.mqueue.*, kernel IPC keys)")
	f.StringArrayVar(&o.SecurityOpt, "security-opt", nil, "Security Options (no-new-privileges)")
	f.StringArrayVar(&o.LogOpts, "log-opt", nil, "Log driver options (json-file: max-size, default 10m; max-file, default 3)")
	f.VarP(envFlag{&env}, "env", "e", "Set environment variables")
	f.StringArrayVar(&envFiles, "env-file", nil, "Read in a file of environment variables")
	lifecycleFlags(f, &o)
	f.MarkHidden("net")
	rf = addRunFlags(f, &o)
	c.Flags().BoolP("help", "", false, "help for run")
	return c
}

// run starts a container and, unless detached, waits for it and returns its
// exit code.
func run(o api.RunOptions) (int, error) {
	if err := labhost.Require(); err != nil {
		return 0, err
	}
	a := &attached{}
	if !o.Detach {
		var err error
		if a, err = attach(o.Tty, o.Interactive); err != nil {
			return 0, err
		}
		defer a.close()
	}
	// Waits, within the call bound, for a daemon being restarted.
	conn, err := labhost.Connect(o, a.files...)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var res api.RunResult
	if err := conn.Recv(&res); err != nil {
		return 0, err
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(os.Stderr, "WARNING:", w)
	}
	if err := writeCIDFile(o.ContainerIDFile, res.ID); err != nil {
		return 0, err
	}
	if res.StartError != "" {
		return 0, startError(o, res)
	}
	if o.Detach {
		fmt.Println(res.ID)
		return 0, nil
	}
	return a.pump(res.ID, o.Interactive, func() (*int, error) {
		err := conn.Recv(&res)
		return res.ExitCode, err
	})
}

func execCmd() *cobra.Command {
	var interactive, tty, privileged bool
	var env []string
	c := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var info api.ExecInfo
			if err := call(api.ExecInfoRequest{Container: args[0]}, &info); err != nil {
				return err
			}
			// Enter every namespace of the container's first process;
			// nsenter forks after joining the pid namespace, so the
			// command gets a pid there and sees the container's /proc.
			// --wd without a value takes the process's own working
			// directory; --wd=/ would open / before entering the mount
			// namespace, leaving the command outside the container's root.
			//
			// nsenter itself keeps every capability, so what it runs is
			// nslab's exec helper, which gives up what the container
			// may not have before it execs the command (see
			// container.ExecHelper).
			helper, err := container.ExecHelper()
			if err != nil {
				return err
			}
			defer helper.Close()
			if privileged {
				info.Security.Privileged = true
			}
			helperEnv, err := container.ExecHelperEnv(info.Security, len(helper.Files))
			if err != nil {
				return err
			}
			nsargs := []string{"--target", fmt.Sprint(info.Pid), "--mount", "--uts", "--ipc", "--net", "--pid", "--wd", "--"}
			nsargs = append(nsargs, helper.Argv...)
			e := exec.Command("nsenter", append(nsargs, args[1:]...)...)
			e.ExtraFiles = helper.Files
			e.Env = append(container.Env(info.Hostname, tty), helperEnv)
			// As Docker: the container's environment, then exec's -e.
			e.Env = mergeEnv(mergeEnv(e.Env, info.Env), env)
			if interactive || tty {
				e.Stdin = os.Stdin
			}
			e.Stdout, e.Stderr = os.Stdout, os.Stderr
			err = e.Run()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return exitError{ee.ExitCode()}
			}
			return err
		},
	}
	c.Flags().SetInterspersed(false)
	c.Flags().BoolVarP(&interactive, "interactive", "i", false, "Keep STDIN open")
	c.Flags().BoolVarP(&tty, "tty", "t", false, "Allocate a pseudo-TTY (uses the caller's terminal)")
	c.Flags().BoolVar(&privileged, "privileged", false, "Give extended privileges to the command")
	c.Flags().VarP(envFlag{&env}, "env", "e", "Set environment variables")
	return c
}

// humanDuration is go-units' HumanDuration, which docker ps uses.
func humanDuration(d time.Duration) string {
	switch s := int(d.Seconds()); {
	case s < 1:
		return "Less than a second"
	case s == 1:
		return "1 second"
	case s < 60:
		return fmt.Sprintf("%d seconds", s)
	}
	switch m := int(d.Minutes()); {
	case m == 1:
		return "About a minute"
	case m < 60:
		return fmt.Sprintf("%d minutes", m)
	}
	switch h := int(d.Round(time.Hour).Hours()); {
	case h == 1:
		return "About an hour"
	case h < 48:
		return fmt.Sprintf("%d hours", h)
	case h < 24*7*2:
		return fmt.Sprintf("%d days", h/24)
	case h < 24*30*2:
		return fmt.Sprintf("%d weeks", h/24/7)
	case h < 24*365*2:
		return fmt.Sprintf("%d months", h/24/30)
	default:
		return fmt.Sprintf("%d years", int(d.Hours())/24/365)
	}
}

func portCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ports []portmap.Binding
			if err := call(api.PortRequest{Container: args[0]}, &ports); err != nil {
				return err
			}
			found := false
			for _, b := range ports {
				if len(args) == 2 {
					want := args[1]
					if !strings.Contains(want, "/") {
						want += "/tcp"
					}
					if b.Key() != want {
						continue
					}
					fmt.Println(b.HostAddr())
				} else {
					fmt.Printf("%s -> %s\n", b.Key(), b.HostAddr())
				}
				found = true
			}
			if len(args) == 2 && !found {
				return fmt.Errorf("no public port '%s' published for %s", args[1], args[0])
			}
			return nil
		},
	}
}

func logsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logs CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var res api.LogsResponse
			if err := call(api.LogsRequest{Container: args[0]}, &res); err != nil {
				return err
			}
			// Rotated files first, oldest first, as json-file reads them.
			for _, p := range shim.LogFiles(res.Path) {
				if err := printLog(p); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// printLog copies one json-file log to stdout and stderr.
func printLog(path string) error {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e struct{ Log, Stream string }
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		if e.Stream == "stderr" {
			io.WriteString(os.Stderr, e.Log)
		} else {
			io.WriteString(os.Stdout, e.Log)
		}
	}
	return sc.Err()
}

// namesCmd is a verb on one or more names (stop, rm, network rm): req makes
// its request for the names given, and it prints the names it acted on.
func namesCmd(use, short string, req func(names []string) api.Operation) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var done []string
			err := call(req(args), &done)
			for _, n := range done {
				fmt.Println(n)
			}
			return err
		},
	}
}

func stopCmd() *cobra.Command {
	var timeout int
	c := namesCmd("stop [OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers",
		func(names []string) api.Operation { return api.StopRequest{Names: names, Timeout: timeout} })
	c.Flags().IntVarP(&timeout, "time", "t", 10, "Seconds to wait before killing the container")
	return c
}

func rmCmd() *cobra.Command {
	var force bool
	c := namesCmd("rm [OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers",
		func(names []string) api.Operation { return api.RmRequest{Names: names, Force: force} })
	c.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	return c
}

func killCmd() *cobra.Command {
	var sig string
	var s syscall.Signal
	c := namesCmd("kill [OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers",
		func(names []string) api.Operation { return api.KillRequest{Names: names, Signal: int(s)} })
	c.PreRunE = func(*cobra.Command, []string) error {
		var ok bool
		if s, ok = signals[strings.TrimPrefix(strings.ToUpper(sig), "SIG")]; !ok {
			return fmt.Errorf("invalid signal: %s", sig)
		}
		return nil
	}
	c.Flags().StringVarP(&sig, "signal", "s", "KILL", "Signal to send to the container")
	return c
}

var signals = map[string]syscall.Signal{
	"KILL": syscall.SIGKILL, "TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "HUP": syscall.SIGHUP,
	"USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "QUIT": syscall.SIGQUIT, "9": syscall.SIGKILL, "15": syscall.SIGTERM,
}

func networkCmd() *cobra.Command {
	n := &cobra.Command{
		Use:   "network COMMAND",
		Short: "Manage networks",
		Args:  subcommandArgs,
		// Help, as Docker's `docker network` alone prints.
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	inspect := inspectCommand("inspect [OPTIONS] NETWORK [NETWORK...]", "Display detailed information on one or more networks", false,
		func(names []string) api.Operation { return api.NetworkInspectRequest{Names: names} })
	n.AddCommand(networkLsCmd(), inspect, networkCreateCmd(), networkRmCmd(), networkConnectCmd(), networkDisconnectCmd())
	return n
}

// subcommandArgs refuses anything after a command group's name that is not
// one of its commands: `network bogus`, `network -` and `network --` are
// usage errors with a non-zero exit, as in Docker, not help and exit 0.
func subcommandArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 && cmd.ArgsLenAtDash() < 0 {
		return nil
	}
	what := "--"
	if len(args) > 0 {
		what = args[0]
	}
	fmt.Fprintf(os.Stderr, "%s: '%s' is not a %s command.\nSee '%s --help'.\n", cmd.CommandPath(), what, cmd.CommandPath(), cmd.CommandPath())
	return exitError{1}
}

func networkCreateCmd() *cobra.Command {
	var req api.NetworkCreate
	var opts, aux []string
	var driver string
	c := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name, req.Driver = args[0], driver
			if err := checkGateway(req.Subnet, req.Gateway); err != nil {
				return err
			}
			var err error
			if req.AuxAddress, err = checkIPAM(req.Subnet, req.IPRange, aux); err != nil {
				return err
			}
			req.Options = map[string]string{}
			for _, o := range opts {
				k, v, ok := strings.Cut(o, "=")
				if !ok {
					return fmt.Errorf("invalid option %q: want KEY=VALUE", o)
				}
				req.Options[k] = v
			}
			var res api.NetworkCreateResponse
			if err := call(req, &res); err != nil {
				return err
			}
			fmt.Println(res.ID)
			return nil
		},
	}
	f := c.Flags()
	f.StringVarP(&driver, "driver", "d", "bridge", "Driver to manage the Network")
	f.StringVar(&req.Subnet, "subnet", "", "Subnet in CIDR format that represents a network segment")
	f.StringVar(&req.Gateway, "gateway", "", "IPv4 Gateway for the master subnet")
	f.StringVar(&req.IPRange, "ip-range", "", "Allocate container ip from a sub-range")
	f.StringArrayVar(&aux, "aux-address", nil, "Auxiliary IPv4 addresses used by Network driver (NAME=IP)")
	f.BoolVar(&req.Internal, "internal", false, "Restrict external access to the network")
	f.BoolVar(&req.Attachable, "attachable", false, "Enable manual container attachment")
	f.StringArrayVarP(&opts, "opt", "o", nil, "Set driver specific options")
	return c
}

// checkGateway is Docker's CLI-side check of --gateway against --subnet,
// with its messages. The daemon checks again for other clients.
func checkGateway(subnet, gateway string) error {
	if gateway == "" {
		return nil
	}
	if subnet == "" {
		return errors.New("every ip-range or gateway must have a corresponding subnet")
	}
	p, err := netip.ParsePrefix(subnet)
	if err != nil {
		return nil // the daemon says what is wrong with the subnet
	}
	if gw, err := netip.ParseAddr(gateway); err == nil && !p.Contains(gw) {
		return fmt.Errorf("no matching subnet for gateway %s", gateway)
	}
	return nil
}

// checkIPAM is the docker CLI's check of --ip-range and --aux-address
// against --subnet, with its messages; it returns the aux addresses by
// name (the last of a name wins, as in Docker). The daemon checks again.
func checkIPAM(subnet, ipRange string, aux []string) (map[string]string, error) {
	var sn netip.Prefix
	if subnet != "" {
		sn, _ = netip.ParsePrefix(subnet) // the daemon says what is wrong with it
	}
	if ipRange != "" {
		if subnet == "" {
			return nil, errors.New("every ip-range or gateway must have a corresponding subnet")
		}
		r, err := netip.ParsePrefix(ipRange)
		if err != nil {
			return nil, fmt.Errorf("invalid CIDR address: %s", ipRange)
		}
		if sn.IsValid() && (r.Bits() < sn.Bits() || !sn.Contains(r.Addr())) {
			return nil, fmt.Errorf("no matching subnet for range %s", ipRange)
		}
	}
	if len(aux) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range aux {
		name, ip, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("invalid --aux-address %q: want NAME=IP, such as router=192.168.1.1", kv)
		}
		a, err := netip.ParseAddr(ip)
		if err != nil || (sn.IsValid() && !sn.Contains(a)) || subnet == "" {
			return nil, fmt.Errorf("no matching subnet for aux-address %s", ip)
		}
		m[name] = ip
	}
	return m, nil
}

func networkRmCmd() *cobra.Command {
	c := namesCmd("rm NETWORK [NETWORK...]", "Remove one or more networks",
		func(names []string) api.Operation { return api.NetworkRmRequest{Names: names} })
	c.Aliases = []string{"remove"}
	return c
}

func networkConnectCmd() *cobra.Command {
	var req api.NetworkConnectRequest
	c := endpointCmd("connect", "Connect a container to a network", func(network, ctr string) api.Operation {
		req.Network, req.Container = network, ctr
		return req
	})
	c.Flags().StringSliceVar(&req.Aliases, "alias", nil, "Add network-scoped alias for the container")
	c.Flags().StringVar(&req.IP, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	return c
}

func networkDisconnectCmd() *cobra.Command {
	var req api.NetworkDisconnectRequest
	c := endpointCmd("disconnect", "Disconnect a container from a network", func(network, ctr string) api.Operation {
		req.Network, req.Container = network, ctr
		return req
	})
	c.Flags().BoolVarP(&req.Force, "force", "f", false, "Force the container to disconnect from a network")
	return c
}

// endpointCmd is `network connect` or `network disconnect`: req makes the
// request for a network and a container.
func endpointCmd(verb, short string, req func(network, ctr string) api.Operation) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " [OPTIONS] NETWORK CONTAINER",
		Short: short,
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(req(args[0], args[1]), nil)
		},
	}
}
