package container

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// User is who a container's processes run as (-u), resolved as runc does
// (moby/sys/user GetExecUser) against the image's /etc/passwd and
// /etc/group.
type User struct {
	UID, GID int
	Groups   []int  // supplementary groups: those that list the user
	Home     string // from passwd, "/" when the user has no entry
}

// LookupUser resolves a -u value, USER[:GROUP] with names or numbers, in
// the image whose overlay lowerdir is lower (directories joined by ':',
// the top one first). Unknown names are refused with Docker's messages.
func LookupUser(lower, spec string) (*User, error) {
	userArg, groupArg, _ := strings.Cut(spec, ":")
	u := &User{Home: "/"}
	var name string
	found := false
	if userArg == "" {
		userArg = "0"
	}
	uid, numeric := atoiID(userArg)
	for _, f := range readImageFile(lower, "etc/passwd") {
		// name:password:uid:gid:gecos:home:shell
		if len(f) < 7 {
			continue
		}
		fu, err1 := strconv.Atoi(f[2])
		fg, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			continue
		}
		if f[0] == userArg || numeric && fu == uid {
			u.UID, u.GID, u.Home, name, found = fu, fg, f[5], f[0], true
			break
		}
	}
	if !found {
		if !numeric {
			return nil, fmt.Errorf("unable to find user %s: no matching entries in passwd file", userArg)
		}
		u.UID = uid
	}
	groups := readImageFile(lower, "etc/group")
	if groupArg != "" {
		gid, gnum := atoiID(groupArg)
		gfound := false
		for _, f := range groups {
			// name:password:gid:members
			if len(f) < 4 {
				continue
			}
			fg, err := strconv.Atoi(f[2])
			if err != nil {
				continue
			}
			if f[0] == groupArg || gnum && fg == gid {
				u.GID, gfound = fg, true
				break
			}
		}
		if !gfound {
			if !gnum {
				return nil, fmt.Errorf("unable to find group %s: no matching entries in group file", groupArg)
			}
			u.GID = gid
		}
	}
	// runc's supplementary groups: the primary group, and with a user
	// name and no group given, every group that lists the user.
	u.Groups = []int{u.GID}
	if groupArg == "" && found {
		for _, f := range groups {
			if len(f) < 4 {
				continue
			}
			fg, err := strconv.Atoi(f[2])
			if err != nil {
				continue
			}
			for _, m := range strings.Split(f[3], ",") {
				if m == name && fg != u.GID {
					u.Groups = append(u.Groups, fg)
				}
			}
		}
	}
	return u, nil
}

// atoiID parses a numeric uid or gid.
func atoiID(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// readImageFile reads a colon-separated file (passwd, group) of the image,
// from the topmost layer that has it.
func readImageFile(lower, name string) [][]string {
	for _, dir := range strings.Split(lower, ":") {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		defer f.Close()
		var out [][]string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || line[0] == '#' {
				continue
			}
			out = append(out, strings.Split(line, ":"))
		}
		return out
	}
	return nil
}

// setUser switches the calling thread to u, keeping its capabilities
// (PR_SET_KEEPCAPS) so that the capset after it decides what is left, as
// runc does. Only the calling thread changes: it is the one that execs.
func setUser(u *User) error {
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("keep capabilities: %w", err)
	}
	gids := make([]uint32, len(u.Groups))
	for i, g := range u.Groups {
		gids[i] = uint32(g)
	}
	var p uintptr
	if len(gids) > 0 {
		p = uintptr(unsafe.Pointer(&gids[0]))
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gids)), p, 0); e != 0 {
		return fmt.Errorf("setgroups: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return fmt.Errorf("setgid %d: %w", u.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return fmt.Errorf("setuid %d: %w", u.UID, e)
	}
	return nil
}
