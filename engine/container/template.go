package container

// The template mount namespace.
//
// clone(CLONE_NEWNS) copies every mount of the parent's mount namespace,
// and the init then walks them all twice more: once to make them private,
// once to unmount the old root after pivot_root. The lab host's mount
// namespace holds one netns pin per container (the daemon's netns
// directory, like Docker's /var/run/docker/netns), so a container copied
// from it cost more with every container already running: at 1,000
// containers the copy and the two walks were about a sixth of a run -d
// (engine/README.md). Containers are therefore copied from a template: a
// copy of the lab host's namespace without the pins.
//
// The template must still see what is mounted in the lab host after it was
// made, such as a tmpfs a learner mounts and then binds into a container
// with -v. So the lab host's mounts are made shared (as systemd makes a
// machine's), the template's are slaves of them, and the directories named
// to NewTemplate are private mount points whose later mounts, the pins,
// reach no one else.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// Template is a mount namespace that containers' own are copied from. It
// lives as long as the daemon that made it.
type Template struct {
	f      *os.File
	hidden []string // the private directories, whose mounts it lacks
}

// NewTemplate makes the template from the calling process's mount
// namespace, which it changes: its mounts become shared, and each
// directory in private becomes a private mount point (bound onto itself,
// with what is mounted below it, if it is not one yet). The template has
// none of the private directories' mounts. Call it in a lab host only,
// before anything is mounted below the private directories concurrently.
func NewTemplate(private ...string) (*Template, error) {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SHARED, ""); err != nil {
		return nil, fmt.Errorf("make / shared: %w", err)
	}
	for _, dir := range private {
		if err := ensurePrivateMount(dir); err != nil {
			return nil, err
		}
	}
	type made struct {
		f   *os.File
		err error
	}
	res := make(chan made, 1)
	go func() {
		// This thread leaves the process's mount namespace and never
		// comes back: it stays locked, and the runtime destroys it when
		// the goroutine ends (engine/netns's discipline).
		runtime.LockOSThread()
		f, err := enterNewTemplate(private)
		res <- made{f, err}
	}()
	r := <-res
	if r.err != nil {
		return nil, r.err
	}
	return &Template{f: r.f, hidden: private}, nil
}

// enterNewTemplate moves the calling thread, locked for good, into a new
// mount namespace, makes it the template and returns a handle on it.
func enterNewTemplate(private []string) (*os.File, error) {
	if err := unix.Unshare(unix.CLONE_FS | unix.CLONE_NEWNS); err != nil {
		return nil, fmt.Errorf("unshare a mount namespace for the template: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return nil, fmt.Errorf("make the template's mounts slaves: %w", err)
	}
	for _, dir := range private {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			return nil, fmt.Errorf("unmount %s in the template: %w", dir, err)
		}
	}
	f, err := os.Open("/proc/thread-self/ns/mnt")
	if err != nil {
		return nil, fmt.Errorf("open the template mount namespace: %w", err)
	}
	return f, nil
}

// ensurePrivateMount makes dir a mount point, if it is not one, without
// hiding what is mounted below it, and makes it and its mounts private.
// As `ip netns` does for /run/netns, it asks the kernel: making a path that
// is no mount point private fails with EINVAL. (mountinfo can list a mount
// on the path that another mount hides, as a nested lab host's /run hides
// its outer one's.)
func ensurePrivateMount(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	err := unix.Mount("", dir, "", unix.MS_REC|unix.MS_PRIVATE, "")
	if errors.Is(err, unix.EINVAL) {
		return bindPrivate(dir)
	}
	if err != nil {
		return fmt.Errorf("make %s private: %w", dir, err)
	}
	return nil
}

// bindPrivate makes dir a private mount point. Mounts already on its
// entries (pins a daemon of an older build made while its containers still
// run) are lifted first and put back on top: a bind would otherwise copy
// them and hide the originals beneath it, where no unmount of the path
// could reach them, and their namespaces would never be freed. The bind is
// made private before they go back, or, as a peer of the shared mount it
// was bound from, it would propagate them beneath itself again.
func bindPrivate(dir string) error {
	var top unix.Stat_t
	if err := unix.Stat(dir, &top); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	held := map[string]*os.File{}
	defer func() {
		for _, f := range held {
			f.Close()
		}
	}()
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		var st unix.Stat_t
		if unix.Lstat(p, &st) != nil || st.Dev == top.Dev {
			continue // not a mount
		}
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("hold %s: %w", p, err)
		}
		held[p] = f
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("lift %s: %w", p, err)
		}
	}
	err = unix.Mount(dir, dir, "", unix.MS_BIND, "")
	if err != nil {
		err = fmt.Errorf("bind %s onto itself: %w", dir, err)
	} else if err = unix.Mount("", dir, "", unix.MS_PRIVATE, ""); err != nil {
		err = fmt.Errorf("make %s private: %w", dir, err)
	}
	// Put every lifted mount back, even if the bind failed.
	for p, f := range held {
		src := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
		if merr := unix.Mount(src, p, "", unix.MS_BIND, ""); merr != nil && err == nil {
			err = fmt.Errorf("put %s back: %w", p, merr)
		}
	}
	return err
}

// fdFor is the namespace file to copy a container with binds ms from, or
// -1 for the caller's own namespace. A bind of a directory the template
// hides, or of one above it such as /, must show what the lab host has
// there, the netns pins included, as Docker's recursive binds do: such a
// container is copied from the lab host's namespace, as before templates.
func (t *Template) fdFor(ms []Mount) int {
	if t == nil || t.f == nil {
		return -1
	}
	for _, m := range ms {
		src := m.Source
		if real, err := filepath.EvalSymlinks(src); err == nil {
			src = real
		}
		for _, h := range t.hidden {
			if nested(src, h) || nested(h, src) {
				return -1
			}
		}
	}
	return int(t.f.Fd())
}

// nested reports whether path a is b or lies below it.
func nested(a, b string) bool {
	a, b = filepath.Clean(a), filepath.Clean(b)
	return a == b || b == "/" || strings.HasPrefix(a, b+"/")
}
