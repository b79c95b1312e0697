package image

import (
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
	for _, bad := range []string{"mysql", "busybox:1.36", "nginx:latest"} {
		_, err := Canonical(bad)
		if err == nil || !strings.Contains(err.Error(), "available images: busybox, multitool") {
			t.Errorf("Canonical(%q) error = %v; want one that lists the available images", bad, err)
		}
	}
}
