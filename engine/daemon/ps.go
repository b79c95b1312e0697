// ps: what `docker ps` needs beyond the list itself, for its COMMAND column,
// its --filter and its --format. Call with d.mu held.

package daemon

import "strings"

// psCommand is the COMMAND of docker ps as the daemon builds it: the path,
// then the arguments, each one that holds a space in single quotes, so
// `sh -c 'exit 3'` reads back as typed. The CLI quotes and truncates it.
func psCommand(argv []string) string {
	if len(argv) == 0 {
		return ""
	}
	parts := []string{argv[0]}
	for _, a := range argv[1:] {
		if strings.Contains(a, " ") {
			a = "'" + a + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// psNetworks names the container's networks with their IDs, for ps's
// network= filter and .Networks. A running container's are its endpoints
// (host and none included, as Docker lists them); a stopped one has given
// its endpoints back, so it reports the network it was run on, where Docker
// keeps every network it was connected to.
func (d *Daemon) psNetworks(c *Container) map[string]string {
	out := map[string]string{}
	for _, ep := range c.Endpoints {
		out[ep.Network] = ep.NetworkID
	}
	if len(out) == 0 && !strings.HasPrefix(c.NetworkMode, "container:") {
		if n := d.networkByName(c.NetworkMode); n != nil {
			out[n.Name] = n.ID
		}
	}
	return out
}
