package labs_test

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nslab/nslab/engine/labhost"
)

// labEngine is the engine the labs run against: nslab's (the default) or,
// with NSLAB_ENGINE=docker, the machine's real dockerd inside each lab host.
func labEngine() string {
	if e := os.Getenv("NSLAB_ENGINE"); e != "" {
		return e
	}
	return labhost.EngineNslab
}

// emulatedDockerMajor is the Docker release nslab emulates (engine/README.md:
// the Docker of the notes, v24).
const emulatedDockerMajor = 24

var dockerdVersion = sync.OnceValues(func() (string, error) {
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
func dockerMajor() (int, error) {
	if labEngine() != labhost.EngineDocker {
		return emulatedDockerMajor, nil
	}
	v, err := dockerdVersion()
	if err != nil {
		return 0, err
	}
	major, _, _ := strings.Cut(v, ".")
	return strconv.Atoi(major)
}

// engineCondition answers the labs' own conditions:
//
//	[engine:docker] [engine:nslab]   which engine the lab host runs
//	[docker-version:<25]             the Docker major version (nslab: 24, the
//	[docker-version:>=25]            version it emulates); <, <=, >, >=, =
func engineCondition(cond string) (bool, error) {
	if e, ok := strings.CutPrefix(cond, "engine:"); ok {
		if e != labhost.EngineNslab && e != labhost.EngineDocker {
			return false, fmt.Errorf("unknown engine %q in condition [%s]", e, cond)
		}
		return labEngine() == e, nil
	}
	if v, ok := strings.CutPrefix(cond, "docker-version:"); ok {
		m := regexp.MustCompile(`^(<=|>=|<|>|=)([0-9]+)$`).FindStringSubmatch(v)
		if m == nil {
			return false, fmt.Errorf("bad condition [%s]: want docker-version:<N, <=N, >N, >=N or =N", cond)
		}
		n, _ := strconv.Atoi(m[2])
		major, err := dockerMajor()
		if err != nil {
			return false, err
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

func TestEngineConditions(t *testing.T) {
	t.Setenv("NSLAB_ENGINE", "")
	for cond, want := range map[string]bool{
		"engine:nslab":        true,
		"engine:docker":       false,
		"docker-version:<25":  true, // nslab emulates v24
		"docker-version:>=25": false,
		"docker-version:=24":  true,
		"docker-version:>23":  true,
		"docker-version:<=23": false,
	} {
		got, err := engineCondition(cond)
		if err != nil || got != want {
			t.Errorf("[%s] on nslab = %v, %v; want %v", cond, got, err, want)
		}
	}
	for _, bad := range []string{"engine:podman", "docker-version:25", "docker-version:<v25", "dockerversion"} {
		if _, err := engineCondition(bad); err == nil {
			t.Errorf("[%s]: want an error", bad)
		}
	}
}
