package labhost

// Several lab hosts in one sandbox (issue 15): `nslab sandbox --nodes N`.
//
// The sandbox is a lab host of its own, the underlay host, with no engine
// and no outside. Its network namespace holds the underlay: a bridge,
// underlay0 (192.0.2.254/24, MTU 1500), that plays the switch between the
// nodes' second NICs. In place of an engine daemon its supervisor runs the
// node keeper (`nslab __nodes`), which starts node1..nodeN as lab hosts
// nested in it, each with its own engine daemon, docker0 and outside as
// today, wires each node's eth1 (192.0.2.K/24) to the bridge, writes where
// each node is under NodesDir, and holds the nodes' owner pipes.
//
// Why nested: a command must be able to enter any node, and only a pid
// namespace that holds every node's supervisor can see them all. Ending
// the sandbox ends its pid namespace, and the kernel kills every process
// in it, the nodes' supervisors included: every node goes with it, as a
// lab host's containers go with it.

import (
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nslab/nslab/engine/netns"
	"github.com/nslab/nslab/engine/swarm"
	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
)

const (
	// NodesDir holds, in the underlay host, one file per node: its name,
	// holding its NSLAB_HOST value.
	NodesDir = StateDir + "/nodes"
	// UnderlayBridge is the underlay's switch, in the underlay host.
	UnderlayBridge = "underlay0"
	// UnderlayLink is each node's NIC on the underlay.
	UnderlayLink = "eth1"
	// MaxNodes bounds --nodes: each node is a lab host with its own
	// daemon, and the underlay numbers them 192.0.2.1 and up.
	MaxNodes = 8
	// DefaultNode is the node a command in the sandbox talks to without -H.
	DefaultNode = "node1"
	// underlayMTU is a real Ethernet's, so VXLAN's 50 bytes show.
	underlayMTU = 1500
	envNodes    = "NSLAB_LABHOST_NODES"    // the underlay host's supervisor: how many nodes
	envHostname = "NSLAB_LABHOST_HOSTNAME" // a node's supervisor: its hostname
	envNode     = "NSLAB_LABHOST_NODE"     // a node's supervisor: it is a node
	// EnvNode, in a node's engine daemon, is the node's name: the daemon
	// joins the sandbox's swarm as that node, and node1's is its manager.
	EnvNode = "NSLAB_NODE"
)

// ManagerNode is the node whose daemon is the swarm's manager, as the
// node where `docker swarm init` ran.
const ManagerNode = DefaultNode

// UnderlayGateway is the underlay host's own address on the underlay.
var UnderlayGateway = netip.MustParsePrefix("192.0.2.254/24")

// NodeAddr is node k's address on the underlay: 192.0.2.k/24.
func NodeAddr(k int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(k)}), 24)
}

// CheckNodes refuses a node count the sandbox cannot build.
func CheckNodes(n int) error {
	if n < 1 || n > MaxNodes {
		return fmt.Errorf("--nodes %d: a sandbox holds 1 to %d nodes (each is a lab host with its own engine daemon)", n, MaxNodes)
	}
	return nil
}

// InNodesSandbox reports whether this process runs in an underlay host.
func InNodesSandbox() bool {
	_, err := os.Stat(NodesDir)
	return err == nil
}

// IsNodesSandbox reports whether env (an NSLAB_HOST value) names an
// underlay host, seen from outside it.
func IsNodesSandbox(env string) bool {
	pid, _, err := parseEnv(env)
	if err != nil {
		return false
	}
	_, err = os.Stat(fmt.Sprintf("/proc/%d/root%s", pid, NodesDir))
	return err == nil
}

// Node returns the NSLAB_HOST value of the node called name, from inside
// the underlay host; an unknown name is an error that lists the nodes.
func Node(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, "/\x00") {
		return "", fmt.Errorf("invalid node name %q", name)
	}
	b, err := os.ReadFile(filepath.Join(NodesDir, name))
	if err != nil {
		if !InNodesSandbox() {
			return "", fmt.Errorf("no node %q: this is not a sandbox with nodes (start one with `nslab sandbox --nodes 2`)", name)
		}
		return "", fmt.Errorf("no node %q in this sandbox: its nodes are %s", name, strings.Join(Nodes(), ", "))
	}
	return strings.TrimSpace(string(b)), nil
}

// Nodes lists the nodes of the underlay host this process runs in.
func Nodes() []string {
	ents, _ := os.ReadDir(NodesDir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Slice(names, func(i, j int) bool {
		a, _ := strconv.Atoi(strings.TrimPrefix(names[i], "node"))
		b, _ := strconv.Atoi(strings.TrimPrefix(names[j], "node"))
		return a < b
	})
	return names
}

// startNodes is the underlay host's engine: the node keeper, started as
// the daemon is, reporting ready once every node is.
func startNodes(n int) (int, error) {
	return startReady("__nodes", append(InsideEnv(os.Environ(), ""), envNodes+"="+strconv.Itoa(n)), "node keeper")
}

// NodesMain is `nslab __nodes`, the node keeper: it runs in the underlay
// host, as its supervisor's child, and refuses anywhere else.
func NodesMain() int {
	n, err := strconv.Atoi(os.Getenv(envNodes))
	ready := os.NewFile(3, "ready")
	if err != nil || !InNodesSandbox() || ready == nil {
		fmt.Fprintln(os.Stderr, "nslab: internal command refused: the node keeper runs only in a sandbox's underlay host")
		return 2
	}
	os.Unsetenv(envNodes)
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	var nodes []*Host
	closeAll := func() {
		for _, h := range nodes {
			h.Close()
		}
	}
	err = startAllNodes(n, &nodes)
	if err == nil && nodeEngine() == EngineDocker {
		err = swarmUp(nodes)
	} else if err == nil {
		err = awaitSwarm(n)
	}
	if err != nil {
		closeAll()
		fmt.Fprintf(ready, "%v\n", err)
		return 1
	}
	fmt.Fprintln(ready, "ready")
	ready.Close()
	<-sigc
	closeAll()
	return 0
}

func startAllNodes(n int, nodes *[]*Host) error {
	h, err := netlink.NewHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	if lo, err := h.LinkByName("lo"); err == nil {
		if err := h.LinkSetUp(lo); err != nil {
			return fmt.Errorf("set the underlay host's lo up: %w", err)
		}
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: UnderlayBridge, MTU: underlayMTU}}
	if err := h.LinkAdd(br); err != nil {
		return fmt.Errorf("create the underlay bridge %s: %w", UnderlayBridge, err)
	}
	brl, err := h.LinkByName(UnderlayBridge)
	if err != nil {
		return err
	}
	if err := h.AddrAdd(brl, &netlink.Addr{IPNet: ipnet(UnderlayGateway)}); err != nil {
		return fmt.Errorf("address %s: %w", UnderlayBridge, err)
	}
	if err := h.LinkSetUp(brl); err != nil {
		return err
	}
	for k := 1; k <= n; k++ {
		name := fmt.Sprintf("node%d", k)
		node, err := Start(Options{Stderr: os.Stderr, Hostname: name, Engine: nodeEngine(), Node: true})
		if err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
		*nodes = append(*nodes, node)
		if err := wireNode(h, brl, node, name, NodeAddr(k)); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(NodesDir, name), []byte(node.Env()+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// wireNode gives node its underlay NIC: a veth named after the node on
// the underlay bridge, its peer born inside the node as eth1 with addr.
func wireNode(h *netlink.Handle, br netlink.Link, node *Host, name string, addr netip.Prefix) error {
	ns, err := vnetns.GetFromPath(fmt.Sprintf("/proc/%d/ns/net", node.Pid))
	if err != nil {
		return fmt.Errorf("open %s's network namespace: %w", name, err)
	}
	defer ns.Close()
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: name, MTU: underlayMTU, MasterIndex: br.Attrs().Index},
		PeerName:  UnderlayLink, PeerNamespace: netlink.NsFd(int(ns)),
	}
	if err := h.LinkAdd(veth); err != nil {
		return fmt.Errorf("wire %s to the underlay: %w", name, err)
	}
	l, err := h.LinkByName(name)
	if err != nil {
		return err
	}
	if err := h.LinkSetUp(l); err != nil {
		return err
	}
	nh, err := netns.HandleIn(ns)
	if err != nil {
		return fmt.Errorf("%s: netlink handle: %w", name, err)
	}
	defer nh.Close()
	if err := netns.ConfigureLink(nh, UnderlayLink, addr, netip.Addr{}); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// nodeCount is the supervisor's --nodes, 0 for an ordinary lab host.
func nodeCount() int {
	n, _ := strconv.Atoi(os.Getenv(envNodes))
	return n
}

// nodeEngine is the engine every node of this sandbox runs: the
// sandbox's own.
func nodeEngine() string {
	if os.Getenv(envEngine) == EngineDocker {
		return EngineDocker
	}
	return EngineNslab
}

// swarmUp makes the Docker-engine nodes a swarm, as the overlay labs'
// referee needs: `docker swarm init` on node1, advertising its underlay
// address, and `docker swarm join` on every other node, all over the
// underlay. nslab's own nodes need none of this: their daemons join at
// start (package swarm).
func swarmUp(nodes []*Host) error {
	docker := func(h *Host, args ...string) (string, error) {
		cmd, err := Command(h.Env(), append([]string{"docker"}, args...)...)
		if err != nil {
			return "", err
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("docker %s on a node: %v: %s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	mgr := NodeAddr(1).Addr().String()
	if _, err := docker(nodes[0], "swarm", "init", "--advertise-addr", mgr); err != nil {
		return err
	}
	token, err := docker(nodes[0], "swarm", "join-token", "-q", "worker")
	if err != nil {
		return err
	}
	for k, h := range nodes[1:] {
		if _, err := docker(h, "swarm", "join", "--advertise-addr", NodeAddr(k+2).Addr().String(), "--token", token, mgr+":2377"); err != nil {
			return err
		}
	}
	return nil
}

// awaitSwarm waits (bounded) until node1's manager has heard from every
// node's daemon, so that the sandbox is ready with its swarm whole, as a
// Docker swarm is once its joins return. A daemon starts before its
// node's underlay NIC exists and polls until it can reach the manager.
func awaitSwarm(n int) error {
	c := swarm.NewClient(netip.AddrPortFrom(NodeAddr(1).Addr(), swarm.Port).String(), "", func() netip.Addr { return netip.Addr{} })
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := c.Now()
		up := 0
		if err == nil {
			for _, nd := range st.Nodes {
				if nd.Up {
					up++
				}
			}
			if up == n {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the swarm manager on node1 knows %d of %d nodes after 30 s (last error: %v)", up, n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
