package daemon

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/container"
)

// Log limits. Docker's json-file driver keeps everything by default
// (max-size -1); nslab keeps logs in the lab host's /run, which is memory, so
// it caps every container at 3 files of 10 MiB, Docker's own documented
// example (`--log-opt max-size=10m --log-opt max-file=3`). A noisy container
// then holds at most about 30 MiB of RAM, and `logs` still shows its latest
// output.
const (
	defaultLogMaxSize = 10 << 20
	defaultLogMaxFile = 3
)

// applySecurity checks and records run's capability, sysctl, security-opt
// and log options. It changes nothing but c, so a refusal leaves no trace.
func applySecurity(c *Container, o api.RunOptions) error {
	add, err := container.NormalizeCaps(o.CapAdd)
	if err != nil {
		return fmt.Errorf("invalid CapAdd: %w", err)
	}
	drop, err := container.NormalizeCaps(o.CapDrop)
	if err != nil {
		return fmt.Errorf("invalid CapDrop: %w", err)
	}
	c.CapAdd, c.CapDrop, c.Privileged = add, drop, o.Privileged
	for i, opt := range o.SecurityOpt {
		k, v, _ := strings.Cut(opt, "=")
		if !strings.Contains(opt, "=") {
			k, v, _ = strings.Cut(opt, ":")
		}
		if k != "no-new-privileges" {
			return fmt.Errorf("invalid --security-opt %d: %q (nslab supports no-new-privileges only)", i+1, opt)
		}
		nnp := true
		if v != "" {
			if nnp, err = strconv.ParseBool(v); err != nil {
				return fmt.Errorf("invalid --security-opt %d: %q", i+1, opt)
			}
		}
		c.NoNewPrivileges = nnp
	}
	c.SecurityOpt = o.SecurityOpt
	for _, kv := range o.Sysctls {
		k, v, err := container.ValidSysctl(kv)
		if err != nil {
			return err
		}
		if c.NetworkMode == "host" && strings.HasPrefix(k, "net.") {
			return fmt.Errorf("sysctl %q not allowed in host network namespace", k)
		}
		if c.Sysctls == nil {
			c.Sysctls = map[string]string{}
		}
		c.Sysctls[k] = v
	}
	c.LogMaxSize, c.LogMaxFile = defaultLogMaxSize, defaultLogMaxFile
	c.LogConfig = map[string]string{}
	for _, kv := range o.LogOpts {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("invalid log opt format: %q: want KEY=VALUE", kv)
		}
		switch k {
		case "max-size":
			n, err := ramInBytes(v)
			if err != nil {
				return err
			}
			c.LogMaxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("invalid max-file %q: %w", v, err)
			}
			if n < 1 {
				return fmt.Errorf("max-file cannot be less than 1")
			}
			c.LogMaxFile = n
		default:
			return fmt.Errorf("unknown log opt '%s' for json-file log driver", k)
		}
		c.LogConfig[k] = v
	}
	return nil
}

// security is what the container's processes, and exec's, may do.
func (c *Container) security() container.Security {
	return container.Security{
		Privileged:      c.Privileged,
		Caps:            container.Capabilities(c.CapAdd, c.CapDrop),
		NoNewPrivileges: c.NoNewPrivileges,
		User:            c.user,
	}
}

var sizeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$`) })

// ramInBytes is go-units' RAMInBytes, which json-file's max-size uses:
// binary multiples, so 10m is 10 MiB.
func ramInBytes(s string) (int64, error) {
	m := sizeRE().FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("invalid size: '%s'", s)
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size: '%s'", s)
	}
	mult := int64(1)
	if m[2] != "" {
		mult = 1 << (10 * (strings.Index("kmgtp", strings.ToLower(m[2])) + 1))
	}
	n := int64(f * float64(mult))
	if n <= 0 {
		return 0, fmt.Errorf("invalid size: '%s'", s)
	}
	return n, nil
}
