package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// envFlag is -e/--env as Docker's CLI parses it (opts.ValidateEnv): KEY=VALUE
// as given, a bare KEY takes the caller's value if it has one (else it stays
// bare and unsets KEY in the container), and an empty KEY is refused.
type envFlag struct{ vals *[]string }

func (e envFlag) String() string { return "[" + strings.Join(*e.vals, " ") + "]" }
func (e envFlag) Type() string   { return "list" }
func (e envFlag) Set(val string) error {
	v, err := validateEnv(val)
	if err != nil {
		return err
	}
	*e.vals = append(*e.vals, v)
	return nil
}

func validateEnv(val string) (string, error) {
	k, _, hasValue := strings.Cut(val, "=")
	if k == "" {
		return "", errors.New("invalid environment variable: " + val)
	}
	if hasValue {
		return val, nil
	}
	if v, ok := os.LookupEnv(k); ok {
		return k + "=" + v, nil
	}
	return val, nil
}

// readEnvFiles is Docker's opts.ReadKVEnvStrings: the lines of each
// --env-file, then the -e values.
func readEnvFiles(files, env []string) ([]string, error) {
	var out []string
	for _, f := range files {
		lines, err := parseEnvFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, lines...)
	}
	return append(out, env...), nil
}

// parseEnvFile reads an env file as Docker's CLI does (opts.parseKeyValueFile):
// blank lines and lines starting with # are skipped, leading white space is
// dropped, a name may not contain white space, and a bare name takes the
// caller's value.
func parseEnvFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if n == 1 {
			line = bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
		}
		if !utf8.Valid(line) {
			return nil, fmt.Errorf("env file %s contains invalid utf8 bytes at line %d: %v", path, n, line)
		}
		s := strings.TrimLeftFunc(string(line), unicode.IsSpace)
		if s == "" || s[0] == '#' {
			continue
		}
		name, value, hasValue := strings.Cut(s, "=")
		if strings.ContainsAny(name, " \t\n\v\f\r") {
			return nil, fmt.Errorf("poorly formatted environment: variable '%s' contains whitespaces", name)
		}
		if name == "" {
			return nil, fmt.Errorf("poorly formatted environment: no variable name on line '%s'", s)
		}
		switch {
		case hasValue:
			out = append(out, name+"="+value)
		default:
			if v, ok := os.LookupEnv(name); ok {
				out = append(out, name+"="+v)
			} else {
				out = append(out, name)
			}
		}
	}
	return out, sc.Err()
}
