package cli

import (
	"os"
	"path/filepath"
	"syscall"

	"github.com/nslab/nslab/engine/labhost"
	"github.com/spf13/pflag"
)

// engineName is --engine: the daemon a new lab host runs, nslab's own or
// the machine's real Docker Engine. NSLAB_ENGINE sets the default.
var engineName string

func addEngineFlag(fs *pflag.FlagSet) {
	def := os.Getenv("NSLAB_ENGINE")
	if def == "" {
		def = labhost.EngineNslab
	}
	fs.StringVar(&engineName, "engine", def, "The lab host's engine: nslab, or docker (the machine's real dockerd, run inside the lab host)")
}

// useEngine checks --engine and makes it the engine of the lab hosts this
// command starts. A bad name, or docker without dockerd, fails here, before
// anything is started.
func useEngine() error {
	if _, err := labhost.CheckEngine(engineName); err != nil {
		return err
	}
	labhost.DefaultEngine = engineName
	return nil
}

func init() {
	// In a Docker-engine lab host, docker is the real Docker CLI. nslab
	// still answers to "docker" when a caller runs nslab's binary by that
	// name (go test's scripts and the lab player do): hand over to the lab
	// host's docker, entering the lab host first if need be.
	if filepath.Base(os.Args[0]) != "docker" {
		return
	}
	var argv, env []string
	switch host := os.Getenv(labhost.EnvHost); {
	case labhost.InLabHost():
		if labhost.Engine() != labhost.EngineDocker {
			return
		}
		docker := filepath.Join(labhost.BinDir, "docker")
		if self, err := os.Executable(); err == nil && self == docker {
			return
		}
		argv, env = append([]string{docker}, os.Args[1:]...), os.Environ()
	case host != "" && labhost.EngineOf(host) == labhost.EngineDocker:
		cmd, err := labhost.Command(host, append([]string{"docker"}, os.Args[1:]...)...)
		if err != nil || cmd.Err != nil {
			return // Main reports the problem
		}
		argv, env = cmd.Args, cmd.Env
		argv[0] = cmd.Path
	default:
		return
	}
	err := syscall.Exec(argv[0], argv, env)
	os.Stderr.WriteString("nslab: run the lab host's docker: " + err.Error() + "\n")
	os.Exit(127)
}
