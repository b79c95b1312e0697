// Package image provides the root filesystems containers start from. There
// is no registry: the images are built from the lab machine's own files.
//
//   - busybox: a root filesystem made of Debian's busybox-static binary and
//     one link per applet, like Docker Hub's busybox. Its ping prints
//     busybox's own "bad address 'nstest'".
//   - multitool: the lab machine's own root filesystem, seen read-only
//     through an overlay, so ip, dig, iptables-save, ss, netstat, ps and
//     nsenter are there, as in wbitt/network-multitool.
//
// Each container gets a private writable overlay on top of its image.
package image

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Image is a root filesystem and its defaults.
type Image struct {
	Name  string
	Lower string   // overlay lower directory
	Cmd   []string // default command
}

type builder func(dir string) error

var known = map[string]struct {
	build builder
	cmd   []string
}{
	"busybox":   {buildBusybox, []string{"sh"}},
	"multitool": {nil, []string{"sleep", "infinity"}},
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
	dir  string
	mu   sync.Mutex
	done map[string]bool
}

// NewStore returns a store that keeps image root filesystems under dir.
func NewStore(dir string) *Store { return &Store{dir: dir, done: map[string]bool{}} }

// Get returns the image for ref, building its root filesystem if needed.
func (s *Store) Get(ref string) (Image, error) {
	name, err := Canonical(ref)
	if err != nil {
		return Image{}, err
	}
	k := known[name]
	img := Image{Name: name, Cmd: k.cmd, Lower: "/"}
	if k.build == nil {
		return img, nil
	}
	img.Lower = filepath.Join(s.dir, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done[name] {
		os.RemoveAll(img.Lower)
		if err := k.build(img.Lower); err != nil {
			return Image{}, fmt.Errorf("build image %s: %w", name, err)
		}
		s.done[name] = true
	}
	return img, nil
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
	files := map[string]string{
		"etc/passwd":      "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
		"etc/group":       "root:x:0:\nnogroup:x:65534:\n",
		"etc/hosts":       "",
		"etc/hostname":    "",
		"etc/resolv.conf": "",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
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
