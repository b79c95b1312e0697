// Inspect: a container as `docker inspect` shows it. Call with d.mu held.

package daemon

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/nslab/nslab/engine/api"
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

// containerJSON renders `inspect` in Docker's shape (the fields the labs and
// the notes use). Call with d.mu held.
func (d *Daemon) containerJSON(c *Container) api.ContainerJSON {
	networks := map[string]*api.EndpointSettings{}
	var primary *Endpoint
	for _, ep := range c.Endpoints {
		if primary == nil {
			primary = ep
		}
		networks[ep.Network] = &api.EndpointSettings{
			Aliases: ep.Aliases, MacAddress: ep.MAC,
			NetworkID: ep.NetworkID, EndpointID: ep.EndpointID, Gateway: ep.Gateway.String(),
			IPAddress: ep.Addr.Addr().String(), IPPrefixLen: ep.Addr.Bits(), DNSNames: ep.DNSNames,
		}
	}
	if (c.NetworkMode == "host" || c.NetworkMode == "none") && c.running() {
		if n := d.networkByName(c.NetworkMode); n != nil {
			networks[c.NetworkMode] = &api.EndpointSettings{NetworkID: n.ID}
		}
	}
	ns := &api.NetworkSettings{
		SandboxID: c.SandboxID, SandboxKey: c.SandboxKey, Ports: portsJSON(c), Networks: networks,
	}
	if primary != nil && primary.Network == "bridge" {
		ns.Gateway, ns.IPAddress, ns.IPPrefixLen, ns.MacAddress = primary.Gateway.String(), primary.Addr.Addr().String(), primary.Addr.Bits(), primary.MAC
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "0001-01-01T00:00:00Z"
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
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
			Status: c.Status, Running: c.running(), Pid: c.Pid, ExitCode: c.ExitCode,
			StartedAt: ts(c.StartedAt), FinishedAt: ts(c.FinishedAt),
		},
		Image:          c.ImageID,
		ResolvConfPath: resolvPath,
		HostnamePath:   hostnamePath,
		HostsPath:      hostsPath,
		LogPath:        c.LogPath(),
		Name:           "/" + c.Name,
		HostConfig: &api.HostConfig{
			LogConfig:   api.LogConfig{Type: "json-file", Config: c.LogConfig},
			NetworkMode: c.NetworkMode, PidMode: c.PidMode, AutoRemove: c.AutoRemove, PortBindings: portBindingsJSON(c),
			CapAdd: c.CapAdd, CapDrop: c.CapDrop, Privileged: c.Privileged, SecurityOpt: c.SecurityOpt,
			Sysctls: c.Sysctls,
		},
		Config: &api.Config{
			Hostname: c.Hostname, Tty: c.Tty, OpenStdin: c.OpenStdin,
			ExposedPorts: exposedJSON(c), Env: c.Env, Cmd: c.Cmd, Image: c.Image,
			Entrypoint: c.Entrypoint,
		},
		NetworkSettings: ns,
	}
}
