// Package image provides the images containers start from. There is no
// registry: the images are built from the lab machine's own files, which
// come from Debian packages.
//
//   - busybox: a root filesystem made of Debian's busybox-static binary and
//     one link per applet, like Docker Hub's busybox. Its ping prints
//     busybox's own "bad address 'nstest'".
//   - multitool (wbitt/network-multitool): the lab machine's own root
//     filesystem, seen read-only through an overlay, so ip, dig,
//     iptables-save, ss, netstat, ps and nsenter are there. A small layer on
//     top holds what the real image adds: /docker/entrypoint.sh, an nginx
//     configuration (Debian's nginx) with a self-signed certificate, so by
//     default the container runs nginx on 80 and 443 as PID 1.
//   - mysql: a stand-in, not MySQL. Busybox plus an entrypoint that refuses
//     to start without MYSQL_ROOT_PASSWORD (or the other two options), with
//     the official image's words, and a "mysqld" that listens on 3306 and
//     33060 with busybox nc and answers each connection with a line saying
//     it is a stand-in.
//
// Each image has a Docker-shaped config (Entrypoint, Cmd, Env,
// ExposedPorts) and an ID that is the sha256 of that config and of a
// manifest of its files, so it stays the same while the files do. Each
// container gets a private writable overlay on top of its image.
package image

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config is the part of a Docker image config that nslab honours.
type Config struct {
	Entrypoint   []string
	Cmd          []string
	Env          []string
	ExposedPorts []string // "80/tcp"
}

// Image is a root filesystem and its defaults.
type Image struct {
	Name  string // canonical name
	Lower string // overlay lowerdir: one directory, or several joined by ':'
	Config
	ID      string    // sha256:<hex of config and file manifest>
	Size    int64     // bytes
	Created time.Time // when the machine's Debian packages last changed
}

// Argv is the argv a container of img runs, as Docker builds it: the
// entrypoint, then the run line's command if there is one, else the
// image's Cmd.
func (img Image) Argv(cmd []string) []string {
	if len(cmd) == 0 {
		cmd = img.Cmd
	}
	return append(append([]string{}, img.Entrypoint...), cmd...)
}

type builder func(dir string) error

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

var known = map[string]struct {
	build  builder
	onHost bool // the image dir is layered over the machine's own root
	config Config
}{
	"busybox": {build: buildBusybox, config: Config{Cmd: []string{"sh"}, Env: []string{defaultPath}}},
	"multitool": {build: buildMultitool, onHost: true, config: Config{
		Entrypoint:   []string{"/bin/sh", "/docker/entrypoint.sh"},
		Cmd:          []string{"nginx", "-g", "daemon off;"},
		Env:          []string{defaultPath},
		ExposedPorts: []string{"80/tcp", "443/tcp", "1180/tcp", "11443/tcp"},
	}},
	"mysql": {build: buildMySQL, config: Config{
		Entrypoint:   []string{"docker-entrypoint.sh"},
		Cmd:          []string{"mysqld"},
		Env:          []string{defaultPath},
		ExposedPorts: []string{"3306/tcp", "33060/tcp"},
	}},
}

// aliases are the names the notes use for the same images.
var aliases = map[string]string{
	"wbitt/network-multitool":  "multitool",
	"praqma/network-multitool": "multitool",
}

// Names lists the available images.
func Names() []string {
	var n []string
	for k := range known {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Repositories lists every name an image answers to, as `docker images`
// shows one row per repository.
func Repositories() []string {
	n := Names()
	for a := range aliases {
		n = append(n, a)
	}
	sort.Strings(n)
	return n
}

// Canonical maps an image reference ("busybox:latest",
// "wbitt/network-multitool") to an image name, or fails with an error that
// lists the images there are.
func Canonical(ref string) (string, error) {
	name := ref
	if i := strings.LastIndexByte(name, ':'); i > 0 && !strings.Contains(name[i:], "/") {
		if tag := name[i+1:]; tag != "latest" {
			return "", fmt.Errorf("unable to find image '%s' locally: only the tag 'latest' exists (available images: %s)", ref, strings.Join(Names(), ", "))
		}
		name = name[:i]
	}
	name = strings.TrimPrefix(strings.TrimPrefix(name, "docker.io/"), "library/")
	if a, ok := aliases[name]; ok {
		name = a
	}
	if _, ok := known[name]; !ok {
		return "", fmt.Errorf("unable to find image '%s' locally: nslab has no registry (available images: %s)", ref, strings.Join(Names(), ", "))
	}
	return name, nil
}

// Store builds images on first use under a directory.
type Store struct {
	dir    string
	mu     sync.Mutex
	images map[string]Image
	reuse  bool // see ReuseBuilt
}

// ReuseBuilt makes Get take an image that a previous daemon finished
// building as it is, instead of building it again: a restarted daemon
// must not remove the lower layer of the containers it re-adopts.
func (s *Store) ReuseBuilt() {
	s.mu.Lock()
	s.reuse = true
	s.mu.Unlock()
}

// NewStore returns a store that keeps image root filesystems under dir.
func NewStore(dir string) *Store { return &Store{dir: dir, images: map[string]Image{}} }

// Get returns the image for ref, building it if needed.
func (s *Store) Get(ref string) (Image, error) {
	name, err := Canonical(ref)
	if err != nil {
		return Image{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if img, ok := s.images[name]; ok {
		return img, nil
	}
	k := known[name]
	dir := filepath.Join(s.dir, name)
	built := dir + ".built"
	if _, err := os.Stat(built); !s.reuse || err != nil {
		os.Remove(built)
		os.RemoveAll(dir)
		if err := k.build(dir); err != nil {
			return Image{}, fmt.Errorf("build image %s: %w", name, err)
		}
		if err := os.WriteFile(built, nil, 0o644); err != nil {
			return Image{}, fmt.Errorf("build image %s: %w", name, err)
		}
	}
	img := Image{Name: name, Lower: dir, Config: k.config}
	m, err := manifest(dir)
	if err != nil {
		return Image{}, fmt.Errorf("build image %s: %w", name, err)
	}
	if k.onHost {
		img.Lower = dir + ":/"
		hm, err := hostManifest()
		if err != nil {
			return Image{}, fmt.Errorf("build image %s: %w", name, err)
		}
		m.add(hm)
	}
	cfg, _ := json.Marshal(img.Config)
	h := sha256.New()
	h.Write(cfg)
	h.Write([]byte(m.text.String()))
	img.ID = "sha256:" + hex.EncodeToString(h.Sum(nil))
	img.Size = m.size
	// Created: when the machine's Debian packages last changed, the
	// images' one source.
	if fi, err := os.Stat(dpkgStatus); err == nil {
		img.Created = fi.ModTime()
	}
	s.images[name] = img
	return img, nil
}

func writeFiles(dir string, files map[string]string, mode os.FileMode) error {
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			return err
		}
	}
	return nil
}

func buildBusybox(dir string) error {
	src, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("busybox not found: install Debian's busybox-static: %w", err)
	}
	out, err := exec.Command(src, "--list").Output()
	if err != nil {
		return fmt.Errorf("%s --list: %w", src, err)
	}
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp", "root", "var/run", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	os.Chmod(filepath.Join(dir, "tmp"), 0o1777)
	if err := copyFile(src, filepath.Join(dir, "bin", "busybox"), 0o755); err != nil {
		return err
	}
	for _, app := range strings.Fields(string(out)) {
		if app == "busybox" || strings.Contains(app, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", app)); err != nil && !os.IsExist(err) {
			return err
		}
	}
	return writeFiles(dir, map[string]string{
		"etc/passwd":      "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
		"etc/group":       "root:x:0:\nnogroup:x:65534:\n",
		"etc/hosts":       "",
		"etc/hostname":    "",
		"etc/resolv.conf": "",
	}, 0o644)
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// fileManifest is a text listing of an image's files (path, mode, size and
// content hash), what its ID hashes, and the total size.
type fileManifest struct {
	text strings.Builder
	size int64
}

const dpkgStatus = "/var/lib/dpkg/status"

func (m *fileManifest) add(o *fileManifest) {
	m.text.WriteString(o.text.String())
	m.size += o.size
}

func manifest(dir string) (*fileManifest, error) {
	m := &fileManifest{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		sum := ""
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			sum, _ = os.Readlink(p)
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h := sha256.Sum256(b)
			sum = hex.EncodeToString(h[:])
			m.size += fi.Size()
		}
		fmt.Fprintf(&m.text, "%s %o %d %s\n", rel, fi.Mode(), fi.Size(), sum)
		return nil
	})
	return m, err
}

// hostManifest stands for the machine's own root filesystem under the
// multitool: Debian's list of installed packages (name, version and
// installed size), which changes exactly when a package does. The size is
// the packages' Installed-Size.
func hostManifest() (*fileManifest, error) {
	b, err := os.ReadFile(dpkgStatus)
	if err != nil {
		return nil, fmt.Errorf("read the machine's package list: %w", err)
	}
	m := &fileManifest{}
	for _, para := range strings.Split(string(b), "\n\n") {
		var pkg, version, state string
		var kib int64
		for _, line := range strings.Split(para, "\n") {
			k, v, _ := strings.Cut(line, ": ")
			switch k {
			case "Package":
				pkg = v
			case "Version":
				version = v
			case "Status":
				state = v
			case "Installed-Size":
				kib, _ = strconv.ParseInt(v, 10, 64)
			}
		}
		if pkg == "" || !strings.HasSuffix(state, " installed") {
			continue
		}
		fmt.Fprintf(&m.text, "dpkg %s %s %d\n", pkg, version, kib)
		m.size += kib * 1024
	}
	return m, nil
}

// HumanSize is go-units' HumanSizeWithPrecision(size, 3), the SIZE column
// of `docker images`: decimal units, three significant digits.
func HumanSize(size int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	f := float64(size)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return strconv.FormatFloat(f, 'g', 3, 64) + units[i]
}

// MergeEnv is Docker's ReplaceOrAppendEnvValues: each KEY=VALUE of
// overrides replaces the image's value of KEY in place, or is appended; a
// bare KEY (the caller had no such variable) unsets KEY.
func MergeEnv(defaults, overrides []string) []string {
	out := append([]string{}, defaults...)
	index := map[string]int{}
	for i, e := range out {
		k, _, _ := strings.Cut(e, "=")
		index[k] = i
	}
	for _, v := range overrides {
		k, _, ok := strings.Cut(v, "=")
		i, exists := index[k]
		switch {
		case !ok && exists:
			out[i] = ""
		case !ok:
		case exists:
			out[i] = v
		default:
			out = append(out, v)
		}
	}
	kept := out[:0]
	for _, e := range out {
		if e != "" {
			kept = append(kept, e)
		}
	}
	return kept
}
