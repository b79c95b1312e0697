// The log shim: one small process per container that holds the read ends
// of the container's stdout and stderr (or its pty's master) and writes
// the json-file log (engine/shim). A restarted daemon adopts it by pid
// (restore.go).

package daemon

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/nslab/nslab/engine/internal/reap"
	"github.com/nslab/nslab/engine/labhost"
	"github.com/nslab/nslab/engine/shim"
)

// startLogShim starts c's log shim with the given files (see shim.Config)
// as c.shim, which waitOutput reaps once the container has exited. The
// caller closes its copies of them.
func (d *Daemon) startLogShim(c *Container, cfg shim.Config, files []*os.File) error {
	exe, err := shim.Binary()
	if err != nil {
		return err
	}
	cfg.Protocol = shim.Protocol
	js, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	cmd := &exec.Cmd{
		// restore.go and the fault tests know it by its first argument.
		Path: exe, Args: []string{shim.Name, "__logshim", c.ID},
		// One processor is plenty for copying two streams, and it keeps
		// the runtime from starting threads for a second.
		Env:   []string{shim.EnvLogShim + "=" + string(js), "GOMAXPROCS=1"},
		Stdin: devnull, Stdout: devnull, Stderr: devnull,
		ExtraFiles:  files,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	// Unheld: the daemon keeps no descriptor for it while the container
	// runs, since every process it starts copies them all
	// (engine/internal/reap). waitOutput opens one, in the poller.
	p, err := reap.StartUnheld(cmd)
	if err != nil {
		return fmt.Errorf("start the log shim %s: %w", exe, err)
	}
	c.shim = p
	c.live.ShimPid = p.Pid
	c.live.ShimStart = labhost.StartTime(p.Pid)
	return nil
}
