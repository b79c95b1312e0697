package labs_test

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nslab/nslab/engine/labhost"
)

// needDocker skips unless a Docker-engine lab host can start here.
func needDocker(t *testing.T) {
	t.Helper()
	needLabs(t)
	if _, err := labhost.CheckEngine(labhost.EngineDocker); err != nil {
		t.Skip(err)
	}
}

// inHost runs a shell command in lab host h and returns its output.
func inHost(t *testing.T, h *labhost.Host, script string) (string, error) {
	t.Helper()
	cmd, err := labhost.Command(h.Env(), "sh", "-c", script)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustInHost(t *testing.T, h *labhost.Host, script string) string {
	t.Helper()
	out, err := inHost(t, h, script)
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return out
}

// TestDockerEngineIsTheLabHosts checks that the docker of a Docker-engine lab
// host is the real CLI talking to the lab host's own dockerd, whose state is
// all on the lab host's /run, and whose containerd is its own: the
// machine's containerd socket is hidden.
func TestDockerEngineIsTheLabHosts(t *testing.T) {
	needDocker(t)
	h, err := labhost.Start(labhost.Options{Stderr: os.Stderr, Engine: labhost.EngineDocker})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	out := mustInHost(t, h, `docker version -f '{{.Server.Version}}'; docker info -f '{{.DockerRootDir}} {{.Driver}}'; docker images --format '{{.Repository}}:{{.Tag}}' | sort`)
	for _, want := range []string{labhost.DockerDataRoot + " overlay2", "busybox:latest", "multitool:latest", "wbitt/network-multitool:latest"} {
		if !strings.Contains(out, want) {
			t.Errorf("docker in the lab host: want %q in\n%s", want, out)
		}
	}
	if v, _ := dockerdVersion(); !strings.Contains(out, v) {
		t.Errorf("the lab host's dockerd is not the machine's dockerd %s:\n%s", v, out)
	}
	out = mustInHost(t, h, `test ! -e /run/containerd/containerd.sock && echo hidden; ps -eo args | grep '^containerd '; grep -A2 '^\[grpc\]' /run/docker/containerd/containerd.toml`)
	if !strings.Contains(out, "hidden") || !regexp.MustCompile(`(?m)^containerd --config (/var)?/run/docker/containerd/containerd.toml`).MatchString(out) ||
		!regexp.MustCompile(`address = "(/var)?/run/docker/containerd/containerd.sock"`).MatchString(out) {
		t.Errorf("dockerd must run its own containerd, on the lab host's /run, and not see the machine's:\n%s", out)
	}
	// The CLI never pulls: a missing image is an error, with no pull attempt.
	out, err = inHost(t, h, `docker run --rm busybox:1.36 true`)
	if err == nil || !strings.Contains(out, "No such image: busybox:1.36") {
		t.Errorf("docker run of a missing image: want a refusal without a pull (--pull never), got %v:\n%s", err, out)
	}
}

// TestDockerLookupsStayInside proves that no lookup leaves for anything but
// the sandbox's upstream DNS server (203.0.113.53, in the simulated
// outside): a docker pull attempt (dockerd resolving the registry) and
// containers' lookups, on the default bridge and through the embedded DNS
// of a user network. Counters on everything that leaves the lab host's
// uplink show only DNS packets to the upstream, and the uplink is the lab
// host's only way out.
func TestDockerLookupsStayInside(t *testing.T) {
	needDocker(t)
	h, err := labhost.Start(labhost.Options{Stderr: os.Stderr, Engine: labhost.EngineDocker})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	mustInHost(t, h, `iptables -t mangle -N NSLAB-COUNT &&
iptables -t mangle -A POSTROUTING -o eth0 -j NSLAB-COUNT &&
iptables -t mangle -A NSLAB-COUNT -d 203.0.113.53/32 -p udp --dport 53 -j RETURN &&
iptables -t mangle -A NSLAB-COUNT -d 203.0.113.53/32 -p tcp --dport 53 -j RETURN &&
iptables -t mangle -A NSLAB-COUNT -j RETURN`)
	counters := func(what string) {
		t.Helper()
		out := mustInHost(t, h, `iptables -t mangle -L NSLAB-COUNT -n -v -x -Z`)
		var counts []int
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 2 && f[2] == "RETURN" {
				n, _ := strconv.Atoi(f[0])
				counts = append(counts, n)
			}
		}
		if len(counts) != 3 {
			t.Fatalf("counters: %s", out)
		}
		if counts[0]+counts[1] == 0 || counts[2] != 0 {
			t.Errorf("%s: packets leaving the lab host: %d DNS/udp and %d DNS/tcp to 203.0.113.53, %d to anything else; want DNS to the upstream only:\n%s", what, counts[0], counts[1], counts[2], out)
		}
	}
	// dockerd resolves the registry (with the lab host's resolv.conf:
	// 203.0.113.53 only), which has no such name.
	out, err := inHost(t, h, `docker pull busybox:1.36`)
	if err == nil || !strings.Contains(out, "lookup registry-1.docker.io") {
		t.Errorf("docker pull: want a failed lookup of the registry, got %v:\n%s", err, out)
	}
	counters("docker pull")
	out = mustInHost(t, h, `docker run --rm busybox nslookup example.com; docker network create lookups >/dev/null && docker run --rm --network lookups busybox nslookup example.com`)
	if strings.Count(out, "203.0.113.80") != 2 {
		t.Errorf("containers should resolve example.com (203.0.113.80) through the sandbox's upstream, on the default bridge and a user network:\n%s", out)
	}
	counters("containers' lookups")
	out = mustInHost(t, h, `ip route show default; echo ---; nslab outside ip route show default`)
	if !regexp.MustCompile(`^default via 198\.51\.100\.1 dev eth0 ?\n---\n$`).MatchString(out) {
		t.Errorf("the lab host's only way out must be its uplink to the simulated outside, which has no way further:\n%s", out)
	}
}

// dockerCgroupsOf lists the machine's cgroups that the Docker-engine lab
// host id made: it must leave none behind. (Other lab hosts, of tests
// running in parallel, may come and go meanwhile: they are not counted.)
func dockerCgroupsOf(id string) string {
	var mine []string
	for _, cg := range labhost.DockerCgroups() {
		if strings.HasSuffix(cg, "nslab-labhost-"+id) {
			mine = append(mine, cg)
		}
	}
	return strings.Join(mine, " ")
}

// TestDockerLabHostLeavesNothing closes a busy Docker-engine lab host, then
// kills another one's owner with SIGKILL (as if `go test` were killed), and
// checks that the machine's links, netns list, iptables, mounts, processes
// and cgroups are as before.
func TestDockerLabHostLeavesNothing(t *testing.T) {
	needDocker(t)
	before := snapshot(t)
	busy := `docker run -d --name first busybox sleep 3600 >/dev/null &&
docker network create busy >/dev/null &&
docker run -d --name second --network busy -p 8080:80 multitool >/dev/null &&
docker run -d --name third --network container:first busybox sleep 3600 >/dev/null`

	t.Run("close", func(t *testing.T) {
		h, err := labhost.Start(labhost.Options{Stderr: os.Stderr, Engine: labhost.EngineDocker})
		if err != nil {
			t.Fatal(err)
		}
		mustInHost(t, h, busy)
		pids := descendants(h.Pid)
		if len(pids) < 8 {
			t.Fatalf("expected supervisor, dockerd, containerd, shims and containers, found pids %v", pids)
		}
		if dockerCgroupsOf(h.ID) == "" {
			t.Fatalf("the containers should be in cgroups below /nslab-labhost-%s", h.ID)
		}
		h.Close()
		waitGone(t, pids)
		checkUnchanged(t, before)
		if got := dockerCgroupsOf(h.ID); got != "" {
			t.Errorf("cgroups of lab host %s left behind: %q", h.ID, got)
		}
	})

	t.Run("owner killed", func(t *testing.T) {
		nslab, err := exec.LookPath("nslab")
		if err != nil {
			t.Fatal(err)
		}
		owner := exec.Command(nslab, "sandbox", "--engine", "docker", "--", "sh", "-c", busy+` && echo "up ${NSLAB_HOST#*:}" && exec sleep 3600`)
		owner.Env = os.Environ()
		stdout, err := owner.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		owner.Stderr = os.Stderr
		if err := owner.Start(); err != nil {
			t.Fatal(err)
		}
		defer owner.Process.Kill()
		up := make(chan string, 1)
		go func() {
			line, _ := bufio.NewReader(stdout).ReadString('\n')
			up <- line
		}()
		var id string
		select {
		case line := <-up:
			var ok bool
			if id, ok = strings.CutPrefix(strings.TrimSpace(line), "up "); !ok || id == "" {
				t.Fatalf("the Docker-engine lab host did not come up with its containers (it said %q)", line)
			}
			if dockerCgroupsOf(id) == "" {
				t.Fatalf("the containers should be in cgroups below /nslab-labhost-%s", id)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("the Docker-engine lab host did not come up within 60s")
		}
		pids := descendants(owner.Process.Pid)
		owner.Process.Kill()
		owner.Wait()
		waitGone(t, pids)
		checkUnchanged(t, before)
		// The kernel removed every process, mount, link and rule; the
		// empty cgroups of the dead lab host go at the next lab host's
		// start, whatever its engine.
		fresh, err := labhost.Start(labhost.Options{Stderr: os.Stderr})
		if err != nil {
			t.Fatal(err)
		}
		fresh.Close()
		if got := dockerCgroupsOf(id); got != "" {
			t.Errorf("cgroups of lab host %s left behind after the next lab host's start: %q", id, got)
		}
		checkUnchanged(t, before)
	})
}

// TestEngineBadInput: an unknown engine is refused with the valid names,
// and a dockerd that fails to start is reported with the tail of its log;
// neither leaves anything behind.
func TestEngineBadInput(t *testing.T) {
	needLabs(t)
	before := snapshot(t)
	orphansBefore := strings.Join(labhost.OrphanedDockerCgroups(), " ")
	out, err := exec.Command("nslab", "sandbox", "--engine", "podman", "--", "true").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `unknown engine "podman": the engines are nslab, docker`) {
		t.Errorf("nslab sandbox --engine podman: %v\n%s\nwant a refusal that lists nslab, docker", err, out)
	}
	if _, err := labhost.CheckEngine(labhost.EngineDocker); err == nil {
		fake := t.TempDir() + "/dockerd"
		script := "#!/bin/sh\necho 'level=info msg=\"starting up\"'\necho 'failed to start daemon: staged failure for the test' >&2\nexit 1\n"
		if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("nslab", "sandbox", "--engine", "docker", "--", "true")
		cmd.Env = append(os.Environ(), labhost.EnvDockerd+"="+fake)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "dockerd did not start") || !strings.Contains(string(out), "staged failure for the test") {
			t.Errorf("a dockerd that fails: %v\n%s\nwant the tail of its log", err, out)
		}
	}
	checkUnchanged(t, before)
	if got := strings.Join(labhost.OrphanedDockerCgroups(), " "); got != orphansBefore {
		t.Errorf("cgroups of dead lab hosts left behind: %q (before: %q)", got, orphansBefore)
	}
}
