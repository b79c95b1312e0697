package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"os"
	"os/exec"
	"strings"

	"github.com/nslab/nslab/engine/api"
	"github.com/spf13/cobra"
)

func topologyCmd() *cobra.Command {
	var format, output string
	c := &cobra.Command{
		Use:   "topology",
		Short: "Draw the lab host as it is now: namespaces, bridges, veth pairs, addresses, DNS and ports",
		Long: `topology draws the lab host's current state: the outside and the uplink, each
bridge with its gateway, each veth pair with both ends' names, the containers'
addresses and MACs, their embedded DNS server's ports and their published
ports. --format text (the default) prints a tree; dot prints Graphviz; svg and
png run Graphviz's dot (Debian package graphviz) and write the picture to -o.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var text func() (string, error)
			var dot func() (string, error)
			if drawSandbox {
				text, dot = sandboxTopology, sandboxDot
			} else {
				var t api.Topology
				if err := call(api.TopologyRequest{}, &t); err != nil {
					return err
				}
				if format == "json" {
					b, err := json.Marshal(t)
					if err != nil {
						return err
					}
					return writeOut(output, append(b, '\n'))
				}
				text = func() (string, error) { return topologyText(t), nil }
				dot = func() (string, error) { return topologyDot(t), nil }
			}
			switch format {
			case "text", "dot":
				draw := text
				if format == "dot" {
					draw = dot
				}
				s, err := draw()
				if err != nil {
					return err
				}
				return writeOut(output, []byte(s))
			case "svg", "png":
				src, err := dot()
				if err != nil {
					return err
				}
				dotBin, err := exec.LookPath("dot")
				if err != nil {
					return fmt.Errorf("--format %s needs Graphviz's dot (Debian package graphviz): %w", format, err)
				}
				var out, stderr bytes.Buffer
				g := exec.Command(dotBin, "-T"+format)
				g.Stdin, g.Stdout, g.Stderr = strings.NewReader(src), &out, &stderr
				if err := g.Run(); err != nil {
					return fmt.Errorf("dot -T%s: %v: %s", format, err, stderr.String())
				}
				if output == "" && format == "png" {
					return errors.New("--format png writes binary data: name a file with -o")
				}
				return writeOut(output, out.Bytes())
			}
			return fmt.Errorf("unknown --format %q: use text, dot, svg or png", format)
		},
	}
	c.Flags().StringVar(&format, "format", "text", "text, dot, svg or png (json: the engine's data, for a sandbox's picture)")
	c.Flags().StringVarP(&output, "output", "o", "", "Write to this file instead of standard output")
	return c
}

func writeOut(path string, b []byte) error {
	if path == "" {
		_, err := os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// topologyText is a tree, the lab host at its root.
func topologyText(t api.Topology) string {
	var b strings.Builder
	fmt.Fprintf(&b, "outside (simulated internet): %s %s, example.com %s, DNS %s\n", t.OutsideLink, t.OutsideAddr, t.OutsideWeb, t.UpstreamDNS)
	fmt.Fprintf(&b, "  | veth pair %s <-> %s\n", t.OutsideLink, t.Uplink)
	fmt.Fprintf(&b, "lab host: %s %s\n", t.Uplink, t.UplinkAddr)
	// Endpoints by the bridge they hang off, or by their macvlan network.
	byBridge := map[string][]string{}
	var others []string
	for _, c := range t.Containers {
		line := fmt.Sprintf("container %s (%s)", c.Name, c.ShortID)
		if len(c.Endpoints) == 0 {
			others = append(others, fmt.Sprintf("%s: network %s", line, c.NetworkMode)+extras(c))
			continue
		}
		for i, ep := range c.Endpoints {
			s := fmt.Sprintf("%s <-> %s of %s  %s  %s", ep.HostVeth, ep.IfName, line, ep.Addr, ep.MAC)
			key := ep.Bridge
			if ep.HostVeth == "" {
				s = fmt.Sprintf("%s of %s  %s  %s", ep.IfName, line, ep.Addr, ep.MAC)
				key = "macvlan:" + ep.Network
			}
			if i == 0 {
				s += extras(c)
			}
			byBridge[key] = append(byBridge[key], s)
		}
	}
	for _, n := range t.Networks {
		kind := ""
		if n.Internal {
			kind = ", internal"
		}
		key := n.Bridge
		switch n.Driver {
		case "macvlan":
			// No bridge and no address on the lab host: the links hang
			// off the parent, and the gateway is a router on its LAN.
			key = "macvlan:" + n.Name
			fmt.Fprintf(&b, "  macvlan on %s, mode %s (network %s%s): %s, gateway %s out on the LAN\n", n.Parent, n.Mode, n.Name, kind, n.Subnet, n.Gateway)
		case "overlay":
			// A namespace of its own: br0 and vxlan0, whose socket
			// stays in the lab host.
			key = "overlay:" + n.Name
			fmt.Fprintf(&b, "  overlay network %s%s, VNI %d: namespace %s, bridge %s %s/%s, vxlan0 to the other nodes over udp 4789\n", n.Name, kind, n.VNI, n.Namespace, n.Bridge, n.Gateway, strings.SplitN(n.Subnet, "/", 2)[1])
		default:
			fmt.Fprintf(&b, "  bridge %s (network %s%s): %s/%s\n", n.Bridge, n.Name, kind, n.Gateway, strings.SplitN(n.Subnet, "/", 2)[1])
		}
		ports := byBridge[key]
		if len(ports) == 0 {
			b.WriteString("    (no ports)\n")
		}
		for _, p := range ports {
			fmt.Fprintf(&b, "    %s\n", p)
		}
	}
	for _, o := range others {
		fmt.Fprintf(&b, "  %s\n", o)
	}
	return b.String()
}

func extras(c api.TopoContainer) string {
	var s string
	if c.ResolverUDP != 0 {
		s += fmt.Sprintf("  [DNS 127.0.0.11:53 -> udp %d, tcp %d]", c.ResolverUDP, c.ResolverTCP)
	}
	if len(c.Ports) > 0 {
		s += "  [ports " + strings.Join(c.Ports, ", ") + "]"
	}
	return s
}

// dotHeader opens a Graphviz picture of nslab's.
const dotHeader = "graph nslab {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n  edge [fontname=\"monospace\", fontsize=9];\n"

// dotQuote is a Graphviz string.
func dotQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// topologyDot is the same picture in Graphviz.
func topologyDot(t api.Topology) string {
	var b strings.Builder
	b.WriteString(dotHeader)
	dotBody(&b, t, "", "  ")
	b.WriteString("}\n")
	return b.String()
}

// dotBody writes a lab host's nodes and edges, each id after prefix (a
// sandbox draws several lab hosts in one picture: "node2/"), each line
// after indent.
func dotBody(b *strings.Builder, t api.Topology, prefix, indent string) {
	q := dotQuote
	id := func(s string) string { return q(prefix + s) }
	fmt.Fprintf(b, "%s%s [label=%s, style=dashed];\n", indent, id("outside"), q(fmt.Sprintf("outside\\n%s %s\\nexample.com %s\\nDNS %s", t.OutsideLink, t.OutsideAddr, t.OutsideWeb, t.UpstreamDNS)))
	fmt.Fprintf(b, "%s%s [label=%s, style=bold];\n", indent, id("labhost"), q(fmt.Sprintf("lab host\\n%s %s", t.Uplink, t.UplinkAddr)))
	fmt.Fprintf(b, "%s%s -- %s [label=%s];\n", indent, id("outside"), id("labhost"), q(t.OutsideLink+" <-> "+t.Uplink))
	for _, n := range t.Networks {
		label := fmt.Sprintf("bridge %s\\nnetwork %s\\n%s/%s", n.Bridge, n.Name, n.Gateway, strings.SplitN(n.Subnet, "/", 2)[1])
		node := "br:" + n.Bridge
		if n.Driver == "macvlan" {
			label = fmt.Sprintf("macvlan on %s (%s)\\nnetwork %s\\n%s gateway %s", n.Parent, n.Mode, n.Name, n.Subnet, n.Gateway)
			node = "macvlan:" + n.Name
		}
		if n.Driver == "overlay" {
			label = fmt.Sprintf("overlay network %s, VNI %d\\nnamespace %s\\nbridge %s %s/%s + vxlan0", n.Name, n.VNI, n.Namespace, n.Bridge, n.Gateway, strings.SplitN(n.Subnet, "/", 2)[1])
			node = "overlay:" + n.Name
		}
		if n.Internal {
			label += "\\ninternal"
		}
		fmt.Fprintf(b, "%s%s [label=%s, shape=ellipse];\n%s%s -- %s;\n", indent, id(node), q(label), indent, id("labhost"), id(node))
	}
	for _, c := range t.Containers {
		label := fmt.Sprintf("container %s\\n%s", c.Name, c.ShortID)
		for _, ep := range c.Endpoints {
			label += fmt.Sprintf("\\n%s %s", ep.IfName, ep.Addr)
		}
		if c.ResolverUDP != 0 {
			label += fmt.Sprintf("\\nDNS 127.0.0.11 udp %d tcp %d", c.ResolverUDP, c.ResolverTCP)
		}
		for _, p := range c.Ports {
			label += "\\n" + p
		}
		if len(c.Endpoints) == 0 {
			label += "\\nnetwork " + c.NetworkMode
		}
		fmt.Fprintf(b, "%s%s [label=%s];\n", indent, id("c:"+c.Name), q(label))
		for _, ep := range c.Endpoints {
			if ep.HostVeth == "" {
				fmt.Fprintf(b, "%s%s -- %s [label=%s];\n", indent, id("macvlan:"+ep.Network), id("c:"+c.Name), q("macvlan "+ep.IfName))
				continue
			}
			br := "br:" + ep.Bridge
			if strings.HasPrefix(ep.Bridge, "overlay:") {
				br = ep.Bridge
			}
			fmt.Fprintf(b, "%s%s -- %s [label=%s];\n", indent, id(br), id("c:"+c.Name), q(ep.HostVeth+" <-> "+ep.IfName))
		}
		if strings.HasPrefix(c.NetworkMode, "container:") {
			fmt.Fprintf(b, "%s%s -- %s [style=dotted, label=\"shares netns\"];\n", indent, id("c:"+c.Name), id("c:"+strings.TrimPrefix(c.NetworkMode, "container:")))
		}
		if c.NetworkMode == "host" {
			fmt.Fprintf(b, "%s%s -- %s [style=dotted, label=\"host netns\"];\n", indent, id("labhost"), id("c:"+c.Name))
		}
	}
}
