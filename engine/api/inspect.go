package api

import "time"

// The inspect types mirror Docker's API types of the same names, in their
// field order, so encoding/json prints `inspect` as Docker does. They hold
// the fields the labs and the notes use; Docker's others are added here.

// ContainerJSON is `docker inspect CONTAINER` (Docker's
// types.ContainerJSON).
type ContainerJSON struct {
	ID              string `json:"Id"`
	Created         string
	Path            string
	Args            []string
	State           *ContainerState
	Image           string
	ResolvConfPath  string
	HostnamePath    string
	HostsPath       string
	LogPath         string
	Name            string
	HostConfig      *HostConfig
	Config          *Config
	NetworkSettings *NetworkSettings
}

// ContainerState is the container's process state. Times are RFC 3339 in
// UTC, and Go's zero time when it has not happened.
type ContainerState struct {
	Status     string // created, running, exited
	Running    bool
	Paused     bool
	Restarting bool
	OOMKilled  bool
	Dead       bool
	Pid        int
	ExitCode   int
	Error      string
	StartedAt  string
	FinishedAt string
}

// HostConfig is what run asked of the host (Docker's container.HostConfig).
type HostConfig struct {
	LogConfig    LogConfig
	NetworkMode  string
	PidMode      string
	AutoRemove   bool
	PortBindings PortMap
	CapAdd       []string
	CapDrop      []string
	Privileged   bool
	SecurityOpt  []string
	Sysctls      map[string]string
}

// LogConfig is the container's log driver and its --log-opt options.
type LogConfig struct {
	Type   string
	Config map[string]string
}

// Config is the container's own configuration (Docker's container.Config).
type Config struct {
	Hostname     string
	Tty          bool
	OpenStdin    bool
	ExposedPorts map[string]struct{}
	Env          []string
	Cmd          []string
	Image        string
	Entrypoint   []string
}

// NetworkSettings is the container's network: its sandbox, ports, the
// default bridge's legacy top-level address fields, and every network.
type NetworkSettings struct {
	Bridge      string
	SandboxID   string
	SandboxKey  string
	Ports       PortMap
	Gateway     string
	IPAddress   string
	IPPrefixLen int
	MacAddress  string
	Networks    map[string]*EndpointSettings
}

// EndpointSettings is the container's endpoint on one network (Docker's
// network.EndpointSettings).
type EndpointSettings struct {
	IPAMConfig          *EndpointIPAMConfig
	Links               []string
	Aliases             []string
	MacAddress          string
	NetworkID           string
	EndpointID          string
	Gateway             string
	IPAddress           string
	IPPrefixLen         int
	IPv6Gateway         string
	GlobalIPv6Address   string
	GlobalIPv6PrefixLen int
	DNSNames            []string
}

// EndpointIPAMConfig is a fixed address asked for on a network.
type EndpointIPAMConfig struct {
	IPv4Address string `json:",omitempty"`
}

// PortMap is ports by "PORT/PROTO", with their host bindings (Docker's
// nat.PortMap). An exposed port without bindings maps to null.
type PortMap map[string][]PortBinding

// PortBinding is one host side of a port.
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string
}

// NetworkResource is `docker network inspect` (Docker's
// network.Inspect, before v29 NetworkResource).
type NetworkResource struct {
	Name       string
	ID         string `json:"Id"`
	Created    time.Time
	Scope      string
	Driver     string
	EnableIPv6 bool
	IPAM       IPAM
	Internal   bool
	Attachable bool
	Ingress    bool
	ConfigFrom ConfigReference
	ConfigOnly bool
	Containers map[string]EndpointResource
	Options    map[string]string
	Labels     map[string]string
}

// IPAM is a network's address management: its driver and subnets.
type IPAM struct {
	Driver  string
	Options map[string]string
	Config  []IPAMConfig
}

// IPAMConfig is one subnet of a network.
type IPAMConfig struct {
	Subnet  string `json:",omitempty"`
	Gateway string `json:",omitempty"`
}

// ConfigReference names a config-only network this one was made from.
type ConfigReference struct {
	Network string
}

// EndpointResource is a container on a network, as network inspect lists
// it.
type EndpointResource struct {
	Name        string
	EndpointID  string
	MacAddress  string
	IPv4Address string
	IPv6Address string
}
