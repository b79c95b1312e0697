package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// stderrOf runs fn with os.Stderr redirected and returns what it wrote.
func stderrOf(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	fn()
	os.Stderr = old
	w.Close()
	return string(<-done)
}

// TestNetworkUnknownSubcommand: `network bogus`, `network -` and
// `network --` are usage errors that exit 1 (they exited 0 with help), and
// the message names what was wrong. No daemon is reached: no state change.
func TestNetworkUnknownSubcommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, "network: 'bogus' is not a"},
		{[]string{"-"}, "network: '-' is not a"},
		{[]string{"--"}, "network: '--' is not a"},
		{[]string{"--", "ls"}, "network: 'ls' is not a"},
	} {
		var err error
		out := stderrOf(t, func() {
			c := networkCmd()
			c.SetArgs(tc.args)
			c.SetOut(io.Discard)
			err = c.Execute()
		})
		var ee exitError
		if !errors.As(err, &ee) || ee.code != 1 {
			t.Errorf("network %q: err = %v, want exit status 1", tc.args, err)
		}
		if !strings.Contains(out, tc.want) || !strings.Contains(out, "network --help") {
			t.Errorf("network %q: stderr = %q, want it to contain %q and point to --help", tc.args, out, tc.want)
		}
	}
	c := networkCmd()
	c.SetArgs(nil)
	c.SetOut(io.Discard)
	if err := c.Execute(); err != nil {
		t.Errorf("network with no command: %v, want help and exit 0 as Docker", err)
	}
}

// TestInspectLenOfMissingField: the builtin len said "reflect: call of
// reflect.Value.Type on zero Value" for a null field; a missing one is
// Docker's missingkey=error, which names the key.
func TestInspectLenOfMissingField(t *testing.T) {
	raw := []json.RawMessage{json.RawMessage(`{"L":[1,2],"M":{"a":1},"S":"abc","N":null}`)}
	var out bytes.Buffer
	if errs, err := printInspect(&out, raw, "{{len .L}} {{len .M}} {{len .S}}"); err != nil || errs != nil || out.String() != "2 1 3\n" {
		t.Errorf("len of present fields = %q, %v %v; want \"2 1 3\\n\"", out.String(), errs, err)
	}
	for f, want := range map[string]string{
		"{{len .Missing}}": `map has no entry for key "Missing"`,
		"{{len .N}}":       "the field is missing or null",
	} {
		errs, err := printInspect(io.Discard, raw, f)
		if err != nil || len(errs) != 1 || strings.Contains(errs[0], "reflect") || !strings.Contains(errs[0], want) {
			t.Errorf("%s: errors %q, %v; want one saying %q", f, errs, err, want)
		}
	}
}

func TestCheckGatewayDockerMessages(t *testing.T) {
	for _, tc := range []struct{ subnet, gw, want string }{
		{"10.125.0.0/16", "10.126.0.1", "no matching subnet for gateway 10.126.0.1"},
		{"", "10.126.0.1", "every ip-range or gateway must have a corresponding subnet"},
		{"10.125.0.0/16", "10.125.0.1", ""},
		{"10.125.0.0/16", "", ""},
	} {
		err := checkGateway(tc.subnet, tc.gw)
		if (err == nil) != (tc.want == "") || err != nil && err.Error() != tc.want {
			t.Errorf("checkGateway(%q, %q) = %v, want %q", tc.subnet, tc.gw, err, tc.want)
		}
	}
}

func TestCheckIPAMDockerMessages(t *testing.T) {
	for _, tc := range []struct {
		subnet, ipRange string
		aux             []string
		want            string
	}{
		{"10.1.0.0/24", "10.2.0.0/25", nil, "no matching subnet for range 10.2.0.0/25"},
		{"10.1.0.0/24", "10.1.0.0/16", nil, "no matching subnet for range 10.1.0.0/16"},
		{"", "10.2.0.0/25", nil, "every ip-range or gateway must have a corresponding subnet"},
		{"10.4.0.0/24", "10.4.0.0/33", nil, "invalid CIDR address: 10.4.0.0/33"},
		{"10.1.0.0/24", "", []string{"x=10.2.0.5"}, "no matching subnet for aux-address 10.2.0.5"},
		{"10.1.0.0/24", "", []string{"x=bad"}, "no matching subnet for aux-address bad"},
		{"", "", []string{"x=10.1.0.5"}, "no matching subnet for aux-address 10.1.0.5"},
		{"10.1.0.0/24", "", []string{"x10.1.0.5"}, `invalid --aux-address "x10.1.0.5": want NAME=IP, such as router=192.168.1.1`},
		{"10.1.0.0/24", "10.1.0.128/25", []string{"a=10.1.0.7", "a=10.1.0.8"}, ""},
	} {
		m, err := checkIPAM(tc.subnet, tc.ipRange, tc.aux)
		if (err == nil) != (tc.want == "") || err != nil && err.Error() != tc.want {
			t.Errorf("checkIPAM(%q, %q, %q) = %v, want %q", tc.subnet, tc.ipRange, tc.aux, err, tc.want)
		}
		if tc.want == "" && m["a"] != "10.1.0.8" {
			t.Errorf("checkIPAM kept aux %v; want the last a=, as Docker", m)
		}
	}
}

func TestHostFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		node string
		rest string
		err  bool
	}{
		{[]string{"-H", "node2", "ps", "-a"}, "node2", "ps -a", false},
		{[]string{"--host", "node2", "ps"}, "node2", "ps", false},
		{[]string{"--host=node3", "ps"}, "node3", "ps", false},
		{[]string{"-Hnode2", "ps"}, "node2", "ps", false},
		{[]string{"-H=node2", "ps"}, "node2", "ps", false},
		{[]string{"ps", "-H", "x"}, "", "ps -H x", false},
		{[]string{"-H"}, "", "-H", true},
		{nil, "", "", false},
	} {
		node, rest, err := hostFlag(tc.args)
		if node != tc.node || strings.Join(rest, " ") != tc.rest || (err != nil) != tc.err {
			t.Errorf("hostFlag(%q) = %q, %q, %v; want %q, %q, error %v", tc.args, node, rest, err, tc.node, tc.rest, tc.err)
		}
	}
}
