package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/labhost"
	"github.com/spf13/cobra"
)

// hostFlag takes Docker's global -H/--host NODE off the front of args (it
// comes before the command, as in `docker -H node2 ps`). In nslab it names
// a node of the sandbox, not a daemon socket.
func hostFlag(args []string) (node string, rest []string, err error) {
	if len(args) == 0 {
		return "", args, nil
	}
	a := args[0]
	switch {
	case a == "-H" || a == "--host":
		if len(args) < 2 {
			return "", args, fmt.Errorf("flag needs an argument: %s", a)
		}
		return args[1], args[2:], nil
	case strings.HasPrefix(a, "--host="):
		return strings.TrimPrefix(a, "--host="), args[1:], nil
	case strings.HasPrefix(a, "-H") && len(a) > 2:
		return strings.TrimPrefix(strings.TrimPrefix(a, "-H"), "="), args[1:], nil
	}
	return "", args, nil
}

// drawSandbox is selectNode's verdict that topology, given no -H in a
// sandbox of nodes, draws the whole sandbox rather than one node.
var drawSandbox bool

// selectNode points a command at a node of a sandbox with nodes: the one
// -H names, or node1. A command given on the real host for such a sandbox
// first enters its underlay host, where the nodes are visible; `node` and
// `underlay` stay there, and the verbs that need no lab host (sandbox,
// shell, lab, help) are left alone. It rewrites os.Args without -H.
func selectNode() error {
	node, rest, err := hostFlag(os.Args[1:])
	if err != nil {
		return err
	}
	verb := ""
	if len(rest) > 0 {
		verb = rest[0]
	}
	local := verb == "node" && !dockerNodeVerb(rest) || verb == "underlay"
	if !local && (verb == "" || !needsLabHost(verb) && !dockerNodeVerb(rest)) {
		if node != "" && verb == "" {
			return fmt.Errorf("-H %s: name a command after it, as in docker -H %s ps", node, node)
		}
		if node != "" {
			return fmt.Errorf("-H %s: %s does not talk to a node", node, verb)
		}
		return nil
	}
	env := os.Getenv(labhost.EnvHost)
	if env != "" && !labhost.Inside(env) && labhost.IsNodesSandbox(env) {
		// Enter keeps the whole command line, -H included.
		_, err := labhost.Enter()
		return err
	}
	if !labhost.InNodesSandbox() {
		if node != "" {
			return fmt.Errorf("-H %s: not in a sandbox with nodes (start one with `nslab sandbox --nodes 2`)", node)
		}
		return nil
	}
	os.Args = append(os.Args[:1], rest...)
	if local {
		return nil
	}
	if node == "" {
		if env != "" && !labhost.Inside(env) {
			return nil // NSLAB_HOST names a node already
		}
		if verb == "topology" {
			drawSandbox = true // the whole sandbox: sandboxTopology
			return nil
		}
		node = labhost.DefaultNode
	}
	nodeEnv, err := labhost.Node(node)
	if err != nil {
		return err
	}
	return os.Setenv(labhost.EnvHost, nodeEnv)
}

func nodeCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "node NODE [--] [COMMAND [ARG...]]",
		Short: "Run a command on a node of a sandbox with nodes (a shell without one)",
		Long: `node runs COMMAND inside the node NODE (node1, node2, ...) of a sandbox started
with --nodes, in all of the node's namespaces, as ` + "`nslab host`" + ` does for a
lab host; docker there talks to that node's engine. Without a command it
starts a shell there.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dockerNodeVerb(append([]string{"node"}, args...)) {
				return dockerNode(args)
			}
			env, err := labhost.Node(args[0])
			if err != nil {
				return err
			}
			argv := args[1:]
			if len(argv) > 0 && argv[0] == "--" {
				argv = argv[1:] // flag parsing is off: the -- is ours to drop
			}
			shell := len(argv) == 0
			if shell {
				argv = shellArgv()
			}
			c, err := labhost.Command(env, argv...)
			if err != nil {
				return err
			}
			if shell {
				c.Env = append(c.Env, fmt.Sprintf(`PS1=[nslab %s] \w# `, args[0]), "HISTFILE=/dev/null")
			}
			if c.Err != nil {
				return c.Err // no nsenter
			}
			// Become nsenter, as host and outside exec their commands:
			// its exit status and signals are the command's.
			return syscall.Exec(c.Path, c.Args, c.Env)
		},
	}
	c.Flags().SetInterspersed(false)
	return c
}

func underlayCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "underlay COMMAND [ARG...]",
		Short: "Run a command in a sandbox's underlay host, where the underlay bridge joins the nodes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !labhost.InNodesSandbox() {
				return errors.New("not in a sandbox with nodes (start one with `nslab sandbox --nodes 2`)")
			}
			path, err := exec.LookPath(args[0])
			if err != nil {
				return fmt.Errorf("%s: command not found in the underlay host", args[0])
			}
			return syscall.Exec(path, args, os.Environ())
		},
	}
	c.Flags().SetInterspersed(false)
	return c
}

// nodeTopology is one node's topology, from its own `topology --format
// json`: the node's daemon is reached from inside the node.
func nodeTopology(name string) (api.Topology, error) {
	var t api.Topology
	env, err := labhost.Node(name)
	if err != nil {
		return t, err
	}
	c, err := labhost.Command(env, "nslab", "topology", "--format", "json")
	if err != nil {
		return t, err
	}
	out, err := c.Output()
	if err == nil {
		err = json.Unmarshal(out, &t)
	}
	if err != nil {
		return t, fmt.Errorf("topology of %s: %w", name, err)
	}
	return t, nil
}

// sandboxTopology draws a sandbox of nodes: the underlay, then each node
// as `nslab topology` draws a lab host.
func sandboxTopology() (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "sandbox: bridge %s %s (the underlay, MTU 1500)\n", labhost.UnderlayBridge, labhost.UnderlayGateway)
	nodes := labhost.Nodes()
	for k, name := range nodes {
		fmt.Fprintf(&b, "  | veth pair %s <-> %s of %s  %s\n", name, labhost.UnderlayLink, name, labhost.NodeAddr(k+1))
	}
	var tunnels []string
	on := map[string][]string{}
	vni := map[string]int{}
	for _, name := range nodes {
		t, err := nodeTopology(name)
		if err != nil {
			return "", err
		}
		for _, n := range t.Networks {
			if n.Driver == "overlay" {
				if on[n.Name] == nil {
					tunnels = append(tunnels, n.Name)
				}
				on[n.Name] = append(on[n.Name], name)
				vni[n.Name] = n.VNI
			}
		}
		fmt.Fprintf(&b, "%s:\n", name)
		for _, line := range strings.SplitAfter(strings.TrimRight(topologyText(t), "\n"), "\n") {
			b.WriteString("    " + strings.TrimRight(line, "\n") + "\n")
		}
	}
	for _, name := range tunnels {
		fmt.Fprintf(&b, "tunnels of overlay network %s (VXLAN VNI %d, udp 4789 over the underlay) between %s\n", name, vni[name], strings.Join(on[name], ", "))
	}
	return b.String(), nil
}

// sandboxDot draws a sandbox of nodes for Graphviz: the underlay bridge,
// and each node as a cluster holding its lab host's picture (its ids
// prefixed by the node's name), wired to the bridge by its eth1.
func sandboxDot() (string, error) {
	var b strings.Builder
	b.WriteString(dotHeader)
	fmt.Fprintf(&b, "  underlay [label=%s, shape=ellipse, style=bold];\n", dotQuote(fmt.Sprintf("sandbox: bridge %s\\n%s, MTU 1500", labhost.UnderlayBridge, labhost.UnderlayGateway)))
	// on is, for each overlay network, the nodes that have joined it:
	// the ends of its tunnels.
	on := map[string][]string{}
	vni := map[string]int{}
	var overlays []string
	for k, name := range labhost.Nodes() {
		t, err := nodeTopology(name)
		if err != nil {
			return "", err
		}
		for _, n := range t.Networks {
			if n.Driver == "overlay" {
				if on[n.Name] == nil {
					overlays = append(overlays, n.Name)
				}
				on[n.Name] = append(on[n.Name], name)
				vni[n.Name] = n.VNI
			}
		}
		prefix := name + "/"
		fmt.Fprintf(&b, "  subgraph %s {\n    label=%s;\n", dotQuote("cluster_"+name), dotQuote(name))
		dotBody(&b, t, prefix, "    ")
		b.WriteString("  }\n")
		fmt.Fprintf(&b, "  underlay -- %s [label=%s];\n", dotQuote(prefix+"labhost"), dotQuote(fmt.Sprintf("%s <-> %s %s", name, labhost.UnderlayLink, labhost.NodeAddr(k+1))))
	}
	// The tunnels: VXLAN between every two nodes on a network, carried
	// by the underlay.
	for _, name := range overlays {
		nodes := on[name]
		for i := range nodes {
			for _, other := range nodes[i+1:] {
				fmt.Fprintf(&b, "  %s -- %s [label=%s, style=dashed, color=blue];\n", dotQuote(nodes[i]+"/overlay:"+name), dotQuote(other+"/overlay:"+name), dotQuote(fmt.Sprintf("VXLAN VNI %d, udp 4789", vni[name])))
			}
		}
	}
	b.WriteString("}\n")
	return b.String(), nil
}

// dockerNodeVerb reports whether args (from "node" on) are Docker's
// `docker node` command about the swarm's nodes rather than nslab's
// `node NODE`: no node is called ls, inspect, ps, rm, update, promote or
// demote.
func dockerNodeVerb(args []string) bool {
	if len(args) < 2 || args[0] != "node" {
		return false
	}
	switch args[1] {
	case "ls", "list", "inspect", "ps", "rm", "update", "promote", "demote":
		return true
	}
	return false
}

// dockerNode is docker node ls, in Docker's table: the manager's view of
// the swarm, its own node starred. The other docker node commands manage
// a swarm nslab does not have.
func dockerNode(args []string) error {
	if args[0] != "ls" && args[0] != "list" {
		return fmt.Errorf("docker node %s: nslab's swarm has fixed nodes, node1 its manager and the others workers; it lists them (docker node ls), and no more", args[0])
	}
	if len(args) > 1 {
		return fmt.Errorf("docker node ls: nslab takes no options here (got %s)", strings.Join(args[1:], " "))
	}
	var rows []api.NodeSummary
	if err := call(api.NodeLsRequest{}, &rows); err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 3, ' ', 0)
	fmt.Fprintln(w, "ID\tHOSTNAME\tSTATUS\tAVAILABILITY\tMANAGER STATUS\tENGINE VERSION")
	for _, r := range rows {
		id := r.ID + "  "
		if r.Self {
			id = r.ID + " *"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", id, r.Hostname, r.Status, r.Availability, r.ManagerStatus, serverVersion().Version)
	}
	return w.Flush()
}
