// Package labs holds nslab's scenarios: testscript files that reproduce the
// notes' experiments on real kernel objects, each inside a fresh lab host.
// They double as the engine's regression suite.
//
// Run them as root: go test ./labs/...
// One lab, verbosely: go test ./labs -run 'TestLabs/default-bridge$' -v
package labs_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nslab/nslab/engine/cli"
	"github.com/nslab/nslab/engine/labhost"
	"github.com/nslab/nslab/engine/shim"
	"github.com/nslab/nslab/labs"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	// The lab host links docker to nslab's own binary, which in tests is
	// this test binary: it must answer to both names.
	cmds := map[string]func(){
		"nslab":  func() { os.Exit(cli.Main()) },
		"docker": func() { os.Exit(cli.Main()) },
		// The daemon runs docker-proxy through a link of that name.
		"docker-proxy": func() { os.Exit(cli.Main()) },
	}
	if _, isCmd := cmds[filepath.Base(os.Args[0])]; isCmd {
		testscript.Main(m, cmds) // runs the command and exits
	}
	testscript.Main(withShim{m}, cmds)
}

// withShim runs the tests with nslab-shim in PATH, built from this tree, as
// scripts/lab.sh puts it beside nslab: the lab hosts' daemons start every
// container's init, log shim and exec helper from it (engine/shim), as a
// learner's do. Without it they would start this test binary in those
// parts, which works but takes longer, and leaves nslab-shim's own main
// untested.
type withShim struct{ m *testing.M }

func (w withShim) Run() int {
	if os.Geteuid() != 0 {
		return w.m.Run() // the labs skip
	}
	if p := os.Getenv("NSLAB_TEST_SHIM"); p != "" {
		// Built already, from the same tree (scripts/mutate runs one test
		// process per lab, and builds nslab-shim once per mutant).
		if fi, err := os.Stat(p); err != nil || filepath.Base(p) != shim.Name || fi.Mode()&0o111 == 0 {
			fmt.Fprintf(os.Stderr, "labs: NSLAB_TEST_SHIM=%s: want the path of an executable %s (stat: %v)\n", p, shim.Name, err)
			return 1
		}
		os.Setenv("PATH", filepath.Dir(p)+string(filepath.ListSeparator)+os.Getenv("PATH"))
		return w.m.Run()
	}
	dir, err := os.MkdirTemp("", "nslab-shim")
	if err != nil {
		fmt.Fprintln(os.Stderr, "labs:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	gobin, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintf(os.Stderr, "labs: building nslab-shim needs the go command, which is not in PATH: %v\n", err)
		return 1
	}
	if err := goBuild(gobin, filepath.Join(dir, shim.Name), shim.Name); err != nil {
		fmt.Fprintln(os.Stderr, "labs:", err)
		return 1
	}
	os.Setenv("PATH", dir+string(filepath.ListSeparator)+os.Getenv("PATH"))
	if raceBuild {
		if err := buildCLI(gobin, dir); err != nil {
			fmt.Fprintln(os.Stderr, "labs:", err)
			return 1
		}
	}
	return w.m.Run()
}

// goBuild builds engine/cmd/cmd into out, static and with -trimpath, as
// scripts/lab.sh and scripts/mutate build: the build cache then has most
// of it. It is never race-enabled, whatever this test binary is.
func goBuild(gobin, out, cmd string) error {
	build := exec.Command(gobin, "build", "-trimpath", "-o", out, "github.com/nslab/nslab/engine/cmd/"+cmd)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %v\n%s", cmd, err, b)
	}
	return nil
}

// cliDir, in a race-enabled run, holds nslab and docker: links to an nslab
// binary built from this tree without -race. The scripts' own nslab and
// docker commands and the lab hosts' (labhost.EnvCLI) run it, and the
// daemon, the process with the engine's concurrency, is still this
// race-enabled binary. A race-enabled CLI costs about 25 ms of CPU and
// 4,400 page faults per command, a plain one 4 ms, and the labs type about
// 1,500 commands. The CLI's own code is checked for races by engine/cli's
// tests.
var cliDir string

// buildCLI builds nslab into dir/cli, links docker to it, and sets
// cliDir and labhost.EnvCLI.
func buildCLI(gobin, dir string) error {
	d := filepath.Join(dir, "cli")
	bin := filepath.Join(d, "nslab")
	if err := goBuild(gobin, bin, "nslab"); err != nil {
		return err
	}
	if err := os.Symlink("nslab", filepath.Join(d, "docker")); err != nil {
		return err
	}
	cliDir = d
	return os.Setenv(labhost.EnvCLI, bin)
}

// requirements are the host tools the labs use, with the Debian package that
// has each.
var requirements = map[string]string{
	"nsenter":       "util-linux",
	"ip":            "iproute2",
	"iptables-save": "iptables",
	"busybox":       "busybox-static",
	"brctl":         "bridge-utils",
	"dig":           "dnsutils",
	"ping":          "iputils-ping",
	"netstat":       "net-tools",
	"ps":            "procps",
	"tmux":          "tmux",
	"tcpdump":       "tcpdump",
}

// needLabs skips unless the labs can run here, saying how to run them.
func needLabs(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("labs build namespaces, bridges and firewall rules, so they need root: run `sudo go test ./labs/...`, or the README's test command, or the VM (see README.md)")
	}
	var missing []string
	for tool, pkg := range requirements {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", tool, pkg))
		}
	}
	if len(missing) > 0 {
		t.Fatalf("the labs need these tools, which are missing: %s; run scripts/provision.sh as root", strings.Join(missing, ", "))
	}
}

func TestLabs(t *testing.T) {
	needLabs(t)
	if labEngine() == labhost.EngineDocker {
		t.Skip("on Docker, TestConformance runs every lab and checks each passes or diverges as recorded")
	}
	testscript.Run(t, Params())
}

// Params is labs.Params with the checks only the tests make: after every
// script, the daemon's log must show no data race or panic, and a lab that
// passed must end in the picture labs/pictures/NAME.txt shows.
func Params() testscript.Params {
	labhost.DefaultEngine = labEngine()
	p := labs.Params()
	setup := p.Setup
	p.Setup = func(env *testscript.Env) error {
		if err := setup(env); err != nil {
			return err
		}
		if cliDir != "" {
			// Ahead of testscript's own links to this test binary.
			env.Setenv("PATH", cliDir+string(filepath.ListSeparator)+env.Getenv("PATH"))
		}
		if labEngine() == labhost.EngineDocker {
			// nslab's daemon log and topology picture do not exist on a
			// Docker-engine lab host.
			return nil
		}
		h := labs.ScriptOf(env).Host
		env.Defer(func() {
			// testscript's T wraps *testing.T, which has Errorf and Name.
			if t, ok := env.T().(errorLogger); ok {
				checkDaemonLog(t, h)
			}
			if t, ok := env.T().(namedT); ok && !t.Failed() {
				checkPicture(t, h)
			}
		})
		return nil
	}
	return p
}

// checkDaemonLog fails the script if the lab host's engine daemon logged a
// data race or a panic. Under `go test -race` the daemon is the race-enabled
// test binary, but a race it finds only reaches its own log, so each script
// reads that log before its lab host goes away.
func checkDaemonLog(t errorLogger, h *labhost.Host) {
	cmd, err := labhost.Command(h.Env(), "cat", labhost.StateDir+"/daemon.log")
	if err != nil {
		return
	}
	out, err := cmd.Output()
	if err != nil {
		t.Log("could not read the daemon log: ", err)
		return
	}
	if bytes.Contains(out, []byte("DATA RACE")) || bytes.Contains(out, []byte("panic:")) {
		t.Errorf("the lab host's engine daemon reported a data race or panic:\n%s", out)
	}
}

// errorLogger is what checkDaemonLog needs of a test.
type errorLogger interface {
	Errorf(format string, args ...any)
	Log(args ...any)
}

type namedT interface {
	errorLogger
	Name() string
	Failed() bool
}

// pictureNoise is what changes from run to run in a topology picture.
var pictureNoise = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`veth[0-9a-f]{7}`), "vethXXXXXXX"},
	{regexp.MustCompile(`br-[0-9a-f]{12}`), "br-XXXXXXXXXXXX"},
	{regexp.MustCompile(`namespace 1-[0-9a-z]{10}`), "namespace 1-XXXXXXXXXX"},
	{regexp.MustCompile(`\([0-9a-f]{12}\)`), "(ID)"},
	{regexp.MustCompile(`udp [0-9]+, tcp [0-9]+`), "udp PORT, tcp PORT"},
}

// checkPicture draws the lab host at the end of a lab (nslab topology) and
// compares it with labs/pictures/NAME.txt, the picture the lab's index
// entry shows. NSLAB_UPDATE=1 rewrites it.
func checkPicture(t namedT, h *labhost.Host) {
	cmd, err := labhost.Command(h.Env(), "nslab", "topology")
	if err != nil {
		return
	}
	out, err := cmd.Output()
	if err != nil {
		t.Errorf("nslab topology at the end of the lab: %v", err)
		return
	}
	for _, n := range pictureNoise {
		out = n.re.ReplaceAll(out, []byte(n.with))
	}
	name := filepath.Base(t.Name())
	path := filepath.Join(labsDir, "pictures", name+".txt")
	if os.Getenv("NSLAB_UPDATE") != "" {
		os.MkdirAll(filepath.Dir(path), 0o755)
		os.WriteFile(path, out, 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(want, out) {
		t.Errorf("the end-state picture %s is stale (or missing): run `NSLAB_UPDATE=1 go test ./labs -run 'TestLabs/^%s$'` and commit it; now it is:\n%s", path, name, out)
	}
}

// labsDir is this package's directory; testscript changes the working
// directory of scripts, not of the test process.
var labsDir, _ = os.Getwd()
