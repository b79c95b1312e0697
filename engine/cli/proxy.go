package cli

import (
	"os"
	"path/filepath"

	"github.com/nslab/nslab/engine/portmap"
)

// isProxy reports whether this process was started as docker-proxy: the
// daemon runs nslab's own binary through a link of that name, so that ps,
// ss -ltnp and netstat -ltnp name it as they name Docker's.
func isProxy() bool { return filepath.Base(os.Args[0]) == portmap.ProxyName }

// proxyMain is docker-proxy's entry point. Like Docker's, it reports
// readiness to the daemon on fd 3. It changes nothing in any namespace, so
// unlike the other hidden entry points it needs no lab host check.
func proxyMain() int {
	return portmap.ProxyMain(os.Args[1:], os.NewFile(3, "signal-parent"), os.Stderr)
}
