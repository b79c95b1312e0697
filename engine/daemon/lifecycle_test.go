package daemon

import (
	"syscall"
	"testing"
	"time"

	"github.com/nslab/nslab/engine/api"
)

// dockerd 20.10.24's answers, measured in a Docker-engine lab host.
func TestParseRestartPolicy(t *testing.T) {
	for in, want := range map[string]string{
		"bogus":         "invalid restart policy 'bogus'",
		"always:3":      "maximum retry count cannot be used with restart policy 'always'",
		"no:2":          "maximum retry count cannot be used with restart policy 'no'",
		"on-failure:-1": "maximum retry count cannot be negative",
		"on-failure:x":  "invalid restart policy format: maximum retry count must be an integer",
		"a:b:c":         "invalid restart policy format: maximum retry count must be an integer",
	} {
		if _, err := parseRestartPolicy(in); err == nil || err.Error() != want {
			t.Errorf("parseRestartPolicy(%q) = %v, want %q", in, err, want)
		}
	}
	for in, want := range map[string]RestartPolicy{
		"":               {Name: "no"},
		"no":             {Name: "no"},
		"always":         {Name: "always"},
		"unless-stopped": {Name: "unless-stopped"},
		"on-failure":     {Name: "on-failure"},
		"on-failure:3":   {Name: "on-failure", MaximumRetryCount: 3},
	} {
		if got, err := parseRestartPolicy(in); err != nil || got != want {
			t.Errorf("parseRestartPolicy(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{"SIGUSR1": syscall.SIGUSR1, "usr1": syscall.SIGUSR1, "TERM": syscall.SIGTERM, "9": syscall.SIGKILL} {
		if got, err := parseSignal(in); err != nil || got != want {
			t.Errorf("parseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"BOGUS", "0", "-1", "999", ""} {
		if _, err := parseSignal(in); err == nil || err.Error() != "Invalid signal: "+in {
			t.Errorf("parseSignal(%q) = %v, want Docker's \"Invalid signal: %s\"", in, err, in)
		}
	}
}

// The restart manager's decisions and back-off, without processes: each
// exit that the policy restarts doubles the wait, from 100 ms.
func TestRestartDecisions(t *testing.T) {
	d := &Daemon{containers: map[string]*Container{}}
	c := &Container{ID: "c1", Name: "c1"}
	d.containers[c.ID] = c
	exit := func(code int, ran time.Duration) bool {
		c.Status, c.ExitCode = "exited", code
		c.StartedAt = time.Now().Add(-ran)
		c.FinishedAt = time.Now()
		d.afterExit(c)
		c.cancelRestart() // no timer may fire in this test
		return c.timer == nil && c.RestartCount > 0
	}
	c.RestartPolicy = RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}
	if exit(0, 0); c.RestartCount != 0 {
		t.Fatal("on-failure restarted after exit 0")
	}
	exit(1, 0)
	exit(1, 0)
	exit(1, 0)
	if c.RestartCount != 2 || c.backoff != 200*time.Millisecond {
		t.Fatalf("on-failure:2 after 3 failures: RestartCount %d, backoff %v; want 2, 200ms", c.RestartCount, c.backoff)
	}
	c.RestartPolicy, c.RestartCount, c.backoff = RestartPolicy{Name: "always"}, 0, 0
	for range 4 {
		exit(0, 0)
	}
	if c.RestartCount != 4 || c.backoff != 800*time.Millisecond {
		t.Fatalf("always after 4 exits: RestartCount %d, backoff %v; want 4, 800ms", c.RestartCount, c.backoff)
	}
	exit(0, 11*time.Second)
	if c.backoff != 100*time.Millisecond {
		t.Fatalf("after a run of 11 s the back-off is %v, want 100ms again", c.backoff)
	}
	c.manuallyStopped, c.RestartCount = true, 0
	if exit(1, 0); c.RestartCount != 0 {
		t.Fatal("always restarted a container that stop or kill ended")
	}
	c.manuallyStopped, c.AutoRemove = false, true
	if exit(1, 0); c.RestartCount != 0 {
		t.Fatal("restarted an --rm container")
	}
	c.AutoRemove, d.shuttingDown = false, true
	if exit(1, 0); c.RestartCount != 0 {
		t.Fatal("restarted a container while the daemon shuts down")
	}
	if _, err := parseRestartPolicy("on-failure:2"); err != nil {
		t.Fatal(err)
	}
	if err := applyLifecycle(c, api.RunOptions{Restart: "always", AutoRemove: true}); err == nil {
		t.Fatal("--restart always with --rm accepted")
	}
}
