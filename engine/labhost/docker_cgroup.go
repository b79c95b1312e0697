package labhost

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const cgroupRoot = "/sys/fs/cgroup"

// mountCgroups gives the lab host the machine's cgroup hierarchies under
// /sys/fs/cgroup, which the lab host's fresh sysfs hides; dockerd and runc
// need them. They are the machine's own hierarchies (there is no cgroup
// namespace): containers go below dockerCgroupParent, one directory per lab
// host, which SweepDockerCgroups removes once the lab host is gone.
func mountCgroups() error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	type mnt struct{ point, fstype, opts string }
	seen := map[string]mnt{}
	for _, line := range strings.Split(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 3 || (g[0] != "cgroup" && g[0] != "cgroup2") {
			continue
		}
		if f[4] == cgroupRoot || strings.HasPrefix(f[4], cgroupRoot+"/") {
			var opts []string
			for _, o := range strings.Split(g[2], ",") {
				if o != "rw" && o != "ro" {
					opts = append(opts, o)
				}
			}
			seen[f[4]] = mnt{f[4], g[0], strings.Join(opts, ",")}
		}
	}
	if m, ok := seen[cgroupRoot]; ok && m.fstype == "cgroup2" {
		return mountCgroup(m.point, m.fstype, m.opts)
	}
	if len(seen) == 0 {
		return fmt.Errorf("no cgroup hierarchy mounted under %s on this machine: dockerd needs one", cgroupRoot)
	}
	if err := unix.Mount("tmpfs", cgroupRoot, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755"); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", cgroupRoot, err)
	}
	var points []string
	for p := range seen {
		points = append(points, p)
	}
	sort.Strings(points)
	for _, p := range points {
		m := seen[p]
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
		if err := mountCgroup(m.point, m.fstype, m.opts); err != nil {
			return err
		}
		// cpu,cpuacct is also reached as cpu and cpuacct.
		if base := filepath.Base(p); strings.Contains(base, ",") {
			for _, part := range strings.Split(base, ",") {
				os.Symlink(base, filepath.Join(filepath.Dir(p), part))
			}
		}
	}
	return nil
}

func mountCgroup(point, fstype, opts string) error {
	if err := unix.Mount("cgroup", point, fstype, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts); err != nil {
		return fmt.Errorf("mount %s (%s) on %s: %w", fstype, opts, point, err)
	}
	return nil
}

// DockerCgroups lists the cgroup directories, in the machine's hierarchies,
// that Docker-engine lab hosts made (live ones included).
func DockerCgroups() []string {
	var out []string
	for _, dir := range append([]string{cgroupRoot}, globDirs(cgroupRoot+"/*")...) {
		out = append(out, globDirs(filepath.Join(dir, "nslab-labhost-*"))...)
	}
	sort.Strings(out)
	return out
}

// OrphanedDockerCgroups is DockerCgroups less those of lab hosts still
// running: what SweepDockerCgroups would remove.
func OrphanedDockerCgroups() []string {
	live := liveIDs()
	var out []string
	for _, d := range DockerCgroups() {
		if !live[strings.TrimPrefix(filepath.Base(d), "nslab-labhost-")] {
			out = append(out, d)
		}
	}
	return out
}

func globDirs(pattern string) []string {
	m, _ := filepath.Glob(pattern)
	var out []string
	for _, p := range m {
		if st, err := os.Lstat(p); err == nil && st.IsDir() {
			out = append(out, p)
		}
	}
	return out
}

// SweepDockerCgroups removes the cgroup directories of Docker-engine lab
// hosts whose supervisor is gone (by the lab host's id in the name). A
// cgroup can only be removed once its processes have exited, so it retries
// for a bounded time; what is still busy is left for the next sweep.
func SweepDockerCgroups() {
	for _, d := range OrphanedDockerCgroups() {
		for try := 0; try < 50 && removeCgroupTree(d) != nil; try++ {
			time.Sleep(20 * time.Millisecond) // dying tasks leave their cgroups shortly
		}
	}
}

// removeCgroupTree removes a cgroup and its children, deepest first; a
// cgroup directory is removed with rmdir, never by deleting its files.
func removeCgroupTree(dir string) error {
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := removeCgroupTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := unix.Rmdir(dir); err != nil && err != unix.ENOENT {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	return nil
}

// liveIDs are the ids of the lab hosts whose supervisor runs.
func liveIDs() map[string]bool {
	live := map[string]bool{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(env), "\x00") {
			if v, ok := strings.CutPrefix(kv, envTag+"="); ok {
				live[v] = true
			}
		}
	}
	return live
}
