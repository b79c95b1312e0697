package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateEnv(t *testing.T) {
	t.Setenv("NSLAB_TEST_SET", "from-caller")
	os.Unsetenv("NSLAB_TEST_UNSET")
	for in, want := range map[string]string{
		"A=1":              "A=1",
		"A=":               "A=",
		"A=b=c":            "A=b=c",
		"NSLAB_TEST_SET":   "NSLAB_TEST_SET=from-caller",
		"NSLAB_TEST_UNSET": "NSLAB_TEST_UNSET",
	} {
		if got, err := validateEnv(in); err != nil || got != want {
			t.Errorf("validateEnv(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"=x", "="} {
		if _, err := validateEnv(bad); err == nil || err.Error() != "invalid environment variable: "+bad {
			t.Errorf("validateEnv(%q) error = %v; want Docker's", bad, err)
		}
	}
}

func TestEnvFile(t *testing.T) {
	t.Setenv("NSLAB_TEST_SET", "from-caller")
	dir := t.TempDir()
	good := filepath.Join(dir, "good.env")
	os.WriteFile(good, []byte("\xEF\xBB\xBF# a comment\nA=1\n\n   B=two words\nNSLAB_TEST_SET\n  # indented comment\nC=\n"), 0o644)
	got, err := readEnvFiles([]string{good}, []string{"A=override"})
	if err != nil {
		t.Fatal(err)
	}
	want := "A=1|B=two words|NSLAB_TEST_SET=from-caller|C=|A=override"
	if strings.Join(got, "|") != want {
		t.Errorf("env file = %q; want %q", strings.Join(got, "|"), want)
	}
	for body, msg := range map[string]string{
		"A B=1\n": "poorly formatted environment: variable 'A B' contains whitespaces",
		"=1\n":    "poorly formatted environment: no variable name on line '=1'",
	} {
		p := filepath.Join(dir, "bad.env")
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := readEnvFiles([]string{p}, nil); err == nil || err.Error() != msg {
			t.Errorf("env file %q: error %v; want %q", body, err, msg)
		}
	}
	if _, err := readEnvFiles([]string{filepath.Join(dir, "missing.env")}, nil); err == nil || !strings.Contains(err.Error(), "no such file or directory") {
		t.Errorf("missing env file: error %v", err)
	}
}
