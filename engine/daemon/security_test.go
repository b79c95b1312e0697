package daemon

import "testing"

func TestRAMInBytes(t *testing.T) {
	for in, want := range map[string]int64{"10m": 10 << 20, "64k": 64 << 10, "1.5KiB": 1536, "100": 100, "2g": 2 << 30} {
		if got, err := ramInBytes(in); err != nil || got != want {
			t.Errorf("ramInBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "lots", "-1m", "0", "10x"} {
		if _, err := ramInBytes(bad); err == nil {
			t.Errorf("ramInBytes(%q) accepted", bad)
		}
	}
}
