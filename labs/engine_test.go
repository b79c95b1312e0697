package labs_test

import (
	"os"
	"testing"

	"github.com/nslab/nslab/engine/labhost"
	"github.com/nslab/nslab/labs"
)

// labEngine is the engine the labs run against: nslab's (the default) or,
// with NSLAB_ENGINE=docker, the machine's real dockerd inside each lab host.
func labEngine() string {
	if e := os.Getenv("NSLAB_ENGINE"); e != "" {
		return e
	}
	return labhost.EngineNslab
}

// dockerdVersion is the version of the dockerd the labs run against.
func dockerdVersion() (string, error) { return labs.DockerdVersion() }

func TestEngineConditions(t *testing.T) {
	saved := labhost.DefaultEngine
	t.Cleanup(func() { labhost.DefaultEngine = saved })
	labhost.DefaultEngine = labhost.EngineNslab
	for cond, want := range map[string]bool{
		"engine:nslab":        true,
		"engine:docker":       false,
		"docker-version:<25":  true, // nslab emulates v24
		"docker-version:>=25": false,
		"docker-version:=24":  true,
		"docker-version:>23":  true,
		"docker-version:<=23": false,
	} {
		got, err := labs.Condition(cond)
		if err != nil || got != want {
			t.Errorf("[%s] on nslab = %v, %v; want %v", cond, got, err, want)
		}
	}
	for _, bad := range []string{"engine:podman", "docker-version:25", "docker-version:<v25", "dockerversion"} {
		if _, err := labs.Condition(bad); err == nil {
			t.Errorf("[%s]: want an error", bad)
		}
	}
	// On a Docker-engine lab host, the engine condition flips; the
	// version is dockerd's, looked up only when a lab asks.
	labhost.DefaultEngine = labhost.EngineDocker
	if got, err := labs.Condition("engine:docker"); err != nil || !got {
		t.Errorf("[engine:docker] on docker = %v, %v; want true", got, err)
	}
	if got, err := labs.Condition("engine:nslab"); err != nil || got {
		t.Errorf("[engine:nslab] on docker = %v, %v; want false", got, err)
	}
}

// TestParamsCondition checks that labs.Params, which `nslab lab run` uses
// too, answers the labs' engine conditions: without it the player would
// refuse every lab that has one.
func TestParamsCondition(t *testing.T) {
	p := labs.Params()
	if p.Condition == nil {
		t.Fatal("labs.Params sets no Condition: the lab player cannot read [engine:docker]")
	}
	if got, err := p.Condition("engine:" + labhost.DefaultEngine); err != nil || !got {
		t.Errorf("[engine:%s] = %v, %v; want true", labhost.DefaultEngine, got, err)
	}
}
