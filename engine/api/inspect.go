package api

import (
	"fmt"
	"time"
)

// The inspect types mirror Docker's API types of the same names (Docker
// 20.10 and v24, API 1.41 to 1.43), field for field and in their order, so
// encoding/json prints `inspect` as Docker does: the same keys, the same
// order, and the same zero values (null, {}, [] or "") where nslab has
// nothing to say. Fields tagged omitempty are so in Docker too. The names
// are Docker's; other packages fill them from their options.

// ContainerJSON is `docker inspect CONTAINER` (Docker's
// types.ContainerJSON: ContainerJSONBase, then Mounts, Config and
// NetworkSettings).
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
	RestartCount    int
	Driver          string
	Platform        string
	MountLabel      string
	ProcessLabel    string
	AppArmorProfile string
	ExecIDs         []string
	HostConfig      *HostConfig
	GraphDriver     GraphDriverData
	SizeRw          *int64 `json:",omitempty"`
	SizeRootFs      *int64 `json:",omitempty"`
	Mounts          []MountPoint
	Config          *Config
	NetworkSettings *NetworkSettings
}

// ContainerState is the container's process state. Times are RFC 3339 in
// UTC, and Go's zero time when it has not happened.
type ContainerState struct {
	Status     string // created, running, paused, restarting, removing, exited, dead
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
	Health     *Health `json:",omitempty"`
}

// Health is a container's health check state (nslab runs no health
// checks, so it is always absent).
type Health struct {
	Status        string
	FailingStreak int
	Log           []*HealthcheckResult
}

// HealthcheckResult is one run of a health check.
type HealthcheckResult struct {
	Start    time.Time
	End      time.Time
	ExitCode int
	Output   string
}

// GraphDriverData is the container's storage driver and its directories.
type GraphDriverData struct {
	Data map[string]string
	Name string
}

// MountPoint is one mount of the container as inspect lists it (Docker's
// types.MountPoint).
type MountPoint struct {
	Type        string `json:",omitempty"` // bind, volume, tmpfs
	Name        string `json:",omitempty"`
	Source      string
	Destination string
	Driver      string `json:",omitempty"`
	Mode        string
	RW          bool
	Propagation string
}

// HostConfig is what run asked of the host (Docker's container.HostConfig,
// with its embedded Resources spelled out in place).
type HostConfig struct {
	// Applicable to all platforms.
	Binds           []string
	ContainerIDFile string
	LogConfig       LogConfig
	NetworkMode     string
	PortBindings    PortMap
	RestartPolicy   RestartPolicy
	AutoRemove      bool
	VolumeDriver    string
	VolumesFrom     []string

	// Applicable to UNIX platforms.
	CapAdd          []string
	CapDrop         []string
	CgroupnsMode    string
	DNS             []string `json:"Dns"`
	DNSOptions      []string `json:"DnsOptions"`
	DNSSearch       []string `json:"DnsSearch"`
	ExtraHosts      []string
	GroupAdd        []string
	IpcMode         string
	Cgroup          string
	Links           []string
	OomScoreAdj     int
	PidMode         string
	Privileged      bool
	PublishAllPorts bool
	ReadonlyRootfs  bool
	SecurityOpt     []string
	StorageOpt      map[string]string `json:",omitempty"`
	Tmpfs           map[string]string `json:",omitempty"`
	UTSMode         string
	UsernsMode      string
	ShmSize         int64
	Sysctls         map[string]string `json:",omitempty"`
	Runtime         string            `json:",omitempty"`

	// Applicable to Windows.
	ConsoleSize [2]uint
	Isolation   string

	// Resources (Docker's container.Resources, embedded).
	CPUShares            int64 `json:"CpuShares"`
	Memory               int64
	NanoCPUs             int64 `json:"NanoCpus"`
	CgroupParent         string
	BlkioWeight          uint16
	BlkioWeightDevice    []*WeightDevice
	BlkioDeviceReadBps   []*ThrottleDevice
	BlkioDeviceWriteBps  []*ThrottleDevice
	BlkioDeviceReadIOps  []*ThrottleDevice
	BlkioDeviceWriteIOps []*ThrottleDevice
	CPUPeriod            int64 `json:"CpuPeriod"`
	CPUQuota             int64 `json:"CpuQuota"`
	CPURealtimePeriod    int64 `json:"CpuRealtimePeriod"`
	CPURealtimeRuntime   int64 `json:"CpuRealtimeRuntime"`
	CpusetCpus           string
	CpusetMems           string
	Devices              []DeviceMapping
	DeviceCgroupRules    []string
	DeviceRequests       []DeviceRequest
	KernelMemory         int64
	KernelMemoryTCP      int64
	MemoryReservation    int64
	MemorySwap           int64
	MemorySwappiness     *int64
	OomKillDisable       *bool
	PidsLimit            *int64
	Ulimits              []*Ulimit
	CPUCount             int64 `json:"CpuCount"`
	CPUPercent           int64 `json:"CpuPercent"`
	IOMaximumIOps        uint64
	IOMaximumBandwidth   uint64

	// Mounts as --mount gave them.
	Mounts []Mount `json:",omitempty"`
	// The paths masked and made read-only in the container.
	MaskedPaths   []string
	ReadonlyPaths []string
	// Init is --init: nil when run did not say.
	Init *bool `json:",omitempty"`
}

// LogConfig is the container's log driver and its --log-opt options.
type LogConfig struct {
	Type   string
	Config map[string]string
}

// RestartPolicy is --restart: no, always, unless-stopped or on-failure
// with its retry count.
type RestartPolicy struct {
	Name              string
	MaximumRetryCount int
}

// WeightDevice is a --blkio-weight-device entry.
type WeightDevice struct {
	Path   string
	Weight uint16
}

// ThrottleDevice is a --device-read-bps (and similar) entry.
type ThrottleDevice struct {
	Path string
	Rate uint64
}

// DeviceMapping is a --device entry.
type DeviceMapping struct {
	PathOnHost        string
	PathInContainer   string
	CgroupPermissions string
}

// DeviceRequest is a --gpus entry.
type DeviceRequest struct {
	Driver       string
	Count        int
	DeviceIDs    []string
	Capabilities [][]string
	Options      map[string]string
}

// Ulimit is a --ulimit entry.
type Ulimit struct {
	Name string
	Hard int64
	Soft int64
}

// Mount is a --mount entry (Docker's mount.Mount, the fields nslab could
// take).
type Mount struct {
	Type     string `json:",omitempty"`
	Source   string `json:",omitempty"`
	Target   string `json:",omitempty"`
	ReadOnly bool   `json:",omitempty"`
}

// Config is the container's own configuration (Docker's
// container.Config).
type Config struct {
	Hostname        string
	Domainname      string
	User            string
	AttachStdin     bool
	AttachStdout    bool
	AttachStderr    bool
	ExposedPorts    map[string]struct{} `json:",omitempty"`
	Tty             bool
	OpenStdin       bool
	StdinOnce       bool
	Env             []string
	Cmd             []string
	Healthcheck     *HealthConfig `json:",omitempty"`
	ArgsEscaped     bool          `json:",omitempty"`
	Image           string
	Volumes         map[string]struct{}
	WorkingDir      string
	Entrypoint      []string
	NetworkDisabled bool   `json:",omitempty"`
	MacAddress      string `json:",omitempty"`
	OnBuild         []string
	Labels          map[string]string
	StopSignal      string   `json:",omitempty"`
	StopTimeout     *int     `json:",omitempty"`
	Shell           []string `json:",omitempty"`
}

// HealthConfig is an image's or run's health check.
type HealthConfig struct {
	Test        []string      `json:",omitempty"`
	Interval    time.Duration `json:",omitempty"`
	Timeout     time.Duration `json:",omitempty"`
	StartPeriod time.Duration `json:",omitempty"`
	Retries     int           `json:",omitempty"`
}

// NetworkSettings is the container's network: its sandbox, ports, the
// default bridge's legacy top-level address fields, and every network
// (Docker's NetworkSettingsBase, DefaultNetworkSettings, then Networks).
type NetworkSettings struct {
	Bridge                 string
	SandboxID              string
	HairpinMode            bool
	LinkLocalIPv6Address   string
	LinkLocalIPv6PrefixLen int
	Ports                  PortMap
	SandboxKey             string
	SecondaryIPAddresses   []Address
	SecondaryIPv6Addresses []Address

	EndpointID          string
	Gateway             string
	GlobalIPv6Address   string
	GlobalIPv6PrefixLen int
	IPAddress           string
	IPPrefixLen         int
	IPv6Gateway         string
	MacAddress          string

	Networks map[string]*EndpointSettings
}

// Address is an IP address and its prefix length.
type Address struct {
	Addr      string
	PrefixLen int
}

// EndpointSettings is the container's endpoint on one network (Docker's
// network.EndpointSettings up to v24: Aliases hold the short id on a
// user-defined network, and there is no DNSNames, which v25 added).
type EndpointSettings struct {
	IPAMConfig          *EndpointIPAMConfig
	Links               []string
	Aliases             []string
	NetworkID           string
	EndpointID          string
	Gateway             string
	IPAddress           string
	IPPrefixLen         int
	IPv6Gateway         string
	GlobalIPv6Address   string
	GlobalIPv6PrefixLen int
	MacAddress          string
	DriverOpts          map[string]string
}

// String prints the endpoint's fields, so that a template such as
// {{.NetworkSettings.Networks}} shows them where Docker's CLI prints Go
// pointers (map[bridge:0xc00049e000]).
func (e *EndpointSettings) String() string { return fmt.Sprintf("%v", *e) }

// EndpointIPAMConfig is the fixed address run --ip (or connect --ip) asked
// for on a network.
type EndpointIPAMConfig struct {
	IPv4Address  string   `json:",omitempty"`
	IPv6Address  string   `json:",omitempty"`
	LinkLocalIPs []string `json:",omitempty"`
}

// String prints the fixed addresses, as EndpointSettings.String does.
func (c *EndpointIPAMConfig) String() string { return fmt.Sprintf("%v", *c) }

// PortMap is ports by "PORT/PROTO", with their host bindings (Docker's
// nat.PortMap). An exposed port without bindings maps to null.
type PortMap map[string][]PortBinding

// PortBinding is one host side of a port.
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string
}

// NetworkResource is `docker network inspect` (Docker's
// types.NetworkResource before v29).
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
	// Peers are the nodes that have joined an overlay network.
	Peers []PeerInfo `json:",omitempty"`
}

// PeerInfo is a node in an overlay network's Peers.
type PeerInfo struct {
	Name string
	IP   string
}

// IPAM is a network's address management: its driver and subnets.
type IPAM struct {
	Driver  string
	Options map[string]string
	Config  []IPAMConfig
}

// IPAMConfig is one subnet of a network.
type IPAMConfig struct {
	Subnet     string            `json:",omitempty"`
	IPRange    string            `json:",omitempty"`
	Gateway    string            `json:",omitempty"`
	AuxAddress map[string]string `json:"AuxiliaryAddresses,omitempty"`
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
