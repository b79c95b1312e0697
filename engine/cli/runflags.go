package cli

// run's flags for mounts, the process, DNS and metadata: -v, --mount, -w,
// -u, --entrypoint, --dns, --dns-search, --dns-option, --add-host, -l,
// --label-file, --mac-address, --init and --cidfile. What Docker's CLI
// checks while it parses flags is checked here, with its messages; what
// Docker's daemon checks (mount sources and paths, users, the working
// directory) is checked by nslab's daemon (engine/daemon/runopts.go).

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/nslab/nslab/engine/api"
	"github.com/spf13/pflag"
)

// runFlags holds the values that need work after parsing.
type runFlags struct {
	entrypoint string
	labels     []string
	labelFiles []string
}

// addRunFlags defines the flags on run's flag set.
func addRunFlags(f *pflag.FlagSet, o *api.RunOptions) *runFlags {
	r := &runFlags{}
	f.StringArrayVarP(&o.Binds, "volume", "v", nil, "Bind mount a lab host path (SOURCE:TARGET[:ro|rw])")
	f.Var(mountFlag{&o.Mounts}, "mount", "Attach a filesystem mount to the container (type=bind,source=,target=[,readonly])")
	f.StringVarP(&o.WorkingDir, "workdir", "w", "", "Working directory inside the container")
	f.StringVarP(&o.User, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	f.StringVar(&r.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	f.Var(listFlag{&o.DNS, validateDNS}, "dns", "Set custom DNS servers")
	f.Var(listFlag{&o.DNSSearch, validateDNSSearch}, "dns-search", "Set custom DNS search domains")
	f.Var(listFlag{&o.DNSOptions, nil}, "dns-option", "Set DNS options")
	f.Var(listFlag{&o.ExtraHosts, validateExtraHost}, "add-host", "Add a custom host-to-IP mapping (host:ip)")
	f.VarP(listFlag{&r.labels, validateLabel}, "label", "l", "Set meta data on a container")
	f.Var(listFlag{&r.labelFiles, nil}, "label-file", "Read in a line delimited file of labels")
	f.StringVar(&o.MacAddress, "mac-address", "", "Container MAC address (e.g., 92:d0:c6:0a:29:33)")
	f.BoolVar(&o.Init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	f.StringVar(&o.ContainerIDFile, "cidfile", "", "Write the container ID to the file")
	return r
}

// finish completes o after parsing, as Docker's CLI does before it calls
// the daemon. Its errors are usage errors (exit 125).
func (r *runFlags) finish(f *pflag.FlagSet, o *api.RunOptions) error {
	if f.Changed("entrypoint") {
		o.EntrypointSet = true
		if r.entrypoint != "" {
			o.Entrypoint = []string{r.entrypoint}
		}
	}
	for _, v := range o.Binds {
		if err := checkVolumeSpec(v); err != nil {
			return err
		}
	}
	if o.MacAddress != "" {
		if hw, err := net.ParseMAC(o.MacAddress); err != nil || len(hw) != 6 {
			return fmt.Errorf("%s is not a valid mac address", o.MacAddress)
		}
	}
	labels, err := readLabels(r.labelFiles, r.labels)
	if err != nil {
		return err
	}
	o.Labels = labels
	return nil
}

// listFlag is a repeatable flag whose values are checked, and possibly
// rewritten, by check (Docker's opts.ListOpts with a validator).
type listFlag struct {
	vals  *[]string
	check func(string) (string, error)
}

func (l listFlag) String() string { return "[" + strings.Join(*l.vals, " ") + "]" }
func (l listFlag) Type() string   { return "list" }
func (l listFlag) Set(val string) error {
	if l.check != nil {
		v, err := l.check(val)
		if err != nil {
			return err
		}
		val = v
	}
	*l.vals = append(*l.vals, val)
	return nil
}

// validateDNS is opts.ValidateIPAddress.
func validateDNS(val string) (string, error) {
	if ip := net.ParseIP(strings.TrimSpace(val)); ip != nil {
		return ip.String(), nil
	}
	return "", fmt.Errorf("IP address is not correctly formatted: %s", val)
}

var domainRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(:?(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\-]*[A-Za-z0-9]))$`)
})

// validateDNSSearch is opts.ValidateDNSSearch: a domain, or "." for none.
func validateDNSSearch(val string) (string, error) {
	val = strings.Trim(val, " ")
	if val == "." {
		return val, nil
	}
	if m := domainRE().FindStringSubmatch(val); m == nil || len(m[1]) > 255 {
		return "", fmt.Errorf("%s is not a valid domain", val)
	}
	return val, nil
}

// validateExtraHost is opts.ValidateExtraHost (Docker CLI 25+): NAME:IP or
// NAME=IP, the address optionally in brackets, or NAME:host-gateway. It
// returns Docker's NAME:IP form. nslab also refuses control characters in
// the name: a newline would add lines to /etc/hosts.
func validateExtraHost(val string) (string, error) {
	k, v, ok := strings.Cut(val, "=")
	if !ok {
		k, v, ok = strings.Cut(val, ":")
	}
	if !ok || k == "" {
		return "", fmt.Errorf("bad format for add-host: %q", val)
	}
	if strings.IndexFunc(k, unicode.IsControl) >= 0 {
		return "", fmt.Errorf("bad format for add-host: %q: a name may not contain control characters (a newline would add lines to /etc/hosts)", val)
	}
	if v != "host-gateway" {
		if len(v) > 2 && v[0] == '[' && v[len(v)-1] == ']' {
			v = v[1 : len(v)-1]
		}
		if _, err := netip.ParseAddr(v); err != nil {
			return "", fmt.Errorf("invalid IP address in add-host: %q", v)
		}
	}
	return k + ":" + v, nil
}

// validateLabel is opts.ValidateLabel.
func validateLabel(val string) (string, error) {
	k, _, _ := strings.Cut(val, "=")
	if strings.TrimSpace(k) == "" {
		return "", fmt.Errorf("invalid label '%s': empty name", val)
	}
	return val, nil
}

// readLabels is opts.ReadKVStrings and ConvertKVStringsToMap: the lines of
// each --label-file, then -l; a later value wins, a name without "=" has an
// empty value, and a file line without "=" is dropped, as Docker drops it.
func readLabels(files, flags []string) (map[string]string, error) {
	var kvs []string
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for n := 1; sc.Scan(); n++ {
			line := sc.Bytes()
			if n == 1 {
				line = bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
			}
			s := strings.TrimLeftFunc(string(line), unicode.IsSpace)
			if s == "" || s[0] == '#' {
				continue
			}
			name, _, hasValue := strings.Cut(s, "=")
			if strings.ContainsAny(name, " \t\n\v\f\r") {
				return nil, fmt.Errorf("poorly formatted environment: variable '%s' contains whitespaces", name)
			}
			if name == "" {
				return nil, fmt.Errorf("poorly formatted environment: no variable name on line '%s'", s)
			}
			if hasValue {
				kvs = append(kvs, s)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	kvs = append(kvs, flags...)
	if len(kvs) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m, nil
}

// checkVolumeSpec is the CLI's syntax check of -v (compose's ParseVolume):
// at most three sections, none empty. What the sections mean is the
// daemon's to check.
func checkVolumeSpec(spec string) error {
	parts := strings.Split(spec, ":")
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("invalid spec: %s: empty section between colons", spec)
		}
	}
	if len(parts) > 3 {
		return fmt.Errorf("invalid spec: %s: too many colons", spec)
	}
	return nil
}

// mountFlag is --mount, Docker's opts.MountOpt: comma-separated key=value
// fields (CSV, so a field may be quoted), for the bind type.
type mountFlag struct{ vals *[]api.Mount }

func (m mountFlag) String() string { return fmt.Sprint(*m.vals) }
func (m mountFlag) Type() string   { return "mount" }
func (m mountFlag) Set(val string) error {
	fields, err := csv.NewReader(strings.NewReader(val)).Read()
	if err != nil {
		return err
	}
	ms := api.Mount{Type: "volume"}
	for _, field := range fields {
		key, value, ok := strings.Cut(field, "=")
		key = strings.ToLower(key)
		if !ok {
			switch key {
			case "readonly", "ro":
				ms.ReadOnly = true
				continue
			}
			return fmt.Errorf("invalid field '%s' must be a key=value pair", field)
		}
		switch key {
		case "type":
			ms.Type = value
		case "source", "src":
			ms.Source = value
		case "target", "dst", "destination":
			ms.Target = value
		case "readonly", "ro":
			b, err := strconv.ParseBool(value)
			if err != nil {
				return fmt.Errorf("invalid value for %s: %s", key, value)
			}
			ms.ReadOnly = b
		default:
			return fmt.Errorf("unexpected key '%s' in '%s'", key, field)
		}
	}
	if ms.Target == "" {
		return errors.New("target is required")
	}
	*m.vals = append(*m.vals, ms)
	return nil
}

// createCIDFile is the CLI's --cidfile: refuse a file that exists, create
// it before the container is, so a path that cannot be written fails first.
func createCIDFile(path string) error {
	if path == "" {
		return nil
	}
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("container ID file found, make sure the other container isn't running or delete %s", path)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("failed to create the container ID file: %w", err)
	}
	return f.Close()
}

// writeCIDFile writes the full ID into the --cidfile, as soon as the
// container exists.
func writeCIDFile(path, id string) error {
	if path == "" {
		return nil
	}
	if err := os.WriteFile(path, []byte(id), 0o644); err != nil {
		return fmt.Errorf("failed to write the container ID to the file: %w", err)
	}
	return nil
}

// removeEmptyCIDFile removes the --cidfile when no container was made (it
// is still empty), as Docker's CLI does.
func removeEmptyCIDFile(path string) {
	if path == "" {
		return
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() == 0 {
		os.Remove(path)
	}
}

// cidFileExit is the exit status for a --cidfile that cannot be created:
// Docker's CLI maps any error whose text says "no such file or directory"
// to 127 (toStatusError), so a missing directory gives 127, other errors 125.
func cidFileExit(err error) int {
	if errors.Is(err, fs.ErrNotExist) {
		return 127
	}
	return 125
}
