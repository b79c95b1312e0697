package ci

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

const (
	// testCommand is the README's test command, run from the repository's root.
	testCommand = "bash scripts/test.sh"
	// provisionScript installs the Debian packages and Go at go.mod's version.
	provisionScript = "scripts/provision.sh"
	// guestRepo is where both VMs see the repository.
	guestRepo = "/nslab"

	ciRun     = ".ci/run"
	vagrant   = "Vagrantfile"
	limaTmpl  = "ci/lima/nslab.yaml"
	readme    = "README.md"
	goModFile = "go.mod"
)

// ways are the three ways of running nslab that must agree.
var ways = []string{ciRun, vagrant, limaTmpl}

// ciOnly are the scripts .ci/run runs after the test command and the VMs do
// not, with the reason. The VMs exist to run the README's test command where
// the machine cannot; the mutation check breaks the engine's source on
// purpose to grade the labs, a gate for changes to the repository, not a
// property of the machine the labs run on, so running it again in a VM would
// only cost its minutes twice.
var ciOnly = map[string]string{
	"scripts/mutate.sh": "the mutation check grades the labs against the engine's source, not the machine",
}

// TestWaysAgree checks the repository itself. It reads files only: no root, no network.
func TestWaysAgree(t *testing.T) {
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			for _, p := range c.run("..") {
				t.Error(p)
			}
		})
	}
}

var checks = []struct {
	name string
	run  func(root string) []string
}{
	{"GoVersion", checkGoVersion},
	{"Scripts", checkScripts},
	{"TestCommand", checkTestCommand},
	{"GuestPath", checkGuestPath},
}

// problems runs every check on the repository at root.
func problems(root string) []string {
	var all []string
	for _, c := range checks {
		all = append(all, c.run(root)...)
	}
	return all
}

// checkGoVersion: go.mod's go directive is the one place the Go version is written.
// Nothing the CI or the VMs run may pin another, or install Go other than through
// scripts/provision.sh, which reads go.mod.
func checkGoVersion(root string) []string {
	var out []string
	gomod, err := read(root, goModFile)
	if err != nil {
		return []string{err.Error()}
	}
	m := regexp.MustCompile(`(?m)^go\s+(\S+)\s*$`).FindStringSubmatch(gomod)
	if m == nil {
		return []string{"go.mod has no go directive: it is the one place the Go version is set"}
	}
	want := m[1]
	if p, err := read(root, provisionScript); err != nil {
		out = append(out, err.Error())
	} else if !strings.Contains(p, "go.mod") {
		out = append(out, provisionScript+" no longer reads go.mod: the Go it installs must be the version go.mod's go directive pins")
	}
	files, err := pinnableFiles(root)
	if err != nil {
		return append(out, err.Error())
	}
	for _, f := range files {
		text, err := read(root, f)
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		for _, m := range goPin.FindAllStringSubmatch(text, -1) {
			if m[1] != want {
				out = append(out, fmt.Sprintf("%s pins Go %s (%q), but go.mod's go directive, the one place the version is set, says %s",
					f, m[1], m[0], want))
			}
		}
		for _, m := range goInstall.FindAllString(text, -1) {
			out = append(out, fmt.Sprintf("%s installs Go by itself (%q): leave that to %s, which installs go.mod's version (%s)",
				f, m, provisionScript, want))
		}
	}
	return out
}

// goPin matches a Go version written down: "go 1.26.8", "GO_VERSION=1.22",
// "go-version: '1.23'", "go1.22.3.linux-amd64.tar.gz", "golang:1.23".
var goPin = regexp.MustCompile(`(?i)\b(?:go|golang)(?:[ _-]?version)?["']?\s*[:=@ ]?\s*["']?(?:go|v)?(1\.\d+(?:\.\d+)?)\b`)

// goInstall matches ways of installing Go other than scripts/provision.sh.
var goInstall = regexp.MustCompile(`\bgolang-go\b|\bsetup-go\b|\bgo[0-9.]+\.linux-[a-z0-9]+\.tar\.gz|\bsnap install go\b`)

// pinnableFiles are the files that could pin a Go version of their own: the three ways
// and everything else in ci/ but this package's Go code.
func pinnableFiles(root string) ([]string, error) {
	files := []string{ciRun, vagrant}
	err := filepath.WalkDir(filepath.Join(root, "ci"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".go") {
			return err
		}
		rel, err := filepath.Rel(root, path)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	return files, err
}

// checkScripts: each way runs, directly or through the scripts it calls, the same
// scripts under scripts/, and those include the provisioning script and the test
// command's script. Every script named exists.
func checkScripts(root string) []string {
	var out []string
	sets := map[string][]string{}
	for _, w := range ways {
		run, missing, err := scriptsRun(root, w)
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		out = append(out, missing...)
		var shared []string
		for _, s := range run {
			if _, only := ciOnly[s]; strings.HasPrefix(s, "scripts/") && !only {
				shared = append(shared, s)
			}
		}
		for _, need := range []string{provisionScript, "scripts/test.sh"} {
			if !slices.Contains(shared, need) {
				out = append(out, fmt.Sprintf("%s does not run %s: the bare machine and both VMs must use it", w, need))
			}
		}
		sets[w] = shared
	}
	for i, a := range ways {
		for _, b := range ways[i+1:] {
			sa, oka := sets[a]
			sb, okb := sets[b]
			if oka && okb && !slices.Equal(sa, sb) {
				out = append(out, fmt.Sprintf("%s runs %s, but %s runs %s: the bare machine and both VMs must run the same scripts",
					a, strings.Join(sa, " "), b, strings.Join(sb, " ")))
			}
		}
	}
	return out
}

// scriptRef matches a repository script named in a file, as "scripts/x.sh",
// "/nslab/scripts/x.sh" or "ci/x.sh".
var scriptRef = regexp.MustCompile(`(?:^|[\s/"'])((?:scripts|ci)/[A-Za-z0-9_.-]+\.sh)\b`)

// scriptsRun returns, sorted, the repository scripts that file names outside its
// comments, and those they name in turn; and a problem for each that does not exist.
func scriptsRun(root, file string) (run, missing []string, err error) {
	seen := map[string]bool{}
	queue := []string{file}
	for len(queue) > 0 {
		f := queue[0]
		queue = queue[1:]
		text, err := read(root, f)
		if err != nil {
			return nil, nil, err
		}
		for _, m := range scriptRef.FindAllStringSubmatch(stripComments(text), -1) {
			s := m[1]
			if seen[s] {
				continue
			}
			seen[s] = true
			if _, err := os.Stat(filepath.Join(root, s)); err != nil {
				missing = append(missing, fmt.Sprintf("%s runs %s, which does not exist", f, s))
				continue
			}
			run = append(run, s)
			queue = append(queue, s)
		}
	}
	sort.Strings(run)
	return run, missing, nil
}

// checkTestCommand: the README's test command is the one .ci/run runs, the one the
// Vagrantfile's on-demand `test` provisioner runs, and the one the Lima template offers.
func checkTestCommand(root string) []string {
	var out []string
	if text, err := read(root, readme); err != nil {
		out = append(out, err.Error())
	} else if !slices.Contains(readmeCommands(text), testCommand) {
		out = append(out, fmt.Sprintf("README.md's opening commands no longer include %q, the test command that %s, %s and %s run: change them together",
			testCommand, ciRun, vagrant, limaTmpl))
	}

	if text, err := read(root, ciRun); err != nil {
		out = append(out, err.Error())
	} else {
		ls := lines(stripComments(text))
		if !slices.Contains(ls, testCommand) {
			out = append(out, fmt.Sprintf("%s must run exactly the README's test command, %q, on a line of its own", ciRun, testCommand))
		}
		for s, why := range ciOnly {
			// The script, with or without flags of its own.
			runs := slices.ContainsFunc(ls, func(l string) bool { return l == "bash "+s || strings.HasPrefix(l, "bash "+s+" ") })
			if !runs {
				out = append(out, fmt.Sprintf("%s must run %q on a line of its own: %s", ciRun, "bash "+s, why))
			}
		}
	}

	if text, err := read(root, vagrant); err != nil {
		out = append(out, err.Error())
	} else if p := vagrantTestProvisioner(stripComments(text)); p == "" {
		out = append(out, vagrant+` has no provisioner named "test": it runs the README's test command on demand`)
	} else {
		if !regexp.MustCompile(`\brun:\s*"never"`).MatchString(p) {
			out = append(out, fmt.Sprintf(`%s: the "test" provisioner must have run: "never", so that only --provision-with test runs it: %s`, vagrant, p))
		}
		if !strings.Contains(p, "cd "+guestRepo+" && "+testCommand) {
			out = append(out, fmt.Sprintf(`%s: the "test" provisioner must run "cd %s && %s", the README's test command: %s`, vagrant, guestRepo, testCommand, p))
		}
	}

	if text, err := read(root, limaTmpl); err != nil {
		out = append(out, err.Error())
	} else if !strings.Contains(stripComments(text), testCommand) {
		out = append(out, fmt.Sprintf("%s does not offer the README's test command, %q", limaTmpl, testCommand))
	}
	return out
}

// readmeCommands returns the commands of README.md's first code block, without their
// trailing comments.
func readmeCommands(text string) []string {
	m := regexp.MustCompile("(?s)```[a-z]*\n(.*?)```").FindStringSubmatch(text)
	if m == nil {
		return nil
	}
	var cmds []string
	for _, l := range lines(m[1]) {
		if i := strings.Index(l, " #"); i >= 0 {
			l = strings.TrimSpace(l[:i])
		}
		cmds = append(cmds, l)
	}
	return cmds
}

// vagrantTestProvisioner returns the Vagrantfile's `provision "test"` call, joined into
// one line (a Ruby call goes on while its lines end with a comma).
func vagrantTestProvisioner(text string) string {
	ls := strings.Split(text, "\n")
	for i, l := range ls {
		if !regexp.MustCompile(`\.provision\s*\(?\s*"test"`).MatchString(l) {
			continue
		}
		call := strings.TrimSpace(l)
		for j := i + 1; strings.HasSuffix(call, ",") && j < len(ls); j++ {
			call += " " + strings.TrimSpace(ls[j])
		}
		return call
	}
	return ""
}

// checkGuestPath: both VMs put the repository at guestRepo, and every path to a
// repository script they use starts there.
func checkGuestPath(root string) []string {
	var out []string
	if text, err := read(root, vagrant); err != nil {
		out = append(out, err.Error())
	} else {
		code := stripComments(text)
		found := false
		for _, m := range regexp.MustCompile(`(?m)synced_folder\s+"\.",\s*"([^"]+)"(.*)$`).FindAllStringSubmatch(code, -1) {
			if strings.Contains(m[2], "disabled: true") {
				continue
			}
			found = true
			if m[1] != guestRepo {
				out = append(out, fmt.Sprintf("%s syncs the repository to %s, but %s mounts it at %s: the commands differ between the VMs",
					vagrant, m[1], limaTmpl, guestRepo))
			}
		}
		if !found {
			out = append(out, fmt.Sprintf("%s does not sync the repository into the VM at %s", vagrant, guestRepo))
		}
		out = append(out, scriptDirs(vagrant, code)...)
	}
	if text, err := read(root, limaTmpl); err != nil {
		out = append(out, err.Error())
	} else {
		code := stripComments(text)
		m := regexp.MustCompile(`(?m)^\s*mountPoint:\s*"?([^"\s]+)"?\s*$`).FindStringSubmatch(code)
		if m == nil {
			out = append(out, fmt.Sprintf("%s does not mount the repository at %s", limaTmpl, guestRepo))
		} else if m[1] != guestRepo {
			out = append(out, fmt.Sprintf("%s mounts the repository at %s, but %s syncs it to %s: the commands differ between the VMs",
				limaTmpl, m[1], vagrant, guestRepo))
		}
		out = append(out, scriptDirs(limaTmpl, code)...)
	}
	return out
}

// scriptDirs reports each absolute path to a repository script in code that does not
// start at guestRepo.
func scriptDirs(file, code string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(/[A-Za-z0-9_./-]*?)/scripts/[A-Za-z0-9_.-]+\.sh`).FindAllStringSubmatch(code, -1) {
		if m[1] != guestRepo {
			out = append(out, fmt.Sprintf("%s runs %s, outside %s where the VMs keep the repository", file, m[0], guestRepo))
		}
	}
	return out
}

// stripComments drops whole-line comments (#, in Ruby, YAML and shell alike).
func stripComments(text string) string {
	var keep []string
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// lines returns text's non-empty lines, trimmed.
func lines(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func read(root, rel string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		return "", fmt.Errorf("%s: %v", rel, err)
	}
	return string(b), nil
}

// TestDisagreementsAreNamed breaks a copy of the files in the ways the checks exist for,
// and expects a problem that names the file and what disagrees.
func TestDisagreementsAreNamed(t *testing.T) {
	cases := []struct {
		name     string
		file     string
		old, new string
		extra    string // a script to create, for a rename that must not look like a typo
		want     []string
	}{
		{"Vagrantfile pins Go", vagrant,
			`inline: "bash /nslab/scripts/provision.sh"`, `inline: "GO_VERSION=1.22.3 bash /nslab/scripts/provision.sh"`, "",
			[]string{vagrant, "pins Go 1.22.3", "go.mod"}},
		{"workflow installs Go", "ci/github-actions-vm.yml",
			"- uses: actions/checkout@v4", "- uses: actions/checkout@v4\n      - uses: actions/setup-go@v5", "",
			[]string{"ci/github-actions-vm.yml", "installs Go by itself", provisionScript}},
		{"Lima runs another script", limaTmpl,
			"bash /nslab/scripts/provision.sh", "bash /nslab/scripts/setup.sh", "scripts/setup.sh",
			[]string{limaTmpl, "scripts/setup.sh", "same scripts"}},
		{"Vagrantfile names a missing script", vagrant,
			`inline: "bash /nslab/scripts/provision.sh"`, `inline: "bash /nslab/scripts/provison.sh"`, "",
			[]string{vagrant, "scripts/provison.sh", "does not exist"}},
		{".ci/run runs another test command", ciRun,
			"\nbash scripts/test.sh", "\ngo test ./...", "",
			[]string{ciRun, testCommand}},
		{".ci/run drops the mutation check", ciRun,
			"\nbash scripts/mutate.sh", "\n", "",
			[]string{ciRun, "scripts/mutate.sh"}},
		{"test provisioner runs on every up", vagrant,
			`run: "never",`, `run: "always",`, "",
			[]string{vagrant, `run: "never"`}},
		{"Lima mounts elsewhere", limaTmpl,
			"mountPoint: /nslab", "mountPoint: /src/nslab", "",
			[]string{limaTmpl, "/src/nslab", vagrant}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := copyRepo(t)
			if p := problems(root); len(p) > 0 {
				t.Fatalf("the unbroken copy already has problems:\n%s", strings.Join(p, "\n"))
			}
			text, err := read(root, c.file)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text, c.old) {
				t.Fatalf("%s no longer contains %q: update this case", c.file, c.old)
			}
			write(t, root, c.file, strings.Replace(text, c.old, c.new, 1))
			if c.extra != "" {
				write(t, root, c.extra, "#!/usr/bin/env bash\n")
			}
			p := problems(root)
			for _, got := range p {
				if containsAll(got, c.want) {
					t.Log(got)
					return
				}
			}
			t.Errorf("no problem names %q; got:\n%s", c.want, strings.Join(p, "\n"))
		})
	}
}

// copyRepo copies the files the checks read into a temporary directory.
func copyRepo(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	var files []string
	for _, dir := range []string{"ci", "scripts"} {
		err := filepath.WalkDir(filepath.Join("..", dir), func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, strings.TrimPrefix(filepath.ToSlash(path), "../"))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range append(files, goModFile, readme, vagrant, ciRun) {
		text, err := read("..", f)
		if err != nil {
			t.Fatal(err)
		}
		write(t, root, f, text)
	}
	return root
}

func write(t *testing.T, root, rel, text string) {
	t.Helper()
	path := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// TestGoPin checks the pattern that finds pinned Go versions, both ways.
func TestGoPin(t *testing.T) {
	for _, s := range []string{"go 1.26.8", "GO_VERSION=1.22", "go-version: '1.23'", "go1.22.3.linux-amd64.tar.gz", "golang:1.23", "Go 1.21"} {
		if !goPin.MatchString(s) {
			t.Errorf("goPin misses %q", s)
		}
	}
	for _, s := range []string{"Vagrant 2.4 or later", "VirtualBox 7.1.6", "minimumLimaVersion: 1.1.0", "go.mod", "golang.org/toolchain@v0.0.1-go${want}", "ubuntu-24.04", "a Go older than 1.21", "cargo 1.2"} {
		if goPin.MatchString(s) {
			t.Errorf("goPin matches %q, which pins no Go version", s)
		}
	}
}
