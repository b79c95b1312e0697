package labs_test

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/nslab/nslab/engine/labhost"
)

// TestDNSUnderChurn queries the embedded DNS server from inside a container
// while other containers join and leave the same network, through the real
// daemon (race-enabled under `go test -race`; its log is checked). The
// stable name must always resolve to its one address, and every churned
// name must resolve while its container runs. The load is bounded.
func TestDNSUnderChurn(t *testing.T) {
	needLabs(t)
	h, err := labhost.Start(labhost.Options{Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	nslab := func(args ...string) (string, error) {
		cmd, err := labhost.Command(h.Env(), append([]string{"nslab"}, args...)...)
		if err != nil {
			return "", err
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	must := func(args ...string) string {
		out, err := nslab(args...)
		if err != nil {
			t.Fatalf("nslab %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	must("network", "create", "churn")
	must("run", "-d", "--name", "stable", "--network", "churn", "busybox", "sleep", "3600")
	must("run", "-d", "--name", "asker", "--network", "churn", "multitool")

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// 6 rounds of 50 lookups of the stable name, in the container.
		for i := 0; i < 6; i++ {
			out, err := nslab("exec", "asker", "sh", "-c", "for i in $(seq 50); do dig +short +tries=1 +time=2 stable; done")
			if err != nil {
				t.Errorf("lookups: %v\n%s", err, out)
				return
			}
			for _, l := range strings.Fields(out) {
				if l != "172.18.0.2" {
					t.Errorf("stable resolved to %q during churn, want 172.18.0.2; output:\n%s", l, out)
					return
				}
			}
		}
	}()
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				name := fmt.Sprintf("churn-%d-%d", w, i)
				if out, err := nslab("run", "-d", "--name", name, "--network", "churn", "busybox", "sleep", "3600"); err != nil {
					t.Errorf("run %s: %v\n%s", name, err, out)
					return
				}
				out, err := nslab("exec", "asker", "dig", "+short", name)
				if err != nil || !strings.HasPrefix(strings.TrimSpace(out), "172.18.0.") {
					t.Errorf("%s did not resolve right after run: %q %v", name, out, err)
				}
				if out, err := nslab("rm", "-f", name); err != nil {
					t.Errorf("rm %s: %v\n%s", name, err, out)
				}
			}
		}(w)
	}
	wg.Wait()
	// Every churned name is gone again.
	if out := must("exec", "asker", "dig", "churn-0-0"); !strings.Contains(out, "NXDOMAIN") {
		t.Errorf("churn-0-0 still resolves after rm:\n%s", out)
	}
	checkDaemonLog(t, h)
}
