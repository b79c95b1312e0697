package netns

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// PinOwn pins the calling process's own network namespace at path, as
// Docker pins the host's at /var/run/docker/netns/default, the sandbox key
// of its host-mode containers. When path already holds that namespace it
// does nothing.
func PinOwn(path string) error {
	const own = "/proc/self/ns/net"
	var want, got unix.Stat_t
	if err := unix.Stat(own, &want); err != nil {
		return fmt.Errorf("pin own netns: %w", err)
	}
	if unix.Stat(path, &got) == nil && got.Dev == want.Dev && got.Ino == want.Ino {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create netns dir for %q: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o444)
	if err != nil {
		return fmt.Errorf("create netns file %q: %w", path, err)
	}
	f.Close()
	if err := unix.Mount(own, path, "none", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("pin own netns at %q: %w", path, err)
	}
	return nil
}
