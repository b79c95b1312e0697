package labhost

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
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

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"512M": 512 << 20, "512MiB": 512 << 20, "512mb": 512 << 20, "2G": 2 << 30, "16m": 16 << 20,
		"64k": 64 << 10, "1048576": 1 << 20, " 1g ": 1 << 30,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "lots", "-1M", "0", "1.5G", "12x", "99999999999999G"} {
		if got, err := ParseSize(in); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("invalid size %q", in)) {
			t.Errorf("ParseSize(%q) = %d, %v; want an error naming the input", in, got, err)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{512 << 20: "512MiB", 2 << 30: "2GiB", 1024: "1KiB", 1000: "1000B"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestRunSizeDefaultAndEnv(t *testing.T) {
	t.Setenv(EnvRunSize, "")
	if n, err := (Options{}).runSize(); err != nil || n != DefaultRunSize {
		t.Errorf("default /run size = %d, %v; want %d", n, err, DefaultRunSize)
	}
	t.Setenv(EnvRunSize, "64M")
	if n, err := (Options{}).runSize(); err != nil || n != 64<<20 {
		t.Errorf("%s=64M: %d, %v", EnvRunSize, n, err)
	}
	if n, err := (Options{RunSize: 32 << 20}).runSize(); err != nil || n != 32<<20 {
		t.Errorf("Options.RunSize wins over the environment: got %d, %v", n, err)
	}
	t.Setenv(EnvRunSize, "1M")
	if _, err := (Options{}).runSize(); err == nil || !strings.Contains(err.Error(), "at least 4MiB, not 1MiB") {
		t.Errorf("%s=1M: %v, want a refusal naming the minimum", EnvRunSize, err)
	}
}

func TestNoSpaceNamesRun(t *testing.T) {
	err := NoSpace(fmt.Errorf("write hosts: %w", syscall.ENOSPC))
	if !strings.Contains(err.Error(), "no space left on device (the lab host's /run is full") || !strings.Contains(err.Error(), EnvRunSize) {
		t.Errorf("NoSpace(ENOSPC) = %q", err)
	}
	other := fmt.Errorf("x: %w", syscall.EPERM)
	if NoSpace(other) != other || NoSpace(nil) != nil {
		t.Error("NoSpace changed an error that is not ENOSPC")
	}
}

func TestCheckNodes(t *testing.T) {
	for n, ok := range map[int]bool{0: false, 1: true, 2: true, MaxNodes: true, MaxNodes + 1: false, -1: false} {
		if err := CheckNodes(n); (err == nil) != ok {
			t.Errorf("CheckNodes(%d) = %v", n, err)
		}
	}
	if got, want := NodeAddr(2).String(), "192.0.2.2/24"; got != want {
		t.Errorf("NodeAddr(2) = %s, want %s", got, want)
	}
}

func TestCLIBinary(t *testing.T) {
	t.Setenv(EnvCLI, "")
	if p, err := cliBinary("/self"); err != nil || p != "/self" {
		t.Errorf("unset %s: %q, %v; want the starting binary", EnvCLI, p, err)
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "nslab")
	plain := filepath.Join(dir, "notes.txt")
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{{exe, 0o755}, {plain, 0o644}} {
		if err := os.WriteFile(f.path, nil, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(EnvCLI, exe)
	if p, err := cliBinary("/self"); err != nil || p != exe {
		t.Errorf("%s=%s: %q, %v", EnvCLI, exe, p, err)
	}
	for value, want := range map[string]string{
		"nslab":                      "want the absolute path",
		filepath.Join(dir, "absent"): "no such file",
		plain:                        "not an executable file",
		dir:                          "not an executable file",
	} {
		t.Setenv(EnvCLI, value)
		_, err := cliBinary("/self")
		if err == nil || !strings.Contains(err.Error(), EnvCLI+"=") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s=%s: %v, want an error naming it and saying %q", EnvCLI, value, err, want)
		}
	}
	// Start refuses it before it starts a supervisor (as root; it refuses
	// any non-root caller first): a supervisor would report it from its
	// setup, after making the lab host's namespaces.
	if os.Geteuid() == 0 {
		t.Setenv(EnvCLI, plain)
		h, err := Start(Options{})
		if h != nil {
			h.Close()
		}
		if err == nil || !strings.Contains(err.Error(), EnvCLI) || strings.Contains(err.Error(), "lab host setup") {
			t.Errorf("Start with %s=%s: %v, want Start's own refusal, before any lab host setup", EnvCLI, plain, err)
		}
	}
}
