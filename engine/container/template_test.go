package container

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nslab/nslab/engine/netns"
	"golang.org/x/sys/unix"
)

// TestTemplateFallsBackForPinBinds: a container that binds the directory
// the template hides, something below it, or something above it (/, /run)
// must be copied from the lab host's namespace, where the pins are; any
// other bind, including a sibling whose name merely starts the same, keeps
// the template.
func TestTemplateFallsBackForPinBinds(t *testing.T) {
	f, err := os.Open(os.DevNull) // stands in for the namespace file
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	pins := filepath.Join(dir, "run", "nslab", "netns")
	if err := os.MkdirAll(pins, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "varrun")
	if err := os.Symlink(filepath.Join(dir, "run"), link); err != nil {
		t.Fatal(err)
	}
	tm := &Template{f: f, hidden: []string{pins}}
	for _, c := range []struct {
		src      string
		template bool
	}{
		{pins, false},
		{pins + "/0123456789ab", false},
		{filepath.Join(dir, "run"), false},
		{"/", false},
		{filepath.Join(link, "nslab", "netns"), false}, // through a symbolic link
		{pins + "-other", true},
		{filepath.Join(dir, "run", "nslab", "containers"), true},
		{t.TempDir(), true},
	} {
		got := tm.fdFor([]Mount{{Source: c.src, Target: "/x"}}) >= 0
		if got != c.template {
			t.Errorf("a bind of %s: copied from the template %v, want %v", c.src, got, c.template)
		}
	}
	if fd := tm.fdFor(nil); fd != int(f.Fd()) {
		t.Errorf("no binds: fd %d, want the template's %d", fd, f.Fd())
	}
	var none *Template
	if fd := none.fdFor(nil); fd != -1 {
		t.Errorf("no template: fd %d, want -1", fd)
	}
}

// envTemplateChild marks the re-executed test binary that runs
// templateChild in a mount namespace of its own; its value is the parent's
// mount namespace inode, which the child checks it is not in.
const envTemplateChild = "NSLAB_TEST_TEMPLATE_CHILD"

// TestNewTemplate runs NewTemplate in a throwaway mount namespace (a child
// process's own, checked before anything is mounted) on a pin directory
// that already holds pins but is no mount point, as an older daemon left
// it. The pins must stay reachable (lifted and put back, not hidden under
// the bind), the template must lack them and the pins made later, and it
// must see a mount made afterwards elsewhere.
func TestNewTemplate(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mount namespaces need root")
	}
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/mnt", &st); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNewTemplate$", "-test.v")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", envTemplateChild, st.Ino), "TMPDIR="+t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "template child: ok") {
		t.Fatalf("the child in its own mount namespace failed (%v):\n%s", err, out)
	}
}

func init() {
	if parent := os.Getenv(envTemplateChild); parent != "" {
		runtime.LockOSThread() // as nslab's main goroutine is (engine/netns)
		if err := templateChild(parent); err != nil {
			fmt.Println("template child:", err)
			os.Exit(1)
		}
		fmt.Println("template child: ok")
		os.Exit(0)
	}
}

func templateChild(parent string) error {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/mnt", &st); err != nil {
		return err
	}
	if strconv.FormatUint(st.Ino, 10) == parent {
		return errors.New("refusing: this is the parent's mount namespace")
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	base := os.Getenv("TMPDIR")
	if err := unix.Mount("tmpfs", base, "tmpfs", 0, ""); err != nil {
		return err
	}
	pins := filepath.Join(base, "netns")
	pin := func(name string) error {
		p := filepath.Join(pins, name)
		if err := os.WriteFile(p, nil, 0o444); err != nil {
			return err
		}
		return unix.Mount("/proc/self/ns/net", p, "", unix.MS_BIND, "")
	}
	if err := os.MkdirAll(pins, 0o755); err != nil {
		return err
	}
	for _, n := range []string{"old1", "old2"} {
		if err := pin(n); err != nil {
			return err
		}
	}
	tm, err := NewTemplate(pins)
	if err != nil {
		return fmt.Errorf("NewTemplate: %w", err)
	}
	if err := pin("new"); err != nil {
		return err
	}
	later := filepath.Join(base, "later")
	os.MkdirAll(later, 0o755)
	if err := unix.Mount("tmpfs", later, "tmpfs", 0, ""); err != nil {
		return err
	}
	os.WriteFile(filepath.Join(later, "f"), []byte("x"), 0o644)

	isMount := func(p string) bool {
		var a, b unix.Stat_t
		return unix.Stat(p, &a) == nil && unix.Stat(filepath.Dir(p), &b) == nil && a.Dev != b.Dev
	}
	// Here, in the caller's namespace: every pin is a live mount, and
	// unmounting it leaves the plain file (nothing hidden beneath).
	for _, n := range []string{"old1", "old2", "new"} {
		p := filepath.Join(pins, n)
		if !isMount(p) {
			return fmt.Errorf("pin %s is no mount in the caller's namespace after NewTemplate", n)
		}
	}
	// In the template: no pin, old or new, and the later mount.
	var inTemplate []string
	var laterSeen bool
	err = netns.OnThread(func(th *netns.Thread) error {
		if err := th.EnterMount(tm.fdFor(nil)); err != nil {
			return err
		}
		for _, n := range []string{"old1", "old2", "new"} {
			if isMount(filepath.Join(pins, n)) {
				inTemplate = append(inTemplate, n)
			}
		}
		_, err := os.Stat(filepath.Join(later, "f"))
		laterSeen = err == nil
		return nil
	})
	if err != nil {
		return err
	}
	if len(inTemplate) > 0 {
		return fmt.Errorf("the template has the pins %v", inTemplate)
	}
	if !laterSeen {
		return errors.New("a mount made after the template does not reach it")
	}
	for _, n := range []string{"old1", "old2"} {
		p := filepath.Join(pins, n)
		if err := unix.Unmount(p, 0); err != nil {
			return fmt.Errorf("unmount pin %s: %w", n, err)
		}
		if isMount(p) {
			return fmt.Errorf("pin %s is still a mount after its unmount: a copy hid the original", n)
		}
	}
	return nil
}
