package daemon

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nslab/nslab/engine/api"
)

// The lab host's resolv.conf.
const labHostResolv = "# comment\nnameserver 203.0.113.53\noptions edns0 trust-ad\n"

// TestCustomResolvConf checks resolv.conf against what Docker 20.10 wrote in
// a Docker-engine lab host for the same flags.
func TestCustomResolvConf(t *testing.T) {
	for _, c := range []struct {
		dns, search, opts []string
		embedded          bool
		want              string
	}{
		{[]string{"203.0.113.99", "203.0.113.98"}, []string{"ex.test", "b.test"}, []string{"ndots:2", "timeout:1"}, false,
			"search ex.test b.test\nnameserver 203.0.113.99\nnameserver 203.0.113.98\noptions ndots:2 timeout:1\n"},
		{[]string{"203.0.113.99"}, []string{"ex.test"}, []string{"ndots:2"}, true, "search ex.test\nnameserver 127.0.0.11\noptions ndots:2\n"},
		{nil, nil, []string{"edns0"}, true, "nameserver 127.0.0.11\noptions edns0 ndots:0\n"},
		{nil, []string{"."}, nil, true, "nameserver 127.0.0.11\noptions edns0 trust-ad ndots:0\n"},
		{nil, []string{"."}, nil, false, "nameserver 203.0.113.53\noptions edns0 trust-ad\n"},
		{[]string{"127.0.0.1"}, nil, nil, true, "nameserver 127.0.0.11\noptions edns0 trust-ad ndots:0\n"},
		{[]string{"127.0.0.1"}, nil, nil, false, "nameserver 127.0.0.1\noptions edns0 trust-ad\n"},
	} {
		ctr := &Container{RunOpts: RunOpts{DNS: c.dns, DNSSearch: c.search, DNSOptions: c.opts}}
		got, ok := customResolvConf(ctr, labHostResolv, c.embedded)
		if !ok || got != c.want {
			t.Errorf("--dns %q --dns-search %q --dns-option %q (embedded %v):\n%s\nwant\n%s", c.dns, c.search, c.opts, c.embedded, got, c.want)
		}
	}
	if _, ok := customResolvConf(&Container{}, labHostResolv, true); ok {
		t.Error("no DNS flags must leave resolv.conf to the defaults")
	}
	d := &Daemon{upstream: []string{"203.0.113.53:53"}}
	if got := d.upstreamFor(&Container{RunOpts: RunOpts{DNS: []string{"203.0.113.54", "2001:db8::1"}}}); strings.Join(got, ",") != "203.0.113.54:53" {
		t.Errorf("upstreams with --dns: %v", got)
	}
	if got := d.upstreamFor(&Container{}); strings.Join(got, ",") != "203.0.113.53:53" {
		t.Errorf("upstreams without --dns: %v", got)
	}
}

func TestExtraHosts(t *testing.T) {
	gw := netip.MustParseAddr("172.17.0.1")
	d := &Daemon{networks: map[string]*Network{"b": {Name: "bridge", Gateway: gw}}}
	c := &Container{Hostname: "abc", RunOpts: RunOpts{ExtraHosts: []string{"db:10.0.0.5", "v6:::1", "host.docker.internal:host-gateway"}}}
	got := d.hostsFile(c, []netip.Addr{netip.MustParseAddr("172.17.0.2")})
	if !strings.HasSuffix(got, "ff02::2\tip6-allrouters\n10.0.0.5\tdb\n::1\tv6\n172.17.0.1\thost.docker.internal\n172.17.0.2\tabc\n") {
		t.Errorf("hosts:\n%s", got)
	}
}

// TestApplyMountsRefuses checks the daemon's refusals, with Docker's
// messages, and that a refused run records nothing.
func TestApplyMountsRefuses(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "s"), 0o755)
	s := filepath.Join(dir, "s")
	for _, c := range []struct {
		o    api.RunOptions
		want string
	}{
		{api.RunOptions{Binds: []string{s + ":rel"}}, `invalid volume specification: '` + s + `:rel': invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute`},
		{api.RunOptions{Binds: []string{s + ":/x:bogus"}}, "invalid mode: bogus"},
		{api.RunOptions{Binds: []string{"vol:/x"}}, "nslab has no volumes"},
		{api.RunOptions{Binds: []string{"/x"}}, "nslab has no volumes"},
		{api.RunOptions{Binds: []string{s + ":/x", s + ":/x/"}}, "Duplicate mount point: /x"},
		{api.RunOptions{Binds: []string{s + ":/"}}, "destination can't be '/'"},
		{api.RunOptions{Mounts: []api.Mount{{Type: "bind", Source: dir + "/missing", Target: "/y"}}}, `invalid mount config for type "bind": bind source path does not exist: ` + dir + "/missing"},
		{api.RunOptions{Mounts: []api.Mount{{Type: "bind", Target: "/y"}}}, `invalid mount config for type "bind": field Source must not be empty`},
		{api.RunOptions{Mounts: []api.Mount{{Type: "bind", Source: s, Target: "y"}}}, `invalid mount path: 'y' mount path must be absolute`},
		{api.RunOptions{Mounts: []api.Mount{{Type: "foo", Target: "/y"}}}, `invalid mount config for type "foo": mount type unknown`},
		{api.RunOptions{Mounts: []api.Mount{{Type: "volume", Target: "/y"}}}, `nslab has no volume mounts`},
	} {
		ctr := &Container{}
		err := ctr.applyMounts(c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.o, err, c.want)
		}
		if ctr.Binds != nil || ctr.Mounts != nil {
			t.Errorf("%+v: a refused run recorded its mounts", c.o)
		}
	}
	ctr := &Container{}
	if err := ctr.applyMounts(api.RunOptions{Binds: []string{s + ":/data:ro", dir + "/new:/new"}, Mounts: []api.Mount{{Type: "bind", Source: s, Target: "/y", ReadOnly: true}}}); err != nil {
		t.Fatal(err)
	}
	ms, err := ctr.containerMounts()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 || ms[0].ReadOnly != true || ms[1].ReadOnly || !ms[2].ReadOnly {
		t.Errorf("mounts: %+v", ms)
	}
	if fi, err := os.Stat(dir + "/new"); err != nil || !fi.IsDir() {
		t.Errorf("-v's missing source should be made as a directory at start: %v", err)
	}
}
