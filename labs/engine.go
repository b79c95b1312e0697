package labs

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/nslab/nslab/engine/labhost"
)

// EmulatedDockerMajor is the Docker release nslab emulates (engine/README.md:
// the Docker of the notes, v24).
const EmulatedDockerMajor = 24

// DockerdVersion is the version of the machine's dockerd, the engine of a
// Docker-engine lab host ("20.10.24"). It is looked up once, on first use:
// labs on nslab's engine never ask.
var DockerdVersion = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("dockerd", "--version").Output()
	if err != nil {
		return "", fmt.Errorf("dockerd --version: %w", err)
	}
	m := regexp.MustCompile(`version ([0-9][^ ,]*)`).FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("dockerd --version: no version in %q", out)
	}
	return string(m[1]), nil
})

// dockerMajor is the major version of the Docker the labs run against.
func dockerMajor(engine string) (int, error) {
	if engine != labhost.EngineDocker {
		return EmulatedDockerMajor, nil
	}
	v, err := DockerdVersion()
	if err != nil {
		return 0, err
	}
	major, _, _ := strings.Cut(v, ".")
	return strconv.Atoi(major)
}

var versionCond = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(<=|>=|<|>|=)([0-9]+)$`) })

// Condition answers the labs' own conditions, for the engine of the lab
// hosts Params starts (labhost.DefaultEngine, which `go test` sets from
// NSLAB_ENGINE and `nslab lab run` from --engine):
//
//	[engine:docker] [engine:nslab]   which engine the lab host runs
//	[docker-version:<25]             the Docker major version (nslab: 24, the
//	[docker-version:>=25]            version it emulates); <, <=, >, >=, =
//
// A lab uses them where real Docker legitimately differs, with a comment
// giving the reason (issue 9).
func Condition(cond string) (bool, error) {
	engine := labhost.DefaultEngine
	if engine == "" {
		engine = labhost.EngineNslab
	}
	if e, ok := strings.CutPrefix(cond, "engine:"); ok {
		if e != labhost.EngineNslab && e != labhost.EngineDocker {
			return false, fmt.Errorf("unknown engine %q in condition [%s]: the engines are %s", e, cond, strings.Join(labhost.Engines, ", "))
		}
		return engine == e, nil
	}
	if v, ok := strings.CutPrefix(cond, "docker-version:"); ok {
		m := versionCond().FindStringSubmatch(v)
		if m == nil {
			return false, fmt.Errorf("bad condition [%s]: want docker-version:<N, <=N, >N, >=N or =N", cond)
		}
		n, _ := strconv.Atoi(m[2])
		major, err := dockerMajor(engine)
		if err != nil {
			return false, fmt.Errorf("condition [%s]: %w", cond, err)
		}
		switch m[1] {
		case "<":
			return major < n, nil
		case "<=":
			return major <= n, nil
		case ">":
			return major > n, nil
		case ">=":
			return major >= n, nil
		}
		return major == n, nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}
