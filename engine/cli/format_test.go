package cli

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nslab/nslab/engine/api"
)

// psRows are four containers, newest first as sortPs leaves them.
func psRows(t0 time.Time) []api.PsEntry {
	return []api.PsEntry{
		{ID: "aaaa1111" + strings.Repeat("0", 56), Names: "web", Image: "multitool", ImageID: "sha256:" + strings.Repeat("m", 64),
			Running: true, State: "running", Created: t0.Add(3 * time.Second), Started: t0.Add(3 * time.Second),
			Networks: map[string]string{"mynet": "ne7" + strings.Repeat("1", 61)}, Command: "nginx -g 'daemon off;'"},
		{ID: "aaaa2222" + strings.Repeat("0", 56), Names: "db", Image: "mysql", ImageID: "sha256:" + strings.Repeat("s", 64),
			Running: true, State: "running", Created: t0.Add(2 * time.Second), Started: t0.Add(2 * time.Second),
			Networks: map[string]string{"mynet": "ne7" + strings.Repeat("1", 61), "bridge": "b0" + strings.Repeat("2", 62)}},
		{ID: "bbbb3333" + strings.Repeat("0", 56), Names: "three", Image: "busybox", ImageID: "sha256:" + strings.Repeat("b", 64),
			State: "exited", ExitCode: 3, Created: t0.Add(time.Second), Started: t0.Add(time.Second), Finished: t0.Add(time.Second),
			Networks: map[string]string{"bridge": "b0" + strings.Repeat("2", 62)}, Command: "sh -c 'exit 3'"},
		{ID: "cccc4444" + strings.Repeat("0", 56), Names: "fresh", Image: "busybox", ImageID: "sha256:" + strings.Repeat("b", 64),
			State: "created", Created: t0},
	}
}

var psImages = []api.ImageEntry{
	{Repository: "busybox", Tag: "latest", ID: "sha256:" + strings.Repeat("b", 64)},
	{Repository: "multitool", Tag: "latest", ID: "sha256:" + strings.Repeat("m", 64)},
	{Repository: "wbitt/network-multitool", Tag: "latest", ID: "sha256:" + strings.Repeat("m", 64)},
}

func names(rows []api.PsEntry) string {
	var n []string
	for _, r := range rows {
		n = append(n, r.Names)
	}
	return strings.Join(n, " ")
}

// TestPsFilters: Docker's ps filters, values of one key OR, keys AND,
// label values AND; stopped containers only with -a, a status filter or a
// limit.
func TestPsFilters(t *testing.T) {
	labels := map[string]map[string]string{
		"aaaa1111" + strings.Repeat("0", 56): {"tier": "front", "team": "a"},
		"aaaa2222" + strings.Repeat("0", 56): {"tier": "back"},
	}
	for _, tc := range []struct {
		filters []string
		all     bool
		limit   int
		want    string
	}{
		{nil, false, -1, "web db"},
		{nil, true, -1, "web db three fresh"},
		{nil, false, 1, "web"},
		{nil, false, 3, "web db three"},
		{[]string{"name=web"}, false, -1, "web"},
		{[]string{"name=e"}, true, -1, "web three fresh"}, // a regular expression, unanchored
		{[]string{"name=^/db$"}, false, -1, "db"},         // also against /NAME
		{[]string{"name=web", "name=db"}, false, -1, "web db"},
		{[]string{"id=aaaa"}, true, -1, ""}, // an ambiguous prefix matches nothing
		{[]string{"id=aaaa1"}, true, -1, "web"},
		{[]string{"id=bbbb", "id=cccc"}, true, -1, "three fresh"},
		{[]string{"status=exited"}, false, -1, "three"},
		{[]string{"status=exited", "status=created"}, false, -1, "three fresh"},
		{[]string{"status=running", "name=three"}, true, -1, ""},
		{[]string{"exited=3"}, true, -1, "three"},
		{[]string{"exited=0"}, true, -1, ""},
		{[]string{"network=mynet"}, false, -1, "web db"},
		{[]string{"network=b0222"}, true, -1, "db three"}, // by an ID prefix
		{[]string{"network=mynet", "network=bridge"}, true, -1, "web db three"},
		{[]string{"network=mynet", "status=exited"}, true, -1, ""},
		{[]string{"ancestor=busybox"}, true, -1, "three fresh"},
		{[]string{"ancestor=busybox:latest"}, true, -1, "three fresh"},
		{[]string{"ancestor=wbitt/network-multitool"}, true, -1, "web"},
		{[]string{"ancestor=sha256:ssss"}, true, -1, ""},
		{[]string{"ancestor=mmmm"}, true, -1, "web"},
		{[]string{"ancestor=nosuchimage"}, true, -1, ""},
		{[]string{"label=tier"}, true, -1, "web db"},
		{[]string{"label=tier=back"}, true, -1, "db"},
		{[]string{"label=tier", "label=team=a"}, true, -1, "web"}, // labels AND
		{[]string{"before=db"}, true, -1, "three fresh"},
		{[]string{"since=three"}, true, -1, "web db"},
		{[]string{"health=none"}, false, -1, "web db"},
		{[]string{"health=healthy"}, false, -1, ""},
		{[]string{"is-task=false"}, false, -1, "web db"},
		{[]string{"status=exited"}, false, 1, "three"},
	} {
		fo := newFilterOpt()
		for _, f := range tc.filters {
			if err := fo.Set(f); err != nil {
				t.Fatal(err)
			}
		}
		rows := psRows(time.Now())
		pf, err := foldPsFilter(fo.args, rows, psImages)
		if err != nil {
			t.Errorf("%v: %v", tc.filters, err)
			continue
		}
		if got := names(pf.apply(rows, tc.all, tc.limit, labels)); got != tc.want {
			t.Errorf("ps %v all=%v limit=%d: %q, want %q", tc.filters, tc.all, tc.limit, got, tc.want)
		}
	}
}

// TestPsFilterRefusals: what the daemon refuses, in its words.
func TestPsFilterRefusals(t *testing.T) {
	for _, tc := range []struct{ filter, want string }{
		{"foo=bar", "invalid filter 'foo'"},
		{"Names=web", "invalid filter 'names'"},
		{"status=sleeping", "Invalid filter 'status=sleeping'"},
		{"exited=x", `strconv.Atoi: parsing "x": invalid syntax`},
		{"health=ok", "Unrecognised filter value for health: ok"},
		{"before=nosuch", "No such container: nosuch"},
		{"publish=80", "the publish filter is not supported by nslab"},
	} {
		fo := newFilterOpt()
		if err := fo.Set(tc.filter); err != nil {
			t.Fatal(err)
		}
		_, err := foldPsFilter(fo.args, psRows(time.Now()), psImages)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("-f %s: %v, want %q", tc.filter, err, tc.want)
		}
		if strings.HasPrefix(tc.want, "the ") != !api.IsDaemonError(err) {
			t.Errorf("-f %s: daemon error %v, want it to be one only when Docker's daemon says it", tc.filter, api.IsDaemonError(err))
		}
	}
	fo := newFilterOpt()
	if err := fo.Set("foo"); !errors.Is(err, errBadFilterFormat) {
		t.Errorf("-f foo: %v, want %v", err, errBadFilterFormat)
	}
	if err := fo.Set(" Name = web "); err != nil || !fo.args["name"]["web"] {
		t.Errorf("-f ' Name = web ': %v %v, want name=web", err, fo.args)
	}
}

func TestNetworkFilters(t *testing.T) {
	nets := []api.NetworkSummary{
		{ID: "b0" + strings.Repeat("2", 62), Name: "bridge", Driver: "bridge", Scope: "local"},
		{ID: "h0" + strings.Repeat("3", 62), Name: "host", Driver: "host", Scope: "local"},
		{ID: "ne7" + strings.Repeat("1", 61), Name: "mynet", Driver: "bridge", Scope: "local"},
		{ID: "e0" + strings.Repeat("4", 62), Name: "empty", Driver: "bridge", Scope: "local"},
		{ID: "n0" + strings.Repeat("5", 62), Name: "none", Driver: "null", Scope: "local"},
	}
	inUse := map[string]bool{"mynet": true}
	for _, tc := range []struct {
		filters []string
		want    string
	}{
		{nil, "bridge host mynet empty none"},
		{[]string{"driver=bridge"}, "bridge mynet empty"},
		{[]string{"driver=bridge", "driver=null"}, "bridge mynet empty none"},
		{[]string{"name=net"}, "mynet"},
		{[]string{"id=ne7"}, "mynet"},
		{[]string{"type=custom"}, "mynet empty"},
		{[]string{"type=builtin"}, "bridge host none"},
		{[]string{"type=custom", "driver=null"}, ""},
		{[]string{"scope=local", "name=^h"}, "host"},
		{[]string{"scope=global"}, ""},
		{[]string{"label=x"}, ""},
		{[]string{"dangling=true"}, "empty"},
		{[]string{"dangling=0"}, "bridge host mynet none"},
	} {
		fo := newFilterOpt()
		for _, f := range tc.filters {
			fo.Set(f)
		}
		got, err := filterNetworks(fo.args, nets, inUse)
		if err != nil {
			t.Errorf("%v: %v", tc.filters, err)
			continue
		}
		var n []string
		for _, r := range got {
			n = append(n, r.Name)
		}
		if strings.Join(n, " ") != tc.want {
			t.Errorf("network ls %v: %q, want %q", tc.filters, strings.Join(n, " "), tc.want)
		}
	}
	for f, want := range map[string]string{
		"foo=1": "invalid filter 'foo'", "type=weird": "invalid filter: 'type'='weird'",
		"dangling=maybe": "invalid value for filter 'dangling'",
	} {
		fo := newFilterOpt()
		fo.Set(f)
		if _, err := filterNetworks(fo.args, nets, inUse); err == nil || !strings.Contains(err.Error(), want) || !api.IsDaemonError(err) {
			t.Errorf("-f %s: %v, want the daemon's %q", f, err, want)
		}
	}
}

// TestListFormats: the default table, "table TEMPLATE" with headers,
// "json", a bare template with \t, --no-trunc, Docker's functions.
func TestListFormats(t *testing.T) {
	t0 := time.Now()
	rows := psRows(t0.Add(-90 * time.Second))
	ctx := func(trunc bool) []any {
		var out []any
		for _, r := range rows[:3] {
			out = append(out, &ContainerContext{c: r, trunc: trunc, now: t0, labels: map[string]string{"b": "2", "a": "1"}})
		}
		return out
	}
	for _, tc := range []struct {
		format string
		trunc  bool
		want   string
	}{
		{"{{.Names}}", true, "web\ndb\nthree\n"},
		{`{{.Names}}\t{{.State}}`, true, "web\trunning\ndb\trunning\nthree\texited\n"},
		{"table {{.Names}}\t{{.Networks}}", true,
			"NAMES     NETWORKS\nweb       mynet\ndb        bridge,mynet\nthree     bridge\n"},
		{"table {{.ID}}\t{{.Command}}", true,
			"CONTAINER ID   COMMAND\naaaa11110000   \"nginx -g 'daemon of…\"\naaaa22220000   \"\"\nbbbb33330000   \"sh -c 'exit 3'\"\n"},
		{"{{.ID}} {{.Command}}", false, "aaaa1111" + strings.Repeat("0", 56) + " \"nginx -g 'daemon off;'\"\n" +
			"aaaa2222" + strings.Repeat("0", 56) + " \"\"\nbbbb3333" + strings.Repeat("0", 56) + " \"sh -c 'exit 3'\"\n"},
		{"{{.Status}}|{{.RunningFor}}", true, "Up About a minute|About a minute ago\nUp About a minute|About a minute ago\nExited (3) About a minute ago|About a minute ago\n"},
		{`{{.Labels}} {{.Label "b"}} {{upper .Names}} {{join (split .Names "e") "-"}} {{json .State}}`, true,
			"a=1,b=2 2 WEB w-b \"running\"\na=1,b=2 2 DB db \"running\"\na=1,b=2 2 THREE thr-- \"exited\"\n"},
	} {
		lf, err := newListFormat(tc.format, defaultPsTable)
		if err != nil {
			t.Fatalf("%s: %v", tc.format, err)
		}
		var b bytes.Buffer
		if err := lf.write(&b, psHeader, ctx(tc.trunc)); err != nil {
			t.Fatalf("%s: %v", tc.format, err)
		}
		if b.String() != tc.want {
			t.Errorf("--format %q printed\n%q\nwant\n%q", tc.format, b.String(), tc.want)
		}
	}
	// json: one object per row, every field, as Docker's marshalJSON.
	lf, _ := newListFormat("json", defaultPsTable)
	var b bytes.Buffer
	lf.write(&b, psHeader, ctx(true)[2:])
	want := `{"Command":"\"sh -c 'exit 3'\"","CreatedAt":"` + time.Unix(rows[2].Created.Unix(), 0).String() +
		`","ID":"bbbb33330000","Image":"busybox","Labels":"a=1,b=2","LocalVolumes":"0","Mounts":"","Names":"three","Networks":"bridge","Ports":"","RunningFor":"About a minute ago","Size":"0B","State":"exited","Status":"Exited (3) About a minute ago"}` + "\n"
	if b.String() != want {
		t.Errorf("--format json printed\n%s\nwant\n%s", b.String(), want)
	}
	// The default table and "table" alone are the same.
	var def, table bytes.Buffer
	lf, _ = newListFormat("", defaultPsTable)
	lf.write(&def, psHeader, ctx(true))
	lf, _ = newListFormat("table", defaultPsTable)
	lf.write(&table, psHeader, ctx(true))
	if def.String() != table.String() || !strings.HasPrefix(def.String(), "CONTAINER ID   IMAGE       COMMAND                  CREATED              STATUS ") {
		t.Errorf("default table\n%s\n'table'\n%s", def.String(), table.String())
	}
	// An empty list still has its header.
	b.Reset()
	lf, _ = newListFormat("", defaultNetworkTable)
	lf.write(&b, networkHeader, nil)
	if b.String() != "NETWORK ID   NAME      DRIVER    SCOPE\n" {
		t.Errorf("empty network ls: %q", b.String())
	}
	if _, err := newListFormat("{{.Name", defaultNetworkTable); err == nil || err.Error() != "template parsing error: template: :1: unclosed action" {
		t.Errorf("bad template: %v", err)
	}
	lf, _ = newListFormat("{{.Nope}}", defaultNetworkTable)
	err := lf.write(io.Discard, networkHeader, []any{&NetworkContext{}})
	if err == nil || !strings.Contains(err.Error(), `template parsing error: template: :1:2: executing "" at <.Nope>: can't evaluate field Nope`) {
		t.Errorf("unknown field: %v", err)
	}
}

// TestCLIRefusals: flag and usage errors as Docker 24's CLI gives them,
// refused before any daemon is asked (these run with no lab host).
func TestCLIRefusals(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run", "--foo", "busybox"}, 125, "unknown flag: --foo\nSee 'nslab run --help'."},
		{[]string{"ps", "--bogus"}, 125, "unknown flag: --bogus\nSee 'nslab ps --help'."},
		{[]string{"container", "ls", "-z"}, 125, "unknown shorthand flag: 'z' in -z\nSee 'nslab container ls --help'."},
		{[]string{"network", "ls", "--nope"}, 125, "unknown flag: --nope\nSee 'nslab network ls --help'."},
		{[]string{"ps", "-f", "foo"}, 125, `invalid argument "foo" for "-f, --filter" flag: bad format of filter (expected name=value)` + "\nSee 'nslab ps --help'."},
		{[]string{"ps", "-n", "x"}, 125, `invalid argument "x" for "-n, --last" flag`},
		{[]string{"ps", "--format", "{{.Names"}, 1, "failed to parse template: template: :1: unclosed action"},
		{[]string{"container", "list", "--format", "{{.Nope}}"}, 1, `failed to execute template: template: :1:2: executing "" at <.Nope>: can't evaluate field Nope in type *cli.ContainerContext`},
		{[]string{"version", "--format", "{{.Client"}, 64, "template parsing error: template: version:1: unclosed action"},
		{[]string{"info", "--format", "{{.Containers"}, 64, "template parsing error: template: :1: unclosed action"},
		{[]string{"run"}, 1, "\"nslab run\" requires at least 1 argument.\nSee 'nslab run --help'.\n\nUsage:  nslab run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nCreate and start a container"},
		{[]string{"ps", "x"}, 1, "\"nslab ps\" accepts no arguments.\nSee 'nslab ps --help'."},
		{[]string{"container", "inspect"}, 1, "\"nslab container inspect\" requires at least 1 argument."},
		{[]string{"network", "connect", "a"}, 1, "\"nslab network connect\" requires exactly 2 arguments."},
		{[]string{"port", "a", "b", "c"}, 1, "\"nslab port\" requires at least 1 and at most 2 arguments."},
	} {
		root := newRoot()
		root.SetArgs(tc.args)
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		_, err := root.ExecuteC()
		se, ok := isStatus(err)
		if !ok || se.code != tc.code || !strings.HasPrefix(se.status, tc.want) {
			t.Errorf("nslab %q: %v (code %d), want status %d and %q", tc.args, err, se.code, tc.code, tc.want)
		}
	}
	root := newRoot()
	if err := unknownCommand(root, []string{"bogus"}); err.Error() != "nslab: 'bogus' is not a nslab command.\nSee 'nslab --help'" {
		t.Errorf("unknown command: %q", err)
	}
}

// TestRunErrorStatus: docker run's status for a container that could not
// start, from the daemon's message, as runStartContainerErr decides.
func TestRunErrorStatus(t *testing.T) {
	oci := "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: "
	for _, tc := range []struct {
		err  error
		code int
		want string
	}{
		{&api.Error{Msg: oci + `exec: "nope": executable file not found in $PATH: unknown`}, 127,
			`nslab: Error response from daemon: ` + oci + `exec: "nope": executable file not found in $PATH: unknown.`},
		{&api.Error{Msg: oci + `exec: "/etc": permission denied: unknown`}, 126, ""},
		{&api.Error{Msg: "No such image: postgres:latest"}, 125,
			"nslab: Error response from daemon: No such image: postgres:latest.\nSee 'nslab run --help'."},
		{errors.New("not inside a lab host"), 125, "nslab: not inside a lab host."},
	} {
		se, _ := isStatus(runError(tc.err))
		if se.code != tc.code || tc.want != "" && se.status != tc.want {
			t.Errorf("run error %q: status %d %q, want %d %q", tc.err, se.code, se.status, tc.code, tc.want)
		}
	}
}

// TestVersionTemplate: the default version output is Docker's layout,
// naming nslab, with the kernel; --format sees Docker's fields.
func TestVersionTemplate(t *testing.T) {
	info := VersionInfo{Client: clientVersion(), Server: serverVersion()}
	for format, want := range map[string]string{
		defaultVersionTemplate:      "Client: nslab\n Version:\t",
		"{{.Server.Platform.Name}}": "nslab Engine",
		"{{.Client.APIVersion}}":    "1.43",
		"{{.Server.KernelVersion}}": kernelRelease(),
		"{{json .Client.Os}}":       `"linux"`,
	} {
		tmpl, err := parseTemplate("version", format)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := tmpl.Execute(&b, info); err != nil || !strings.HasPrefix(b.String(), want) {
			t.Errorf("%q: %q, %v; want %q", format, b.String(), err, want)
		}
	}
	var b bytes.Buffer
	tmpl, _ := parseTemplate("version", defaultVersionTemplate)
	tmpl.Execute(&b, info)
	for _, line := range []string{"Server: nslab Engine", " Engine:", "  Kernel:", "  Go version:"} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("version lacks %q:\n%s", line, b.String())
		}
	}
	if got := bytesSize(4113301504); got != "3.831GiB" {
		t.Errorf("bytesSize = %s, want go-units' 3.831GiB", got)
	}
}
