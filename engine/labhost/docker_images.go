package labhost

import (
	"archive/tar"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/nslab/nslab/engine/image"
)

// dockerImage is an image loaded into a Docker-engine lab host's dockerd:
// a root filesystem and the config nslab gives the same image.
type dockerImage struct {
	name    string
	aliases []string // more repositories tagged to it, as nslab accepts them
	config  image.Config
	rootfs  func(tw *tar.Writer) error
}

// containerPath is the PATH nslab gives every container, and Docker Hub's
// images set in their config.
const containerPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// loadImages imports busybox, multitool and the mysql stand-in into the
// lab host's dockerd (docker import, with Cmd and Env as nslab's images
// have them), since a Docker-engine lab host can pull nothing.
func loadImages() error {
	store := image.NewStore(filepath.Join(DockerDir, "images"))
	bb, err := store.Get("busybox")
	if err != nil {
		return err
	}
	mt, err := store.Get("multitool")
	if err != nil {
		return err
	}
	my, err := store.Get("mysql")
	if err != nil {
		return err
	}
	imgs := []dockerImage{
		{name: "busybox", config: bb.Config, rootfs: func(tw *tar.Writer) error { return tarDir(tw, bb.Lower) }},
		{name: "multitool", aliases: []string{"wbitt/network-multitool", "praqma/network-multitool"}, config: mt.Config,
			rootfs: func(tw *tar.Writer) error {
				// nslab's multitool is its own layer (entrypoint, nginx's
				// configuration, certificate) over the machine's root.
				layer, _, _ := strings.Cut(mt.Lower, ":")
				return uniqueDirs(tw, func(inner *tar.Writer) error {
					if err := tarMultitool(inner); err != nil {
						return err
					}
					return tarDir(inner, layer)
				})
			}},
		// The mysql stand-in is busybox plus its entrypoint and mysqld
		// scripts, one directory like busybox.
		{name: "mysql", config: my.Config, rootfs: func(tw *tar.Writer) error { return tarDir(tw, my.Lower) }},
	}
	for _, img := range imgs {
		if err := importImage(img); err != nil {
			return fmt.Errorf("load image %s into dockerd: %w", img.name, err)
		}
	}
	return nil
}

func importImage(img dockerImage) error {
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := img.rootfs(tw)
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	changes := []string{"ENV PATH=" + containerPath}
	if len(img.config.Entrypoint) > 0 {
		changes = append(changes, "ENTRYPOINT "+jsonArray(img.config.Entrypoint))
	}
	if len(img.config.Cmd) > 0 {
		changes = append(changes, "CMD "+jsonArray(img.config.Cmd))
	}
	for _, kv := range img.config.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "PATH" {
			changes = append(changes, "ENV "+k+"="+strconv.Quote(v))
		}
	}
	for _, p := range img.config.ExposedPorts {
		changes = append(changes, "EXPOSE "+p)
	}
	q := url.Values{"fromSrc": {"-"}, "repo": {img.name}, "tag": {"latest"}, "changes": changes}
	if err := dockerAPI("POST", "/images/create", q, pr); err != nil {
		pr.CloseWithError(err)
		return err
	}
	for _, a := range img.aliases {
		if err := dockerAPI("POST", "/images/"+img.name+":latest/tag", url.Values{"repo": {a}, "tag": {"latest"}}, nil); err != nil {
			return err
		}
	}
	return nil
}

// uniqueDirs runs write on a tar stream and copies it to tw, keeping the
// first entry of each directory: dockerd refuses an archive that names a
// path twice, and two trees laid over each other share directories.
func uniqueDirs(tw *tar.Writer, write func(*tar.Writer) error) error {
	pr, pw := io.Pipe()
	go func() {
		inner := tar.NewWriter(pw)
		err := write(inner)
		if err == nil {
			err = inner.Close()
		}
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	seen := map[string]bool{}
	tr := tar.NewReader(pr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := strings.TrimSuffix(h.Name, "/")
		if seen[name] {
			if h.Typeflag == tar.TypeDir {
				continue
			}
			return fmt.Errorf("%s is in the image twice", name)
		}
		seen[name] = true
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// jsonArray is a Dockerfile exec-form list: ["a", "b"].
func jsonArray(a []string) string {
	b, _ := json.Marshal(a)
	return string(b)
}

// tarDir writes the tree under root, as the root of the archive.
func tarDir(tw *tar.Writer, root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		return tarEntry(tw, p, rel)
	})
}

// tarEntry writes the file at p (not following a symlink) as name.
func tarEntry(tw *tar.Writer, p, name string) error {
	st, err := os.Lstat(p)
	if err != nil {
		return err
	}
	link := ""
	if st.Mode()&os.ModeSymlink != 0 {
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	}
	h, err := tar.FileInfoHeader(st, link)
	if err != nil {
		return err
	}
	h.Name = name
	h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
	if st.IsDir() {
		h.Name += "/"
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}

// multitoolTools are the programs of nslab's multitool image (the machine's
// own root filesystem) that its Docker twin carries: those of
// wbitt/network-multitool the labs use, a shell and the usual utilities.
// nslab's multitool is the whole machine seen read-only, gigabytes that a
// docker import cannot take, so Docker gets these programs, the shared
// libraries they need and a few files of /etc.
var multitoolTools = strings.Fields(`
sh dash bash ls cat echo sleep env id hostname grep sed awk mawk head tail wc sort uniq
mkdir rm rmdir cp mv touch test [ true false printf tr cut ln chmod stat readlink
timeout seq xargs tee find uname date kill whoami basename dirname pwd du df expr nproc
ip bridge dig nslookup host iptables iptables-save iptables-restore iptables-legacy
iptables-legacy-save iptables-legacy-restore iptables-nft iptables-nft-save
iptables-nft-restore ip6tables ip6tables-save xtables-legacy-multi xtables-nft-multi
ss netstat arp route ifconfig ps top pgrep pkill nsenter unshare mount umount
ping arping curl wget nc tcpdump traceroute tracepath ethtool nft conntrack getent
nginx
`)

var multitoolEtc = strings.Fields(`/etc/passwd /etc/group /etc/nsswitch.conf /etc/protocols
/etc/services /etc/ethertypes /etc/iproute2 /etc/host.conf /etc/ld.so.conf /etc/ld.so.conf.d
/etc/nginx/mime.types`)

var libDirs = []string{"/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64",
	"/usr/lib/aarch64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib", "/lib"}

// tarMultitool writes the multitool root filesystem: the programs above
// from the machine, with their libraries (and iptables' extensions).
func tarMultitool(tw *tar.Writer) error {
	c := &closure{files: map[string]bool{}}
	for _, t := range multitoolTools {
		if p, err := lookSystem(t); err == nil {
			c.add(p)
		}
	}
	for _, d := range libDirs {
		c.addTree(filepath.Join(d, "xtables"))
	}
	for _, e := range multitoolEtc {
		c.addTree(e)
	}
	if c.err != nil {
		return c.err
	}
	// The merged-/usr links (/bin -> usr/bin, ...) as the machine has them.
	for _, l := range []string{"/bin", "/sbin", "/lib", "/lib64"} {
		if st, err := os.Lstat(l); err == nil && st.Mode()&os.ModeSymlink != 0 {
			c.files[l] = true
		}
	}
	paths := []string{}
	dirs := map[string]bool{}
	for p := range c.files {
		paths = append(paths, p)
		for d := filepath.Dir(p); d != "/"; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	for d := range dirs {
		if !c.files[d] {
			paths = append(paths, d)
		}
	}
	sort.Strings(paths)
	for _, d := range []string{"root", "tmp", "proc", "sys", "dev", "etc", "run", "var", "var/run", "var/lib", "var/lib/nginx", "var/log", "var/log/nginx"} {
		if dirs["/"+d] || c.files["/"+d] {
			continue
		}
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode}); err != nil {
			return err
		}
	}
	for _, p := range paths {
		if dirs[p] && !c.files[p] {
			// A parent directory: a plain directory, unless the machine
			// has a link there (usr/bin under /bin is reached through it).
			st, err := os.Lstat(p)
			if err == nil && st.Mode()&os.ModeSymlink != 0 {
				continue
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: p[1:] + "/", Mode: 0o755}); err != nil {
				return err
			}
			continue
		}
		if err := tarEntry(tw, p, p[1:]); err != nil {
			return err
		}
	}
	return nil
}

// closure collects files with everything they need: symlink targets, ELF
// interpreters and DT_NEEDED libraries.
type closure struct {
	files map[string]bool
	err   error
}

// add adds path (its directories resolved, so it is named where it really
// is, except for its last element when that is a link).
func (c *closure) add(p string) {
	if dir, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
		p = filepath.Join(dir, filepath.Base(p))
	}
	if c.files[p] {
		return
	}
	st, err := os.Lstat(p)
	if err != nil {
		return
	}
	c.files[p] = true
	switch {
	case st.Mode()&os.ModeSymlink != 0:
		t, err := os.Readlink(p)
		if err != nil {
			return
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(filepath.Dir(p), t)
		}
		c.add(t)
	case st.Mode().IsRegular():
		c.addELF(p)
	}
}

func (c *closure) addTree(root string) {
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			c.add(p)
		}
		return nil
	})
}

func (c *closure) addELF(p string) {
	f, err := elf.Open(p)
	if err != nil {
		return // not an ELF file
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			b := make([]byte, prog.Filesz)
			if _, err := prog.ReadAt(b, 0); err == nil {
				c.add(strings.TrimRight(string(b), "\x00"))
			}
		}
	}
	libs, _ := f.ImportedLibraries()
	for _, lib := range libs {
		found := false
		for _, d := range libDirs {
			if lp := filepath.Join(d, lib); fileExists(lp) {
				c.add(lp)
				found = true
				break
			}
		}
		if !found && c.err == nil {
			c.err = fmt.Errorf("multitool image: %s needs %s, which is not in %s", p, lib, strings.Join(libDirs, ", "))
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
