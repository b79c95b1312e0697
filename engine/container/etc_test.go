package container

import (
	"net/netip"
	"strings"
	"testing"
)

func TestHostsFile(t *testing.T) {
	got := HostsFile("1a2b3c4d5e6f", []netip.Addr{netip.MustParseAddr("172.17.0.2")})
	want := "127.0.0.1\tlocalhost\n" +
		"::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\n" +
		"ff00::0\tip6-mcastprefix\n" +
		"ff02::1\tip6-allnodes\n" +
		"ff02::2\tip6-allrouters\n" +
		"172.17.0.2\t1a2b3c4d5e6f\n"
	if got != want {
		t.Errorf("HostsFile:\n%s\nwant:\n%s", got, want)
	}
	if got := HostsFile("x", nil); len(got) == 0 || got[len(got)-1] != '\n' {
		t.Errorf("HostsFile with no address = %q", got)
	}
}

func TestLegacyResolvConf(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{
			"loopback removed, options kept",
			"nameserver 127.0.0.53\nnameserver 203.0.113.53\nsearch lab.test\noptions edns0 trust-ad\n",
			"nameserver 203.0.113.53\nsearch lab.test\noptions edns0 trust-ad\n",
		},
		{
			"ipv6 removed",
			"nameserver 2001:db8::53\nnameserver 198.51.100.53\n",
			"nameserver 198.51.100.53\n",
		},
		{
			"nothing left: Docker's defaults",
			"nameserver 127.0.0.1\noptions ndots:2\n",
			"options ndots:2\n# Used default nameservers.\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n",
		},
		{
			"comments survive",
			"# lab host\nnameserver 203.0.113.53\n",
			"# lab host\nnameserver 203.0.113.53\n",
		},
	} {
		if got := LegacyResolvConf(tc.in); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		id := NewID()
		if len(id) != 64 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("NewID() = %q, want 64 lowercase hex digits", id)
		}
		if strings.Trim(id[:12], "0123456789") == "" {
			t.Fatalf("NewID() = %q: the short ID is all digits, which Docker redraws", id)
		}
		seen[id[:12]] = true
	}
	if len(seen) != 200 {
		t.Errorf("short IDs collided: %d distinct of 200", len(seen))
	}
}

func TestInternalResolvConf(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"nameserver 203.0.113.53\noptions edns0 trust-ad\n", "nameserver 127.0.0.11\noptions edns0 trust-ad ndots:0\n"},
		{"nameserver 127.0.0.53\nsearch lab.test\n", "nameserver 127.0.0.11\nsearch lab.test\noptions ndots:0\n"},
		{"nameserver 1.2.3.4\noptions ndots:2\n", "nameserver 127.0.0.11\noptions ndots:2\n"},
	} {
		if got := InternalResolvConf(tc.in); got != tc.want {
			t.Errorf("InternalResolvConf(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := Nameservers("# c\nnameserver 203.0.113.53\nnameserver bogus\nnameserver 198.51.100.9\n"); len(got) != 2 || got[0] != "203.0.113.53:53" {
		t.Errorf("Nameservers = %v", got)
	}
}

func TestCheckHostname(t *testing.T) {
	for _, ok := range []string{"web", "db-1.example.com", "my_host", strings.Repeat("a", MaxHostname)} {
		if err := CheckHostname(ok); err != nil {
			t.Errorf("CheckHostname(%q) = %v, want nil", ok, err)
		}
	}
	for h, want := range map[string]string{
		"evil\n10.0.0.1 bank":              `invalid hostname "evil\n10.0.0.1 bank": '\n' is not allowed`,
		"two names":                        `' ' is not allowed`,
		strings.Repeat("a", MaxHostname+1): "65 characters, more than the kernel's limit of 64",
		"-x":                               "must start with a letter or a digit",
	} {
		if err := CheckHostname(h); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckHostname(%q) = %v, want an error containing %q", h, err, want)
		}
	}
}
