// Inspect: a container as `docker inspect` shows it. Call with d.mu held.

package daemon

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/container"
)

// handleInspect inspects containers or, for a name that is no container,
// networks, as docker inspect does.
func (d *Daemon) handleInspect(req api.InspectRequest) (api.InspectResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out api.InspectResponse
	for _, ref := range req.Names {
		var obj any
		if c, err := d.container(ref); err == nil {
			obj = d.containerJSON(c)
		} else if n, nerr := d.network(ref); nerr == nil {
			obj = d.networkJSON(n)
		} else {
			return nil, err
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// Docker's values for what nslab has no say in, as Docker 20.10 prints
// them for a container run with no options.
const (
	shmSize      = 64 << 20 // --shm-size's default
	graphDriver  = "overlay2"
	platform     = "linux"
	runtimeName  = "runc"
	ipcMode      = "private" // the daemon's default-ipc-mode
	cgroupnsMode = "host"    // 20.10's default; v24 on cgroup v2 says "private"
)

// ts is a time as inspect prints it: RFC 3339 in UTC with nanoseconds, and
// Go's zero time for what has not happened.
func ts(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// containerJSON renders `inspect` in Docker's shape. Call with d.mu held.
func (d *Daemon) containerJSON(c *Container) api.ContainerJSON {
	path, args := "", []string{}
	if argv := c.argv(); len(argv) > 0 {
		path, args = argv[0], argv[1:]
	}
	hostsPath, resolvPath, hostnamePath := c.file("hosts"), c.file("resolv.conf"), c.file("hostname")
	if strings.HasPrefix(c.NetworkMode, "container:") {
		if x, err := d.container(strings.TrimPrefix(c.NetworkMode, "container:")); err == nil {
			hostsPath, resolvPath, hostnamePath = x.file("hosts"), x.file("resolv.conf"), x.file("hostname")
		}
	}
	return api.ContainerJSON{
		ID:      c.ID,
		Created: ts(c.Created),
		Path:    path,
		Args:    args,
		State: &api.ContainerState{
			Status: c.Status, Running: c.running(), Restarting: c.restarting(), Pid: c.Pid, ExitCode: c.ExitCode,
			Error: c.Error, StartedAt: ts(c.StartedAt), FinishedAt: ts(c.FinishedAt),
		},
		Image:          c.ImageID,
		ResolvConfPath: resolvPath,
		HostnamePath:   hostnamePath,
		HostsPath:      hostsPath,
		LogPath:        c.LogPath(),
		Name:           "/" + c.Name,
		RestartCount:   c.RestartCount,
		Driver:         graphDriver,
		Platform:       platform,
		HostConfig:     hostConfigJSON(c),
		GraphDriver: api.GraphDriverData{Name: graphDriver, Data: map[string]string{
			"LowerDir": c.lower, "MergedDir": c.file("rootfs"), "UpperDir": c.file("upper"), "WorkDir": c.file("work"),
		}},
		Mounts:          c.mountPointsJSON(),
		Config:          configJSON(c),
		NetworkSettings: d.networkSettingsJSON(c),
	}
}

// hostConfigJSON is HostConfig: what run asked of the host, and Docker's
// defaults for the rest.
func hostConfigJSON(c *Container) *api.HostConfig {
	logConfig := c.LogConfig
	if logConfig == nil {
		logConfig = map[string]string{}
	}
	h := &api.HostConfig{
		LogConfig:     api.LogConfig{Type: "json-file", Config: logConfig},
		NetworkMode:   c.Inspect.NetworkMode,
		PortBindings:  portBindingsJSON(c),
		RestartPolicy: restartPolicyJSON(c),
		AutoRemove:    c.AutoRemove,
		CapAdd:        c.CapAdd,
		CapDrop:       c.CapDrop,
		CgroupnsMode:  cgroupnsMode,
		DNS:           []string{},
		DNSOptions:    []string{},
		DNSSearch:     []string{},
		IpcMode:       ipcMode,
		PidMode:       c.PidMode,
		Privileged:    c.Privileged,
		SecurityOpt:   c.SecurityOpt,
		ShmSize:       shmSize,
		Sysctls:       c.Sysctls,
		Runtime:       runtimeName,

		BlkioWeightDevice:    []*api.WeightDevice{},
		BlkioDeviceReadBps:   []*api.ThrottleDevice{},
		BlkioDeviceWriteBps:  []*api.ThrottleDevice{},
		BlkioDeviceReadIOps:  []*api.ThrottleDevice{},
		BlkioDeviceWriteIOps: []*api.ThrottleDevice{},
		Devices:              []api.DeviceMapping{},
		OomKillDisable:       new(bool),
		Ulimits:              []*api.Ulimit{},
	}
	h.PublishAllPorts = c.Inspect.PublishAll
	if !c.Privileged {
		h.MaskedPaths, h.ReadonlyPaths = container.MaskedPaths(), container.ReadonlyPaths()
	}
	c.runOptsHostConfig(h)
	return h
}

// configJSON is Config: the container's own configuration.
func configJSON(c *Container) *api.Config {
	cfg := &api.Config{
		Hostname:     c.Hostname,
		AttachStdin:  c.Inspect.AttachStdin,
		AttachStdout: c.Inspect.AttachOutput,
		AttachStderr: c.Inspect.AttachOutput,
		ExposedPorts: exposedJSON(c),
		Tty:          c.Tty,
		OpenStdin:    c.OpenStdin,
		StdinOnce:    c.Inspect.AttachStdin,
		Env:          c.Env,
		Cmd:          c.Cmd,
		Image:        c.Image,
		Entrypoint:   c.Entrypoint,
		Labels:       map[string]string{},
		StopSignal:   c.StopSignal,
	}
	c.runOptsConfig(cfg)
	return cfg
}

// inspectState is what inspect shows that the rest of the daemon does not
// keep: how run named the network mode and attached, and what Docker keeps
// of a container's network after it stops (its sandbox's ID and key, and
// each network with its configuration but no address). Its fields are
// exported so that the state file keeps them.
type inspectState struct {
	NetworkMode  string // HostConfig.NetworkMode: "default" when run gave no --network
	PublishAll   bool   // -P
	AttachStdin  bool   // an attached run with -i (StdinOnce too)
	AttachOutput bool   // an attached run: AttachStdout and AttachStderr
	// A host-mode container's sandbox: Docker gives it an ID and the key
	// of the host's own namespace.
	HostSandboxID string
	// The endpoint Docker makes on the host or none network, which both
	// inspects show while the container runs.
	ModeEndpointID string
	// After the container stops.
	SandboxID, SandboxKey string
	Networks              []keptEndpoint
}

// keptEndpoint is a network a stopped container was on, as Docker keeps it
// in the container's configuration.
type keptEndpoint struct {
	Network   string
	Settings  api.EndpointSettings // the configuration only
	Connected bool                 // by network connect
}

// newInspectState records what run asked for, once create has settled the
// network mode.
func newInspectState(c *Container, o api.RunOptions) inspectState {
	st := inspectState{
		NetworkMode:  o.Network,
		PublishAll:   o.PublishAll,
		AttachStdin:  !o.Detach && o.Interactive,
		AttachOutput: !o.Detach,
	}
	if st.NetworkMode == "" {
		st.NetworkMode = "default"
	}
	if strings.HasPrefix(c.NetworkMode, "container:") {
		// Docker keeps the container it resolved, by its full ID.
		st.NetworkMode = c.NetworkMode
	}
	if c.NetworkMode == "host" {
		st.HostSandboxID = container.NewID()
	}
	if c.NetworkMode == "host" || c.NetworkMode == "none" {
		st.ModeEndpointID = container.NewID()
	}
	return st
}

// hostSandboxKey is the key Docker shows for a host-mode container: the
// default (the host's own) namespace, under the engine's netns directory,
// where start pins it, as Docker does.
func (d *Daemon) hostSandboxKey() string { return filepath.Join(d.dir, "netns", "default") }

// keepForInspect records, as the container's network is released, what
// Docker's inspect still shows of it once the container has stopped.
// Call with d.mu held.
func (d *Daemon) keepForInspect(c *Container) {
	st := &c.Inspect
	st.SandboxID, st.SandboxKey, st.Networks = c.SandboxID, c.SandboxKey, nil
	if c.NetworkMode == "host" {
		st.SandboxID, st.SandboxKey = st.HostSandboxID, d.hostSandboxKey()
	}
	for _, ep := range c.Endpoints {
		if ep.Hidden {
			continue
		}
		es := d.endpointJSON(c, ep)
		st.Networks = append(st.Networks, keptEndpoint{Network: ep.Network, Connected: ep.Network != c.NetworkMode, Settings: api.EndpointSettings{
			IPAMConfig: es.IPAMConfig, Links: es.Links, Aliases: es.Aliases, NetworkID: es.NetworkID,
		}})
	}
	if n := d.networkByName(c.NetworkMode); n != nil && (n.Name == "host" || n.Name == "none") {
		st.Networks = append(st.Networks, keptEndpoint{Network: n.Name, Settings: api.EndpointSettings{NetworkID: n.ID}})
	}
}

// endpointJSON is a running container's endpoint on one network. On a
// user-defined network, Aliases are --network-alias's, then the short ID,
// then the hostname, each once, as Docker up to v24 lists them (v25 moved
// the last two to DNSNames). An endpoint of network connect has DriverOpts
// {}, run's null, as in Docker.
func (d *Daemon) endpointJSON(c *Container, ep *Endpoint) *api.EndpointSettings {
	es := &api.EndpointSettings{
		Aliases: ep.Aliases, NetworkID: ep.NetworkID, EndpointID: ep.EndpointID, Gateway: ep.Gateway.String(),
		IPAddress: ep.Addr.Addr().String(), IPPrefixLen: ep.Addr.Bits(), MacAddress: ep.MAC,
	}
	if !ep.Gateway.IsValid() {
		es.Gateway = "" // an overlay endpoint: no gateway, as in Docker
	}
	if ep.IPv4Req != "" {
		es.IPAMConfig = &api.EndpointIPAMConfig{IPv4Address: ep.IPv4Req}
	}
	if n := d.networkByName(ep.Network); n != nil && n.userDefined() {
		es.Aliases = append([]string(nil), ep.Aliases...)
		for _, name := range []string{c.ID[:12], c.Hostname} {
			if !slices.Contains(es.Aliases, name) {
				es.Aliases = append(es.Aliases, name)
			}
		}
	}
	if ep.Network != c.NetworkMode {
		es.DriverOpts = map[string]string{}
	}
	return es
}

// networkSettingsJSON is NetworkSettings: the sandbox, the ports, the
// default bridge's legacy top-level fields, and each network's endpoint.
// A container that has not started shows the network it will join, with
// nothing but what run asked for; one that has stopped keeps its sandbox's
// ID and key and its networks without addresses, as Docker does.
func (d *Daemon) networkSettingsJSON(c *Container) *api.NetworkSettings {
	ns := &api.NetworkSettings{Ports: api.PortMap{}, Networks: map[string]*api.EndpointSettings{}}
	switch {
	case c.running():
		ns.SandboxID, ns.SandboxKey, ns.Ports = c.SandboxID, c.SandboxKey, portsJSON(c)
		for _, ep := range c.Endpoints {
			if ep.Hidden {
				continue // docker_gwbridge's: Docker does not show it
			}
			es := d.endpointJSON(c, ep)
			ns.Networks[ep.Network] = es
			if ep.Network == "bridge" {
				ns.EndpointID, ns.Gateway, ns.IPAddress, ns.IPPrefixLen, ns.MacAddress = es.EndpointID, es.Gateway, es.IPAddress, es.IPPrefixLen, es.MacAddress
			}
		}
		if c.NetworkMode == "host" || c.NetworkMode == "none" {
			if n := d.networkByName(c.NetworkMode); n != nil {
				ns.Networks[c.NetworkMode] = &api.EndpointSettings{NetworkID: n.ID, EndpointID: c.Inspect.ModeEndpointID}
			}
		}
		if c.NetworkMode == "host" {
			ns.SandboxID, ns.SandboxKey = c.Inspect.HostSandboxID, d.hostSandboxKey()
		}
	case c.Status == "created":
		if !strings.HasPrefix(c.NetworkMode, "container:") {
			es := &api.EndpointSettings{Aliases: c.RunAliases}
			if c.RunIP != "" {
				es.IPAMConfig = &api.EndpointIPAMConfig{IPv4Address: c.RunIP}
			}
			ns.Networks[c.NetworkMode] = es
		}
	default:
		ns.SandboxID, ns.SandboxKey = c.Inspect.SandboxID, c.Inspect.SandboxKey
		for _, k := range c.Inspect.Networks {
			es := k.Settings
			if k.Connected {
				es.DriverOpts = map[string]string{}
			}
			ns.Networks[k.Network] = &es
		}
	}
	return ns
}
