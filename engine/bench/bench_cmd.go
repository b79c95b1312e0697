// Package bench holds nslab's benchmarks: they drive bridge, netns and the
// firewall directly, around the daemon, and time the daemon's verbs. The
// hidden `nslab bench` verb dispatches here; labs/*bench_test.go runs it in
// a lab host.
package bench

import (
	"os"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/labhost"
	"github.com/spf13/cobra"
)

// Cmd is the hidden `nslab bench` verb.
func Cmd() *cobra.Command { return benchCmd() }

// call is labhost.CallDaemon.
func call(req api.Operation, out any, files ...*os.File) error {
	return labhost.CallDaemon(req, out, files...)
}
