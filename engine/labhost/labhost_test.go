package labhost

import (
	"slices"
	"strings"
	"testing"
)

func TestParseEnv(t *testing.T) {
	pid, id, err := parseEnv("1234:abc")
	if err != nil || pid != 1234 || id != "abc" {
		t.Fatalf("parseEnv(1234:abc) = %d, %q, %v", pid, id, err)
	}
	for _, bad := range []string{"", "1234", "1234:", ":abc", "x:abc", "0:abc", "-5:abc"} {
		if _, _, err := parseEnv(bad); err == nil || !strings.Contains(err.Error(), "want PID:ID") {
			t.Errorf("parseEnv(%q) = %v, want a PID:ID error", bad, err)
		}
	}
}

func TestInsideEnv(t *testing.T) {
	got := InsideEnv([]string{"HOME=/root", "PATH=/usr/bin:/bin", EnvHost + "=1:old", "TERM=xterm"}, "2:new")
	want := []string{"HOME=/root", "TERM=xterm", "PATH=" + BinDir + ":/usr/bin:/bin", EnvHost + "=2:new"}
	if !slices.Equal(got, want) {
		t.Fatalf("InsideEnv = %q, want %q", got, want)
	}
	// Applied twice (a lab host command started from inside one), PATH
	// does not grow and the host is named once.
	again := InsideEnv(got, "2:new")
	if !slices.Equal(again, want) {
		t.Fatalf("InsideEnv twice = %q, want %q", again, want)
	}
	// Without a PATH, the standard one.
	bare := InsideEnv(nil, "3:x")
	if bare[0] != "PATH="+BinDir+":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" {
		t.Fatalf("InsideEnv without PATH = %q", bare)
	}
}

// Outside a lab host (the machine the tests run on), Require refuses and
// says how to get one; CallDaemon refuses before dialling anything.
func TestRequireOutsideLabHost(t *testing.T) {
	if InLabHost() {
		t.Skip("running inside a lab host")
	}
	if err := Require(); err == nil || !strings.Contains(err.Error(), "nslab sandbox") {
		t.Fatalf("Require outside a lab host = %v", err)
	}
	if err := CallDaemon(nil, nil); err == nil || !strings.Contains(err.Error(), "not inside a lab host") {
		t.Fatalf("CallDaemon outside a lab host = %v", err)
	}
}
