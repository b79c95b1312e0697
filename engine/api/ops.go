package api

import (
	"encoding/json"
	"time"
)

// The operations between the CLI and the daemon. Each has one request type
// below, whose Op method names it, so a caller cannot send a body to the
// wrong operation, and the daemon's handler table is keyed by these names.
const (
	OpRun               = "run"
	OpPs                = "ps"
	OpInspect           = "inspect"
	OpExecInfo          = "exec-info"
	OpLogs              = "logs"
	OpKill              = "kill"
	OpStop              = "stop"
	OpRm                = "rm"
	OpPort              = "port"
	OpNetworkLs         = "network-ls"
	OpNetworkInspect    = "network-inspect"
	OpNetworkCreate     = "network-create"
	OpNetworkRm         = "network-rm"
	OpNetworkConnect    = "network-connect"
	OpNetworkDisconnect = "network-disconnect"
	OpTopology          = "topology"
	OpImages            = "images"
	OpNodeLs            = "node-ls"
)

// Ops is every operation, for checks that each has a handler.
var Ops = []string{
	OpRun, OpPs, OpInspect, OpExecInfo, OpLogs, OpKill, OpStop, OpRm, OpPort,
	OpNetworkLs, OpNetworkInspect, OpNetworkCreate, OpNetworkRm, OpNetworkConnect, OpNetworkDisconnect,
	OpTopology, OpImages, OpNodeLs,
}

// Operation is a request body: it knows the operation it is for.
type Operation interface{ Op() string }

// Op: run answers RunResult, and a second RunResult with the exit code
// when attached.
func (RunOptions) Op() string { return OpRun }

// PsRequest lists containers; the daemon answers []PsEntry.
type PsRequest struct {
	All bool // -a: stopped ones too
}

func (PsRequest) Op() string { return OpPs }

// InspectRequest inspects containers or networks by name or ID; the daemon
// answers one JSON object per name, a ContainerJSON or a NetworkResource.
type InspectRequest struct{ Names []string }

func (InspectRequest) Op() string { return OpInspect }

// InspectResponse is the objects of an inspect, in the order asked.
type InspectResponse []json.RawMessage

// ExecInfoRequest asks what the CLI needs to enter a running container;
// the daemon answers ExecInfo.
type ExecInfoRequest struct{ Container string }

func (ExecInfoRequest) Op() string { return OpExecInfo }

// LogsRequest asks where a container's log is; the daemon answers
// LogsResponse.
type LogsRequest struct{ Container string }

func (LogsRequest) Op() string { return OpLogs }

// LogsResponse is the path of the container's json-file log.
type LogsResponse struct{ Path string }

// KillRequest signals containers; the daemon answers the names it
// signalled ([]string) and the errors of the others.
type KillRequest struct {
	Names  []string
	Signal int // 0 is SIGKILL
}

func (KillRequest) Op() string { return OpKill }

// StopRequest stops containers; the daemon answers the names it stopped.
type StopRequest struct {
	Names   []string
	Timeout int // seconds between SIGTERM and SIGKILL
}

func (StopRequest) Op() string { return OpStop }

// RmRequest removes containers; the daemon answers the names it removed.
type RmRequest struct {
	Names []string
	Force bool // stop a running container first
}

func (RmRequest) Op() string { return OpRm }

// PortRequest asks for a container's published ports; the daemon answers
// []portmap.Binding.
type PortRequest struct{ Container string }

func (PortRequest) Op() string { return OpPort }

// NetworkLsRequest lists networks; the daemon answers []NetworkSummary.
type NetworkLsRequest struct{}

// NodeLsRequest lists the swarm's nodes (docker node ls); the daemon
// answers []NodeSummary.
type NodeLsRequest struct{}

func (NodeLsRequest) Op() string { return OpNodeLs }

// NodeSummary is a row of docker node ls.
type NodeSummary struct {
	ID, Hostname, Status, Availability, ManagerStatus string
	Self                                              bool
}

func (NetworkLsRequest) Op() string { return OpNetworkLs }

// NetworkInspectRequest inspects networks; the daemon answers an
// InspectResponse of NetworkResources.
type NetworkInspectRequest struct{ Names []string }

func (NetworkInspectRequest) Op() string { return OpNetworkInspect }

// Op: network create answers NetworkCreateResponse.
func (NetworkCreate) Op() string { return OpNetworkCreate }

// NetworkCreateResponse is the new network's ID.
type NetworkCreateResponse struct{ ID string }

// NetworkRmRequest removes networks; the daemon answers the names it
// removed.
type NetworkRmRequest struct{ Names []string }

func (NetworkRmRequest) Op() string { return OpNetworkRm }

// NetworkConnectRequest connects a running container to a network.
type NetworkConnectRequest struct {
	Network   string
	Container string
	Aliases   []string // --alias
	IP        string   // --ip
}

func (NetworkConnectRequest) Op() string { return OpNetworkConnect }

// NetworkDisconnectRequest disconnects a container from a network.
type NetworkDisconnectRequest struct {
	Network   string
	Container string
	Force     bool
}

func (NetworkDisconnectRequest) Op() string { return OpNetworkDisconnect }

// TopologyRequest asks for the lab host's state; the daemon answers
// Topology.
type TopologyRequest struct{}

func (TopologyRequest) Op() string { return OpTopology }

// ImagesRequest lists the lab host's images; the daemon answers
// []ImageEntry.
type ImagesRequest struct{}

func (ImagesRequest) Op() string { return OpImages }

// ImageEntry is one row of `docker images`: one per name an image answers to.
type ImageEntry struct {
	Repository string
	Tag        string
	ID         string // sha256:<hex>
	Created    time.Time
	Size       int64
}

// Container life cycle: start and restart (engine/daemon/lifecycle.go).
const (
	OpStart   = "start"
	OpRestart = "restart"
)

func init() { Ops = append(Ops, OpStart, OpRestart) }

// StartRequest starts one stopped or created container. The daemon answers
// a StartResult; with Attach, a second one with the exit code, as run does.
// An attached start passes files as an attached run does: stdout, stderr
// and, with Interactive, stdin; or, for a container with a terminal, the
// pty's slave.
type StartRequest struct {
	Container   string
	Attach      bool // -a
	Interactive bool // -i
}

func (StartRequest) Op() string { return OpStart }

// StartResult answers a start request.
type StartResult struct {
	ID       string
	ExitCode *int `json:",omitempty"`
}

// RestartRequest stops one container, if it runs, and starts it again;
// the daemon answers its ID.
type RestartRequest struct {
	Container string
	Timeout   *int // -t: seconds between the stop signal and SIGKILL; nil is 10
}

func (RestartRequest) Op() string { return OpRestart }
