package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nslab/nslab/engine/api"
	"github.com/spf13/pflag"
)

// parseRun parses run's flags from args as the CLI does.
func parseRun(t *testing.T, args ...string) (api.RunOptions, error) {
	t.Helper()
	var o api.RunOptions
	f := pflag.NewFlagSet("run", pflag.ContinueOnError)
	f.SetOutput(new(strings.Builder))
	r := addRunFlags(f, &o)
	if err := f.Parse(args); err != nil {
		return o, err
	}
	return o, r.finish(f, &o)
}

func TestRunFlagsParse(t *testing.T) {
	dir := t.TempDir()
	labels := filepath.Join(dir, "labels")
	os.WriteFile(labels, []byte("\xEF\xBB\xBF# comment\n\nfrom=file\nbare\ntier=file\n"), 0o644)
	o, err := parseRun(t, "-v", "/a:/b:ro", "--mount", "type=bind,src=/c,dst=/d,readonly", "--mount", `type=bind,"source=/e,f",target=/g,ro=false`,
		"-w", "/srv", "-u", "nobody:nogroup", "--entrypoint", "", "--dns", "203.0.113.54", "--dns-search", "lab.test",
		"--dns-option", "ndots:2", "--add-host", "db=10.0.0.5", "--add-host", "v6:[::1]", "--add-host", "gw:host-gateway",
		"--label-file", labels, "-l", "tier=web", "-l", "empty", "--mac-address", "02:42:ac:11:00:99", "--init", "--cidfile", "/x.cid")
	if err != nil {
		t.Fatal(err)
	}
	want := api.RunOptions{
		Binds:      []string{"/a:/b:ro"},
		Mounts:     []api.Mount{{Type: "bind", Source: "/c", Target: "/d", ReadOnly: true}, {Type: "bind", Source: "/e,f", Target: "/g"}},
		WorkingDir: "/srv", User: "nobody:nogroup", EntrypointSet: true,
		DNS: []string{"203.0.113.54"}, DNSSearch: []string{"lab.test"}, DNSOptions: []string{"ndots:2"},
		ExtraHosts: []string{"db:10.0.0.5", "v6:::1", "gw:host-gateway"},
		// The file's bare name is dropped; -l's empty one is kept; -l wins.
		Labels:     map[string]string{"from": "file", "tier": "web", "empty": ""},
		MacAddress: "02:42:ac:11:00:99", Init: true, ContainerIDFile: "/x.cid",
	}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("parsed\n%+v\nwant\n%+v", o, want)
	}
	if o, _ := parseRun(t, "--entrypoint", "echo"); !o.EntrypointSet || !reflect.DeepEqual(o.Entrypoint, []string{"echo"}) {
		t.Errorf("--entrypoint echo: %+v", o)
	}
	if o, _ := parseRun(t); o.EntrypointSet || o.Labels != nil {
		t.Errorf("no flags: %+v", o)
	}
}

// TestRunFlagsRefuse checks Docker CLI's messages for what it refuses
// while parsing.
func TestRunFlagsRefuse(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-v", ":/x"}, "invalid spec: :/x: empty section between colons"},
		{[]string{"-v", "/a:/b:ro:x"}, "invalid spec: /a:/b:ro:x: too many colons"},
		{[]string{"--mount", "source=/a"}, `invalid argument "source=/a" for "--mount" flag: target is required`},
		{[]string{"--mount", "type=bind,target=/a,bogus=1"}, "unexpected key 'bogus' in 'bogus=1'"},
		{[]string{"--mount", "type=bind,target=/a,readonly=maybe"}, "invalid value for readonly: maybe"},
		{[]string{"--mount", "type=bind,target=/a,nokey"}, "invalid field 'nokey' must be a key=value pair"},
		{[]string{"--dns", "bad"}, `invalid argument "bad" for "--dns" flag: IP address is not correctly formatted: bad`},
		{[]string{"--dns-search", "-bad"}, "-bad is not a valid domain"},
		{[]string{"--add-host", "foo"}, `bad format for add-host: "foo"`},
		{[]string{"--add-host", "::1.2.3.4"}, `bad format for add-host: "::1.2.3.4"`},
		{[]string{"--add-host", "foo:1.2.3.4:5"}, `invalid IP address in add-host: "1.2.3.4:5"`},
		{[]string{"--add-host", "a\nb:1.2.3.4"}, "control characters"},
		{[]string{"-l", ""}, "invalid label '': empty name"},
		{[]string{"-l", "=x"}, "invalid label '=x': empty name"},
		{[]string{"--label-file", "/no/such/file"}, "open /no/such/file: no such file or directory"},
		{[]string{"--mac-address", "bad"}, "bad is not a valid mac address"},
		{[]string{"--mac-address", "00:11:22:33:44:55:66:77"}, "is not a valid mac address"},
	} {
		_, err := parseRun(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.args, err, c.want)
		}
	}
}

func TestCIDFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "cid")
	if err := createCIDFile(p); err != nil {
		t.Fatal(err)
	}
	// Refused before a container exists: the empty file goes.
	removeEmptyCIDFile(p)
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("an empty --cidfile was left: %v", err)
	}
	createCIDFile(p)
	if err := writeCIDFile(p, strings.Repeat("a", 64)); err != nil {
		t.Fatal(err)
	}
	removeEmptyCIDFile(p)
	if b, _ := os.ReadFile(p); string(b) != strings.Repeat("a", 64) {
		t.Fatalf("cidfile holds %q", b)
	}
	err := createCIDFile(p)
	if err == nil || err.Error() != "container ID file found, make sure the other container isn't running or delete "+p {
		t.Errorf("existing cidfile: %v", err)
	}
	err = createCIDFile(filepath.Join(dir, "no", "cid"))
	if err == nil || !strings.HasPrefix(err.Error(), "failed to create the container ID file: open ") || cidFileExit(err) != 127 {
		t.Errorf("cidfile in a missing directory: %v (exit %d)", err, cidFileExit(err))
	}
}
