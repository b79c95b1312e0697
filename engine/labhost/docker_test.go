package labhost

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckEngineRefusesUnknownNames(t *testing.T) {
	for _, name := range []string{"podman", "Docker", "nslab2"} {
		_, err := CheckEngine(name)
		if err == nil || !strings.Contains(err.Error(), `unknown engine "`+name+`"`) || !strings.Contains(err.Error(), "nslab, docker") {
			t.Errorf("CheckEngine(%q) = %v; want a refusal that lists nslab, docker", name, err)
		}
	}
	if _, err := CheckEngine(""); err != nil {
		t.Errorf("the default engine: %v", err)
	}
	if _, err := CheckEngine(EngineNslab); err != nil {
		t.Errorf("nslab: %v", err)
	}
}

// TestCheckEngineSaysHowToInstallDocker hides the system directories, as on
// a machine without Docker, and checks the message says how to install it.
func TestCheckEngineSaysHowToInstallDocker(t *testing.T) {
	old := systemDirs
	defer func() { systemDirs = old }()
	empty := t.TempDir()
	systemDirs = []string{empty}
	_, err := CheckEngine(EngineDocker)
	if err == nil || !strings.Contains(err.Error(), "dockerd is not installed") || !strings.Contains(err.Error(), "apt-get install docker.io") || !strings.Contains(err.Error(), "NSLAB_WITH_DOCKER=1 scripts/provision.sh") {
		t.Fatalf("CheckEngine(docker) without dockerd = %v; want how to install it", err)
	}
	// With the daemon but no CLI, it asks for the CLI the same way.
	for _, tool := range []string{"dockerd", "containerd", "runc"} {
		if err := os.WriteFile(filepath.Join(empty, tool), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_, err = CheckEngine(EngineDocker)
	if err == nil || !strings.Contains(err.Error(), "docker CLI, which is not installed") {
		t.Fatalf("CheckEngine(docker) without the CLI = %v", err)
	}
	if err := os.WriteFile(filepath.Join(empty, "docker"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cli, err := CheckEngine(EngineDocker)
	if err != nil || cli != filepath.Join(empty, "docker") {
		t.Fatalf("CheckEngine(docker) = %q, %v; want the CLI in %s", cli, err, empty)
	}
}
