package container

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Mount is a bind mount of a lab host path into the container (-v,
// --mount type=bind), recursive and private as Docker's default
// (rprivate).
type Mount struct {
	Source   string
	Target   string
	ReadOnly bool
}

// bindMounts binds each mount under root, in the init's own mount
// namespace, before the pivot: the sources are the lab host's paths. The
// target is made, as a directory or an empty file like its source, in the
// container's writable layer when the image lacks it. A read-only mount is
// bound, then remounted read-only (the bind itself ignores MS_RDONLY).
func bindMounts(root string, ms []Mount) error {
	for _, m := range ms {
		t, err := scopedPath(root, m.Target)
		if err != nil {
			return fmt.Errorf("mount point %s: %w", m.Target, err)
		}
		fi, err := os.Stat(m.Source)
		if err != nil {
			return fmt.Errorf("bind mount source %s: %w", m.Source, err)
		}
		if fi.IsDir() {
			err = os.MkdirAll(t, 0o755)
		} else if _, serr := os.Stat(t); serr != nil {
			if err = os.MkdirAll(filepath.Dir(t), 0o755); err == nil {
				err = os.WriteFile(t, nil, 0o644)
			}
		}
		if err != nil {
			return fmt.Errorf("mount point %s: %w", m.Target, err)
		}
		if err := unix.Mount(m.Source, t, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s on %s: %w", m.Source, m.Target, err)
		}
		if err := unix.Mount("", t, "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("make %s rprivate: %w", m.Target, err)
		}
		if m.ReadOnly {
			if err := unix.Mount("", t, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
				return fmt.Errorf("remount %s read-only: %w", m.Target, err)
			}
		}
	}
	return nil
}

// scopedPath is target inside root with every symbolic link resolved as
// if root were /, as Docker resolves mount points (securejoin): an image's
// absolute link, such as multitool's /etc/resolv.conf, must not lead a
// bind, or the directories made for it, out to the lab host's own files.
func scopedPath(root, target string) (string, error) {
	todo := strings.Split(target, "/")
	cur := "/"
	for links := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > 40 {
			return "", fmt.Errorf("too many levels of symbolic links in %s", target)
		}
		link, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if path.IsAbs(link) {
			cur = "/"
		}
		todo = append(strings.Split(link, "/"), todo...)
	}
	return filepath.Join(root, cur), nil
}

// workDir makes the working directory, as Docker makes a missing one
// (owned by root), and enters it. It runs after the pivot.
func workDir(dir string) error {
	if dir == "" {
		return nil
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return fmt.Errorf("Cannot mkdir: %s is not a directory", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("Cannot mkdir: %w", err)
	}
	if err := unix.Chdir(dir); err != nil {
		return fmt.Errorf("chdir to the working directory %s: %w", dir, err)
	}
	return nil
}
