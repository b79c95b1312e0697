package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nslab/nslab/engine/api"
)

func TestQuoteCommand(t *testing.T) {
	for in, want := range map[string]string{
		"sleep 1000":                   `"sleep 1000"`,
		"":                             `""`,
		"1234567890123456789":          `"1234567890123456789"`,
		"12345678901234567890":         `"12345678901234567890"`, // 20 fit (formatter.Ellipsis)
		"123456789012345678901":        `"1234567890123456789…"`,
		"sh -c 'exit 3'":               `"sh -c 'exit 3'"`,
		`echo "hi"`:                    `"echo \"hi\""`, // strconv.Quote, as Docker
		"sh -c while true; do :; done": `"sh -c while true; d…"`,
		"héllo wörld ünïcode lines":    `"héllo wörld ünïcode…"`,
	} {
		if got := quoteCommand(in); got != want {
			t.Errorf("quoteCommand(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestHumanDuration(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{500 * time.Millisecond, "Less than a second"},
		{time.Second, "1 second"},
		{59 * time.Second, "59 seconds"},
		{60 * time.Second, "About a minute"},
		{119 * time.Second, "About a minute"},
		{2 * time.Minute, "2 minutes"},
		{59 * time.Minute, "59 minutes"},
		{60 * time.Minute, "About an hour"},
		{89 * time.Minute, "About an hour"},
		{90 * time.Minute, "2 hours"},
		{47 * time.Hour, "47 hours"},
		{48 * time.Hour, "2 days"},
	} {
		if got := humanDuration(c.d); got != c.want {
			t.Errorf("humanDuration(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

// ps lists the newest container first, as Docker does.
func TestSortPs(t *testing.T) {
	t0 := time.Now()
	rows := []api.PsEntry{{ID: "old", Created: t0}, {ID: "new", Created: t0.Add(2 * time.Second)}, {ID: "mid", Created: t0.Add(time.Second)}}
	sortPs(rows)
	var got []string
	for _, r := range rows {
		got = append(got, r.ID)
	}
	if strings.Join(got, " ") != "new mid old" {
		t.Fatalf("ps order %v, want new mid old", got)
	}
}

var inspectObjs = []json.RawMessage{
	json.RawMessage(`{"Name":"/web","State":{"Running":true,"Pid":42},"Config":{"Cmd":["sleep","1000"]},"NetworkSettings":{"Networks":{"bridge":{"IPAddress":"172.17.0.2"}}}}`),
	json.RawMessage(`{"Name":"/db","State":{"Running":false,"Pid":0},"Config":{"Cmd":null},"NetworkSettings":{"Networks":{}}}`),
}

// Without -f, inspect prints a JSON array indented by four spaces.
func TestPrintInspectJSON(t *testing.T) {
	var b bytes.Buffer
	if _, err := printInspect(&b, inspectObjs[:1], ""); err != nil {
		t.Fatal(err)
	}
	want := `[
    {
        "Name": "/web",
        "State": {
            "Running": true,
            "Pid": 42
        },
        "Config": {
            "Cmd": [
                "sleep",
                "1000"
            ]
        },
        "NetworkSettings": {
            "Networks": {
                "bridge": {
                    "IPAddress": "172.17.0.2"
                }
            }
        }
    }
]
`
	if b.String() != want {
		t.Fatalf("inspect printed\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if _, err := printInspect(&b, nil, ""); err != nil || b.String() != "[]\n" {
		t.Fatalf("inspect of nothing printed %q, %v", b.String(), err)
	}
}

// -f runs a Go template per object over the JSON, with Docker's functions.
func TestPrintInspectTemplate(t *testing.T) {
	for format, want := range map[string]string{
		"{{.Name}} {{.State.Pid}}":                                                 "/web 42\n/db 0\n",
		"{{json .Config.Cmd}}":                                                     "[\"sleep\",\"1000\"]\nnull\n",
		"{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}":                 "172.17.0.2\n\n",
		"{{upper .Name}}|{{lower \"AB\"}}|{{title \"ab cd\"}}":                     "/WEB|ab|Ab Cd\n/DB|ab|Ab Cd\n",
		"{{join (split .Name \"/\") \"-\"}}":                                       "-web\n-db\n",
		"{{with index .NetworkSettings.Networks \"bridge\"}}{{.IPAddress}}{{end}}": "172.17.0.2\n\n",
		"{{if .State.Running}}up{{else}}down{{end}}":                               "up\ndown\n",
	} {
		var b bytes.Buffer
		if errs, err := printInspect(&b, inspectObjs, format); err != nil || errs != nil {
			t.Errorf("-f %q: %v %v", format, err, errs)
			continue
		}
		if b.String() != want {
			t.Errorf("-f %q printed %q, want %q", format, b.String(), want)
		}
	}
	var b bytes.Buffer
	if _, err := printInspect(&b, inspectObjs, "{{.Name"); err == nil || !strings.Contains(err.Error(), "template parsing error") {
		t.Fatalf("bad template: %v", err)
	}
}

// Templates run on Docker's typed structs first, as Docker's CLI does: a
// documented field the JSON omits (omitempty) has its Go zero value, not
// <no value>. A key that is no field runs again on the maps with
// missingkey=error, and Docker's error names it; the object prints
// nothing. With nothing printed, the output is one empty line.
func TestPrintInspectTyped(t *testing.T) {
	objs := []json.RawMessage{
		json.RawMessage(`{"Name":"/web","State":{"Running":true},"HostConfig":{},"Config":{"Env":[]},"NetworkSettings":{"Networks":{"bridge":{"IPAddress":"172.17.0.2"}}}}`),
		json.RawMessage(`{"Name":"/db","State":{"Running":false},"HostConfig":{},"Config":{"Env":null},"NetworkSettings":{"Networks":{}}}`),
	}
	for format, want := range map[string]string{
		"{{.State.Health}}|{{.Config.StopSignal}}|{{.HostConfig.Init}}|{{.SizeRw}}": "<nil>||<nil>|<nil>\n<nil>||<nil>|<nil>\n",
		"{{.Config.ExposedPorts}}|{{.HostConfig.Sysctls}}|{{len .Config.Env}}":      "map[]|map[]|0\nmap[]|map[]|0\n",
		"{{.NetworkSettings.Networks}}":                                             "map[bridge:{<nil> [] []    172.17.0.2 0   0  map[]}]\nmap[]\n",
	} {
		var b bytes.Buffer
		if errs, err := printInspect(&b, objs, format); err != nil || errs != nil {
			t.Errorf("-f %q: %v %v", format, err, errs)
			continue
		}
		if b.String() != want {
			t.Errorf("-f %q printed %q, want %q", format, b.String(), want)
		}
	}
	var b bytes.Buffer
	errs, err := printInspect(&b, objs, "{{.Config.Bogus}}")
	want := `template parsing error: template: :1:9: executing "" at <.Config.Bogus>: map has no entry for key "Bogus"`
	if err != nil || len(errs) != 2 || errs[0] != want || b.String() != "\n" {
		t.Fatalf("-f {{.Config.Bogus}}: printed %q, errors %q, %v; want one empty line and %q twice", b.String(), errs, err, want)
	}
	b.Reset()
	if _, err := printInspect(&b, nil, "{{.Id}}"); err != nil || b.String() != "\n" {
		t.Fatalf("-f of nothing printed %q, %v", b.String(), err)
	}
}

// run's flags stop at the image: what follows is the container's command,
// flags and all, as with docker run.
func TestRunFlags(t *testing.T) {
	c := runCmd()
	if err := c.ParseFlags([]string{"-d", "--name", "web", "-p", "8080:80", "-p", "53/udp", "--network-alias", "a,b", "busybox", "ls", "-l", "--name", "x"}); err != nil {
		t.Fatal(err)
	}
	f := c.Flags()
	name, _ := f.GetString("name")
	detach, _ := f.GetBool("detach")
	publish, _ := f.GetStringArray("publish")
	aliases, _ := f.GetStringSlice("network-alias")
	if name != "web" || !detach || strings.Join(publish, " ") != "8080:80 53/udp" || strings.Join(aliases, " ") != "a b" {
		t.Fatalf("name %q detach %v publish %q aliases %q", name, detach, publish, aliases)
	}
	if args := f.Args(); strings.Join(args, " ") != "busybox ls -l --name x" {
		t.Fatalf("args %q, want the image and its command untouched", args)
	}
}

func TestKillSignals(t *testing.T) {
	for _, name := range []string{"KILL", "TERM", "INT", "HUP", "USR1", "9", "15"} {
		if _, ok := signals[name]; !ok {
			t.Errorf("signal %s unknown", name)
		}
	}
}

// TestCallsOnly: only commands that do nothing in the lab host but call its
// daemon may skip entering it; a run that may want a terminal must enter,
// because the container binds the pty by its path in the lab host.
func TestCallsOnly(t *testing.T) {
	for _, c := range []struct {
		args string
		want bool
	}{
		{"ps -a", true},
		{"network create mynet", true},
		{"run -d --name web busybox httpd", true},
		{"run --rm -e T=1 busybox ping -c1 db", true},
		{"run -dit --name nstest busybox", false},
		{"run -t busybox tty", false},
		{"run -d --cidfile /run/web.cid busybox httpd", false},
		{"run --env-file=/run/env busybox env", false},
		{"run --label-file x busybox true", false},
		{"run --tty busybox tty", false},
		{"run --tty=true busybox tty", false},
		{"run --rm busybox ls -t /", false}, // a false alarm, which only costs the fast path
		{"exec web ls", false},
		{"logs web", false},
		{"start -ai web", false},
		{"host ip link", false},
		{"container ls", false},
		{"info", false},
	} {
		if got := callsOnly(strings.Fields(c.args)); got != c.want {
			t.Errorf("callsOnly(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}
