package portmap

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/nslab/nslab/engine/internal/reap"
)

// ProxyName is the name the proxy process runs under, so that ps, ss -ltnp
// and netstat -ltnp show it as they do under Docker.
const ProxyName = "docker-proxy"

// proxyStartTimeout is how long the daemon waits for a proxy to report
// that it listens (Docker's 16 s).
const proxyStartTimeout = 16 * time.Second

// Proxy is one running docker-proxy process, seen from the daemon: one per
// published binding, as Docker runs them with its userland proxy on.
type Proxy struct {
	proc *reap.Process // nil for an adopted proxy
	done chan struct{} // closed once the process has been waited for
	// An adopted proxy (AdoptProxy) is not the daemon's child: it is
	// known by pid and a pidfd instead.
	pid, pidfd int
}

// ProxyArgs is docker-proxy's argv for a binding, in Docker's order:
// path -proto tcp -host-ip 0.0.0.0 -host-port 8080 -container-ip
// 172.17.0.2 -container-port 80.
func ProxyArgs(path string, b Binding, container netip.Addr) []string {
	return []string{path,
		"-proto", b.Proto,
		"-host-ip", b.HostIP.String(),
		"-host-port", strconv.Itoa(int(b.HostPort)),
		"-container-ip", container.String(),
		"-container-port", strconv.Itoa(int(b.ContainerPort)),
	}
}

// StartProxy runs the docker-proxy at path for binding b, in the calling
// thread's network namespace, and waits until it reports on its fd 3
// ("0\n" when it listens, "1\n" and the error when it could not), as
// dockerd does. The proxy outlives a daemon that dies (no Pdeathsig): the
// restarted daemon adopts it (AdoptProxy), so published ports and their
// connections survive. A bind failure comes back as Docker's "Error
// starting userland proxy: ..."
func StartProxy(path string, b Binding, container netip.Addr) (*Proxy, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("proxy unable to open os.Pipe: %w", err)
	}
	defer r.Close()
	cmd := &exec.Cmd{
		Path:       path,
		Args:       ProxyArgs(path, b, container),
		ExtraFiles: []*os.File{w},
		// Its own process group: a signal to the daemon's group (a
		// terminal's ^C) does not reach it.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	proc, err := reap.Start(cmd)
	w.Close()
	if err != nil {
		return nil, fmt.Errorf("start %s for %s: %w", ProxyName, b, err)
	}
	p := &Proxy{proc: proc, done: make(chan struct{})}
	go func() {
		proc.Wait() // in the poller: no OS thread per proxy
		close(p.done)
	}()

	status := make(chan error, 1)
	go func() {
		buf := make([]byte, 2)
		n, _ := io.ReadFull(r, buf)
		if string(buf[:n]) == "0\n" {
			status <- nil
			return
		}
		msg, err := io.ReadAll(r)
		if err != nil {
			status <- fmt.Errorf("Error reading exit status from userland proxy: %w", err)
			return
		}
		status <- errors.New("Error starting userland proxy: " + string(msg))
	}()
	select {
	case err = <-status:
	case <-time.After(proxyStartTimeout):
		err = errors.New("Timed out proxy starting the userland proxy")
	}
	if err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// StartProxies starts one proxy per binding, all at once, and waits for
// every one to report: a container's proxies start side by side, so ten
// ports cost little more than one process start. On any failure the
// others are stopped and the first binding's error (in bs's order) is
// returned.
func StartProxies(path string, bs []Binding, container netip.Addr) ([]*Proxy, error) {
	ps := make([]*Proxy, len(bs))
	errs := make([]error, len(bs))
	var wg sync.WaitGroup
	for i, b := range bs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ps[i], errs[i] = StartProxy(path, b, container)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, p := range ps {
			if p != nil {
				p.Close()
			}
		}
		for _, e := range errs {
			if e != nil {
				return nil, e
			}
		}
	}
	return ps, nil
}

// Pid is the proxy process's pid.
func (p *Proxy) Pid() int {
	if p.proc == nil {
		return p.pid
	}
	return p.proc.Pid
}

// Close stops the proxy as dockerd does (SIGINT, then wait), killing it if
// it has not gone within 2 s.
func (p *Proxy) Close() {
	if p.proc == nil {
		p.closeAdopted()
		return
	}
	p.proc.Signal(syscall.SIGINT)
	select {
	case <-p.done:
		return
	case <-time.After(2 * time.Second):
	}
	p.proc.Kill()
	<-p.done
}

// ProxyMain is docker-proxy's main: it parses Docker's flags, listens on
// the host address and port, reports "0\n" (or "1\n" and the error) on
// signalParent, and relays until SIGINT or SIGTERM. It returns the exit
// status.
func ProxyMain(args []string, signalParent io.WriteCloser, stderr io.Writer) int {
	fs := flag.NewFlagSet(ProxyName, flag.ContinueOnError)
	fs.SetOutput(stderr)
	proto := fs.String("proto", "tcp", "proxy protocol")
	hostIP := fs.String("host-ip", "", "host ip")
	hostPort := fs.Int("host-port", -1, "host port")
	containerIP := fs.String("container-ip", "", "container ip")
	containerPort := fs.Int("container-port", -1, "container port")
	fail := func(err error) int {
		if signalParent != nil {
			fmt.Fprintf(signalParent, "1\n%s", err)
			signalParent.Close()
		}
		fmt.Fprintf(stderr, "%s: %v\n", ProxyName, err)
		return 1
	}
	if err := fs.Parse(args); err != nil {
		return fail(err)
	}
	hip, err1 := netip.ParseAddr(*hostIP)
	cip, err2 := netip.ParseAddr(*containerIP)
	switch {
	case *proto != "tcp" && *proto != "udp":
		return fail(fmt.Errorf("unsupported protocol %s", *proto))
	case err1 != nil || err2 != nil:
		return fail(fmt.Errorf("bad -host-ip %q or -container-ip %q", *hostIP, *containerIP))
	case *hostPort < 0 || *hostPort > 65535 || *containerPort < 1 || *containerPort > 65535:
		return fail(fmt.Errorf("bad -host-port %d or -container-port %d", *hostPort, *containerPort))
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	p, err := listen(*proto, netip.AddrPortFrom(hip, uint16(*hostPort)), netip.AddrPortFrom(cip, uint16(*containerPort)))
	if err != nil {
		return fail(err)
	}
	if signalParent != nil {
		fmt.Fprint(signalParent, "0\n")
		signalParent.Close()
	}
	<-stop
	p.Close()
	return 0
}
