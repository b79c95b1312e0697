// Command nslab-shim is the engine daemon's small helper: a container's
// init, its log shim, and docker exec's helper inside it (see engine/shim).
// It imports only what those need, so it starts in about a third of the
// time nslab's own binary takes, and a run -d starts it twice. The daemon
// finds it next to nslab or in PATH; build both with
// `go build -o DIR ./engine/cmd/...`.
package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/nslab/nslab/engine/container"
	"github.com/nslab/nslab/engine/shim"
)

func init() {
	// The init limits its capabilities on the main thread and execs from
	// it, so the main goroutine must stay there (engine/container). The
	// exec helper does the same, from container's own package init.
	runtime.LockOSThread()
}

func main() {
	// Both change the namespaces they run in; the marker exists only on
	// a lab host's private /run, so on the real host they refuse.
	if !shim.InLabHost() {
		fmt.Fprintln(os.Stderr, "nslab-shim: refused: this is not a lab host (it would change the real host's network)")
		os.Exit(2)
	}
	switch {
	case container.IsInit():
		container.Init()
		os.Exit(127)
	case shim.IsLogShim():
		os.Exit(shim.LogShimMain())
	}
	fmt.Fprintln(os.Stderr, "nslab-shim: only the nslab engine daemon starts this helper")
	os.Exit(2)
}
