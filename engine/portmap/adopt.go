package portmap

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nslab/nslab/engine/internal/reap"
	"golang.org/x/sys/unix"
)

// AdoptProxy takes over the running docker-proxy pid for binding b to
// container, as a restarted daemon does with the proxies its predecessor
// started. A pidfd pins the process, and its command line must be the one
// ProxyArgs gives for b (any path to docker-proxy), so a reused pid is
// never adopted.
func AdoptProxy(pid int, b Binding, container netip.Addr) (*Proxy, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("%s pid %d for %s: %w", ProxyName, pid, b, err)
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("%s pid %d for %s: %w", ProxyName, pid, b, err)
	}
	args := strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
	want := ProxyArgs(ProxyName, b, container)
	if len(args) != len(want) || filepath.Base(args[0]) != ProxyName || !equal(args[1:], want[1:]) {
		unix.Close(fd)
		return nil, fmt.Errorf("pid %d is not the %s for %s (its command line is %q)", pid, ProxyName, b, bytes.ReplaceAll(raw, []byte{0}, []byte{' '}))
	}
	return &Proxy{pid: pid, pidfd: fd, done: make(chan struct{})}, nil
}

func equal(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

// closeAdopted stops an adopted proxy as Close does a child: SIGINT, then
// SIGKILL after 2 s. The lab host's supervisor, its parent now, reaps it.
func (p *Proxy) closeAdopted() {
	defer unix.Close(p.pidfd)
	unix.PidfdSendSignal(p.pidfd, unix.SIGINT, nil, 0)
	if reap.Pidfd(p.pidfd, 2*time.Second) {
		return
	}
	unix.PidfdSendSignal(p.pidfd, unix.SIGKILL, nil, 0)
	reap.Pidfd(p.pidfd, 2*time.Second)
}
