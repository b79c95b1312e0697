package container

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestLookupUser(t *testing.T) {
	top, base := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(base, "etc"), 0o755)
	os.WriteFile(filepath.Join(base, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\nann:x:1000:1000::/home/ann:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(base, "etc/group"), []byte("root:x:0:\nwheel:x:10:root,ann\nann:x:1000:\nnogroup:x:65534:\nstaff:x:50:ann\n"), 0o644)
	lower := top + ":" + base // the top layer has no /etc: the next one's counts
	for _, c := range []struct {
		spec string
		want User
	}{
		{"nobody", User{UID: 65534, GID: 65534, Groups: []int{65534}, Home: "/home"}},
		{"ann", User{UID: 1000, GID: 1000, Groups: []int{1000, 10, 50}, Home: "/home/ann"}},
		{"1000", User{UID: 1000, GID: 1000, Groups: []int{1000, 10, 50}, Home: "/home/ann"}},
		{"4242", User{UID: 4242, GID: 0, Groups: []int{0}, Home: "/"}},
		{"4242:4343", User{UID: 4242, GID: 4343, Groups: []int{4343}, Home: "/"}},
		{"0:nogroup", User{UID: 0, GID: 65534, Groups: []int{65534}, Home: "/root"}},
		{":50", User{UID: 0, GID: 50, Groups: []int{50}, Home: "/root"}},
	} {
		u, err := LookupUser(lower, c.spec)
		if err != nil || !reflect.DeepEqual(*u, c.want) {
			t.Errorf("-u %s: %+v, %v; want %+v", c.spec, u, err, c.want)
		}
	}
	if _, err := LookupUser(lower, "nobody2"); err == nil || err.Error() != "unable to find user nobody2: no matching entries in passwd file" {
		t.Errorf("unknown user: %v", err)
	}
	if _, err := LookupUser(lower, "ann:nogroup2"); err == nil || err.Error() != "unable to find group nogroup2: no matching entries in group file" {
		t.Errorf("unknown group: %v", err)
	}
}

func TestScopedPath(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "usr/lib"), 0o755)
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.Symlink("usr/lib", filepath.Join(root, "lib"))
	os.Symlink("/run/elsewhere/resolv.conf", filepath.Join(root, "etc/resolv.conf"))
	os.Symlink("../../../../..", filepath.Join(root, "up"))
	os.Symlink("loop", filepath.Join(root, "loop"))
	for target, want := range map[string]string{
		"/data":             "/data",
		"/lib/x":            "/usr/lib/x",
		"/etc/resolv.conf":  "/run/elsewhere/resolv.conf",
		"/up/etc/passwd":    "/etc/passwd",
		"/../../etc/passwd": "/etc/passwd",
	} {
		got, err := scopedPath(root, target)
		if err != nil || got != filepath.Join(root, want) {
			t.Errorf("%s: %s, %v; want %s under the root", target, got, err, want)
		}
	}
	if _, err := scopedPath(root, "/loop/x"); err == nil {
		t.Error("a link loop must be refused")
	}
}
