package shim

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

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

// A log shim from another build refuses its configuration, naming the
// problem, before it touches any descriptor or file.
func TestLogShimRefusesAnotherProtocol(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "c-json.log")
	t.Setenv(EnvLogShim, `{"Protocol":0,"Log":"`+log+`"}`)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	code := LogShimMain()
	os.Stderr = stderr
	w.Close()
	msg, _ := io.ReadAll(r)
	if code != 2 {
		t.Errorf("LogShimMain with protocol 0 returned %d, want 2", code)
	}
	if want := "the daemon speaks protocol 0, this binary 1: build nslab and nslab-shim from one tree"; !strings.Contains(string(msg), want) {
		t.Errorf("LogShimMain with protocol 0 said %q, want it to say %q", msg, want)
	}
	if _, err := os.Stat(log); !os.IsNotExist(err) {
		t.Errorf("the refused shim created its log %s (stat: %v)", log, err)
	}
}
