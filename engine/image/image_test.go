package image

import (
	"os"
	"strings"
	"testing"
)

func TestCanonical(t *testing.T) {
	for ref, want := range map[string]string{
		"busybox":                         "busybox",
		"busybox:latest":                  "busybox",
		"docker.io/library/busybox":       "busybox",
		"wbitt/network-multitool":         "multitool",
		"praqma/network-multitool:latest": "multitool",
	} {
		got, err := Canonical(ref)
		if err != nil || got != want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", ref, got, err, want)
		}
	}
	for _, bad := range []string{"postgres", "busybox:1.36", "nginx:latest"} {
		_, err := Canonical(bad)
		if err == nil || !strings.Contains(err.Error(), "available images: busybox, multitool, mysql") {
			t.Errorf("Canonical(%q) error = %v; want one that lists the available images", bad, err)
		}
	}
}

func TestMergeEnv(t *testing.T) {
	// Docker's ReplaceOrAppendEnvValues: replace in place, append new, a
	// bare name unsets.
	got := MergeEnv([]string{"PATH=/bin", "A=1", "B=2"}, []string{"A=x", "C=3", "B", "NOPE"})
	want := []string{"PATH=/bin", "A=x", "C=3"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("MergeEnv = %q; want %q", got, want)
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 999: "999B", 1000: "1kB", 1980000: "1.98MB", 77_912_345: "77.9MB", 4_490_000_000: "4.49GB"} {
		if got := HumanSize(n); got != want {
			t.Errorf("HumanSize(%d) = %q; want %q", n, got, want)
		}
	}
}

func TestArgv(t *testing.T) {
	img := Image{Config: known["multitool"].config}
	if got := strings.Join(img.Argv(nil), " "); got != "/bin/sh /docker/entrypoint.sh nginx -g daemon off;" {
		t.Errorf("default argv = %q", got)
	}
	if got := strings.Join(img.Argv([]string{"sleep", "1"}), " "); got != "/bin/sh /docker/entrypoint.sh sleep 1" {
		t.Errorf("argv with a command = %q; the run line's command replaces CMD only", got)
	}
}

// An image's ID is a content hash: two builds of the same image in two
// stores get the same ID, and different images different ones.
func TestImageIDStable(t *testing.T) {
	a, b := NewStore(t.TempDir()), NewStore(t.TempDir())
	ids := map[string]string{}
	for _, name := range []string{"busybox", "mysql", "multitool"} {
		if name == "multitool" {
			if _, err := os.Stat("/usr/sbin/nginx"); err != nil {
				t.Log("no nginx on this machine: multitool skipped")
				continue
			}
		}
		x, err := a.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		y, err := b.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(x.ID, "sha256:") || len(x.ID) != 71 || x.ID != y.ID {
			t.Errorf("%s: IDs %q and %q; want the same sha256:<64 hex>", name, x.ID, y.ID)
		}
		if other, ok := ids[x.ID]; ok {
			t.Errorf("%s and %s share the ID %s", name, other, x.ID)
		}
		ids[x.ID] = name
		if x.Size <= 0 {
			t.Errorf("%s: size %d", name, x.Size)
		}
	}
}
