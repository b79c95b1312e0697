package api

import (
	"time"

	"github.com/nslab/nslab/engine/container"
)

// RunOptions is the body of a "run" request: what `nslab run` parsed.
type RunOptions struct {
	Name        string
	Image       string
	Cmd         []string
	Hostname    string
	Network     string
	Pid         string
	Aliases     []string // --network-alias
	IP          string   // --ip
	Publish     []string // -p
	PublishAll  bool     // -P
	Expose      []string // --expose
	Env         []string // --env-file lines, then -e, as the CLI parsed them
	Tty         bool
	Interactive bool
	Detach      bool
	AutoRemove  bool
	// Security and limits, as Docker's flags of the same names.
	Privileged  bool
	CapAdd      []string // --cap-add
	CapDrop     []string // --cap-drop
	Sysctls     []string // --sysctl KEY=VALUE
	SecurityOpt []string // --security-opt
	LogOpts     []string // --log-opt KEY=VALUE (json-file: max-size, max-file)
	// Life cycle (engine/daemon/lifecycle.go).
	Restart    string // --restart no|on-failure[:N]|always|unless-stopped
	StopSignal string // --stop-signal, SIGTERM when empty
	// Mounts, process, DNS and metadata (engine/cli/runflags.go).
	Binds           []string          // -v SOURCE:TARGET[:MODE], as given
	Mounts          []Mount           // --mount type=bind,...
	WorkingDir      string            // -w
	User            string            // -u USER[:GROUP]
	Entrypoint      []string          // --entrypoint, when EntrypointSet ("" clears it: nil)
	EntrypointSet   bool              // --entrypoint was given
	DNS             []string          // --dns
	DNSSearch       []string          // --dns-search
	DNSOptions      []string          // --dns-option
	ExtraHosts      []string          // --add-host NAME:IP (or NAME:host-gateway)
	Labels          map[string]string // --label-file lines, then -l
	MacAddress      string            // --mac-address
	Init            bool              // --init
	ContainerIDFile string            // --cidfile (written by the CLI)
	// Files passed with the request, in order: for an attached run
	// without a terminal, stdout and stderr, then stdin when Interactive;
	// for an attached run with a terminal, the pty's slave.
}

// RunResult answers a run request.
type RunResult struct {
	ID       string
	ExitCode *int     `json:",omitempty"`
	Warnings []string `json:",omitempty"`
	// StartError is why the container, created as ID, did not start. It
	// stays, in Created state, as Docker leaves it.
	StartError string `json:",omitempty"`
}

// ExecInfo is what the CLI needs to enter a running container.
type ExecInfo struct {
	ID       string
	Pid      int
	Hostname string
	// Security is the container's: exec runs with the same capabilities.
	Security container.Security
	Env      []string // the container's Config.Env
}

// PsEntry is one row of `ps`.
type PsEntry struct {
	ID       string
	Image    string
	Command  string
	Created  time.Time
	Names    string
	Ports    string // "0.0.0.0:8080->80/tcp, ..."
	Running  bool
	ExitCode int
	Finished time.Time
	Started  time.Time
	// Restarting: exited, and its restart policy starts it again soon.
	Restarting bool `json:",omitempty"`
	// For ps's filters and --format (.State, .Networks, ancestor=).
	ImageID  string            // sha256:<hex>
	State    string            // created, running, exited
	Networks map[string]string // network name -> network ID
}

// NetworkCreate is the body of `network create`.
type NetworkCreate struct {
	Name string
	// Driver is -d: bridge (when empty) or macvlan.
	Driver  string
	Subnet  string
	Gateway string
	// IPRange is --ip-range: dynamic addresses come from it only.
	IPRange string `json:",omitempty"`
	// AuxAddress is --aux-address NAME=IP: addresses kept out of use.
	AuxAddress map[string]string `json:",omitempty"`
	Internal   bool
	// Attachable is --attachable: an overlay network that containers
	// run by hand, not only services, may join.
	Attachable bool `json:",omitempty"`
	Options    map[string]string
}

// NetworkSummary is a row of `network ls`.
type NetworkSummary struct {
	ID, Name, Driver, Scope string
	// For network ls's --format (.CreatedAt, .Internal).
	Created  time.Time
	Internal bool
}

// Topology is the lab host's current state, for pictures.
type Topology struct {
	Uplink, UplinkAddr, OutsideLink, OutsideAddr, UpstreamDNS, OutsideWeb string
	Networks                                                              []TopoNetwork
	Containers                                                            []TopoContainer
}

// TopoNetwork is a bridge network, or a macvlan network: then Bridge is
// empty and Parent names the lab host's link its endpoints hang off.
type TopoNetwork struct {
	Name, Bridge, Subnet, Gateway string
	Internal                      bool
	Driver, Parent, Mode          string `json:",omitempty"`
	// An overlay network's VNI and its namespace on this node.
	VNI       int    `json:",omitempty"`
	Namespace string `json:",omitempty"`
}

// TopoContainer is a running container.
type TopoContainer struct {
	Name, ShortID, NetworkMode string
	Endpoints                  []TopoEndpoint
	ResolverUDP, ResolverTCP   int
	Ports                      []string
}

// TopoEndpoint is one veth pair: HostVeth on Bridge, IfName inside. A
// macvlan endpoint has no HostVeth or Bridge.
type TopoEndpoint struct {
	Network, Bridge, HostVeth, IfName, Addr, MAC string
}
