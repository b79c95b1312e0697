package daemon

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

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

// The log never holds more than maxFile files, each within maxSize plus one
// entry, and LogFiles lists them oldest first.
func TestJSONLogRotates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c-json.log")
	l, err := openJSONLog(path, 100, 3)
	if err != nil {
		t.Fatal(err)
	}
	entry := []byte(`{"log":"0123456789012345678901234567890123456789\n"}` + "\n")
	for i := 0; i < 50; i++ {
		l.mu.Lock()
		l.write(entry)
		l.mu.Unlock()
	}
	l.Close()
	files := LogFiles(path)
	if want := []string{path + ".2", path + ".1", path}; !slices.Equal(files, want) {
		t.Fatalf("LogFiles = %q, want %q", files, want)
	}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 100+int64(len(entry)) {
			t.Errorf("%s is %d bytes, over 100 plus one entry", f, fi.Size())
		}
	}
	// One file: truncated in place.
	l, _ = openJSONLog(filepath.Join(dir, "one.log"), 100, 1)
	for i := 0; i < 50; i++ {
		l.mu.Lock()
		l.write(entry)
		l.mu.Unlock()
	}
	l.Close()
	if got := LogFiles(filepath.Join(dir, "one.log")); len(got) != 1 {
		t.Errorf("max-file 1 left %q", got)
	}
}
