package container

import (
	"slices"
	"testing"
)

func TestDefaultCapsAreDockers(t *testing.T) {
	var mask uint64
	for _, c := range Capabilities(nil, nil) {
		mask |= 1 << slices.Index(capNames, c)
	}
	if mask != 0xa80425fb {
		t.Errorf("default CapEff = %016x, want Docker's 00000000a80425fb", mask)
	}
}

func TestNormalizeCaps(t *testing.T) {
	got, err := NormalizeCaps([]string{"net_admin", "CAP_NET_RAW", "all", " Sys_Admin "})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"CAP_NET_ADMIN", "CAP_NET_RAW", "ALL", "CAP_SYS_ADMIN"}; !slices.Equal(got, want) {
		t.Errorf("NormalizeCaps = %q, want %q", got, want)
	}
	if _, err := NormalizeCaps([]string{"bogus"}); err == nil || err.Error() != `unknown capability: "CAP_BOGUS"` {
		t.Errorf("unknown capability: err = %v", err)
	}
}

func TestCapabilities(t *testing.T) {
	for _, tc := range []struct {
		add, drop  []string
		has, lacks string
		n          int
	}{
		{[]string{"CAP_NET_ADMIN"}, nil, "CAP_NET_ADMIN", "CAP_SYS_ADMIN", 15},
		{nil, []string{"CAP_NET_RAW"}, "CAP_CHOWN", "CAP_NET_RAW", 13},
		{[]string{"ALL"}, []string{"CAP_SYS_ADMIN"}, "CAP_BPF", "CAP_SYS_ADMIN", len(capNames) - 1},
		{[]string{"CAP_CHOWN"}, []string{"ALL"}, "CAP_CHOWN", "CAP_KILL", 1},
		{[]string{"CAP_CHOWN"}, nil, "CAP_CHOWN", "CAP_NET_ADMIN", 14}, // no duplicate
	} {
		got := Capabilities(tc.add, tc.drop)
		if !slices.Contains(got, tc.has) || slices.Contains(got, tc.lacks) || len(got) != tc.n {
			t.Errorf("Capabilities(%q, %q) = %q: want %s, not %s, %d in all", tc.add, tc.drop, got, tc.has, tc.lacks, tc.n)
		}
	}
}

func TestValidSysctl(t *testing.T) {
	for _, ok := range []string{"net.ipv4.ip_forward=1", "net.ipv4.ping_group_range=0 2147483647", "kernel.shmmax=1", "fs.mqueue.msg_max=20"} {
		if _, _, err := ValidSysctl(ok); err != nil {
			t.Errorf("ValidSysctl(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"vm.swappiness=1", "net.ipv4.ip_forward", "kernel.domainname=x", "net/../../vm/swappiness=1", "net...vm=1"} {
		if _, _, err := ValidSysctl(bad); err == nil {
			t.Errorf("ValidSysctl(%q) accepted", bad)
		}
	}
}
