// Output formats as Docker's CLI writes them (docker/cli's formatter and
// templates packages): --format takes a Go template with Docker's functions,
// "table TEMPLATE" adds a header row and aligns columns, "json" prints one
// JSON object per row, and --no-trunc keeps IDs and commands whole.

package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"
	"unicode"

	"github.com/nslab/nslab/engine/api"
)

// Docker's format keywords.
const (
	tableFormatKey = "table"
	jsonFormatKey  = "json"
	jsonFormat     = "{{json .}}"
)

// templateFuncs are Docker's template functions (templates.basicFunctions).
func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"json": func(v any) string {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.Encode(v)
			return strings.TrimSpace(buf.String())
		},
		"split": strings.Split,
		"join":  strings.Join,
		"title": strings.Title, //lint:ignore SA1019 Docker's template "title" is strings.Title
		"lower": strings.ToLower,
		"upper": strings.ToUpper,
		"pad": func(s string, prefix, suffix int) string {
			if s == "" {
				return s
			}
			return strings.Repeat(" ", prefix) + s + strings.Repeat(" ", suffix)
		},
		"truncate": func(s string, n int) string {
			if r := []rune(s); len(r) > n {
				return string(r[:n])
			}
			return s
		},
	}
}

// headerFuncs are Docker's templates.HeaderFunctions: on the header row each
// function gives back the column's title unchanged.
func headerFuncs() template.FuncMap {
	same := func(v any) string { return fmt.Sprint(v) }
	return template.FuncMap{
		"json": same, "title": same, "lower": same, "upper": same,
		"split":    func(v, _ any) string { return fmt.Sprint(v) },
		"join":     func(v, _ any) string { return fmt.Sprint(v) },
		"pad":      func(v, _, _ any) string { return fmt.Sprint(v) },
		"truncate": func(v, _ any) string { return fmt.Sprint(v) },
	}
}

// parseTemplate is Docker's templates.Parse: a template named "" with
// Docker's functions, so errors read "template: :1: ...".
func parseTemplate(name, format string) (*template.Template, error) {
	return template.New(name).Funcs(templateFuncs()).Parse(format)
}

// listFormat is a parsed --format for a list command.
type listFormat struct {
	table bool
	tmpl  *template.Template
	src   string // the template text, after "table" and escapes
}

// newListFormat resolves a list command's --format as Docker's
// formatter.Context does: "table" and "table TEMPLATE" print a header and
// align columns; "json" is {{json .}}; \t and \n are escapes in any format.
// def is the command's default table.
func newListFormat(format, def string) (listFormat, error) {
	var f listFormat
	switch {
	case format == "" || format == tableFormatKey:
		format = def
	case format == jsonFormatKey:
		format = jsonFormat
	}
	if strings.HasPrefix(format, tableFormatKey) {
		f.table = true
		format = format[len(tableFormatKey):]
	}
	format = strings.Trim(format, " ")
	f.src = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	tmpl, err := parseTemplate("", f.src)
	if err != nil {
		return f, statusError{status: "template parsing error: " + err.Error(), code: 1}
	}
	f.tmpl = tmpl
	return f, nil
}

// write prints rows through the format, with the header's titles first for
// a table (tabwriter with Docker's settings: min width 10, padding 3).
func (f listFormat) write(w io.Writer, header map[string]string, rows []any) error {
	var body bytes.Buffer
	for _, r := range rows {
		if err := f.tmpl.Execute(&body, r); err != nil {
			return statusError{status: "template parsing error: " + err.Error(), code: 1}
		}
		body.WriteString("\n")
	}
	if !f.table {
		_, err := body.WriteTo(w)
		return err
	}
	tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	if h, err := template.New("").Funcs(headerFuncs()).Parse(f.src); err == nil {
		// Docker ignores a header that does not render.
		var hb bytes.Buffer
		h.Execute(&hb, header)
		hb.WriteTo(tw)
	}
	tw.Write([]byte("\n"))
	body.WriteTo(tw)
	return tw.Flush()
}

// marshalMethods is Docker's formatter marshalJSON: every exported method
// without arguments that returns one value becomes a key, as {{json .}} and
// --format json print a row.
func marshalMethods(x any) ([]byte, error) {
	v := reflect.ValueOf(x)
	t := v.Type()
	m := map[string]any{}
	for i := 0; i < v.NumMethod(); i++ {
		meth := t.Method(i)
		mt := v.Method(i).Type()
		if !unicode.IsUpper(rune(meth.Name[0])) || mt.NumIn() != 0 || mt.NumOut() != 1 {
			continue
		}
		out := v.Method(i).Call(nil)[0].Interface()
		if s, ok := out.(fmt.Stringer); ok {
			out = s.String()
		}
		m[meth.Name] = out
	}
	return json.Marshal(m)
}

// ellipsis is Docker's formatter.Ellipsis for single-width text: cut to n
// characters, the last one an ellipsis.
func ellipsis(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// shortID is stringid.TruncateID: the first 12 characters, without the
// sha256: prefix.
func shortID(id string) string {
	if i := strings.IndexRune(id, ':'); i >= 0 {
		id = id[i+1:]
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

// joinLabels is .Labels: k=v pairs joined by commas (sorted, where Docker
// takes map order).
func joinLabels(labels map[string]string) string {
	var kv []string
	for k, v := range labels {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// ContainerContext is a row of docker ps for templates: Docker's
// formatter.ContainerContext, with the same fields.
type ContainerContext struct {
	c      api.PsEntry
	trunc  bool
	labels map[string]string
	now    time.Time
}

// Default ps formats and column titles (docker/cli formatter/container.go).
const (
	defaultPsTable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
	quietPsFormat  = "{{.ID}}"
)

var psHeader = map[string]string{
	"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
	"RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
	"Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS",
	"LocalVolumes": "LOCAL VOLUMES",
}

// MarshalJSON makes {{json .}} and --format json print the row's fields.
func (c *ContainerContext) MarshalJSON() ([]byte, error) { return marshalMethods(c) }

// ID is the container's ID, 12 characters unless --no-trunc.
func (c *ContainerContext) ID() string {
	if c.trunc {
		return shortID(c.c.ID)
	}
	return c.c.ID
}

// Image is the image as it was named on the run line.
func (c *ContainerContext) Image() string {
	if c.c.Image == "" {
		return "<no image>"
	}
	if c.trunc && strings.HasPrefix(c.c.Image, "sha256:") {
		return shortID(c.c.Image)
	}
	return c.c.Image
}

// Command is the command, quoted, cut to 20 characters unless --no-trunc.
func (c *ContainerContext) Command() string {
	cmd := c.c.Command
	if c.trunc {
		cmd = ellipsis(cmd, 20)
	}
	return strconv.Quote(cmd)
}

// CreatedAt is when the container was created, as Go prints a time.
func (c *ContainerContext) CreatedAt() string { return time.Unix(c.c.Created.Unix(), 0).String() }

// RunningFor is how long ago the container was created.
func (c *ContainerContext) RunningFor() string {
	return humanDuration(c.now.Sub(c.c.Created)) + " ago"
}

// Ports are the published and exposed ports.
func (c *ContainerContext) Ports() string { return c.c.Ports }

// State is created, running, restarting or exited.
func (c *ContainerContext) State() string { return c.c.State }

// Status is Up, Restarting (N), Exited (N) or Created, with how long.
func (c *ContainerContext) Status() string {
	switch {
	case c.c.Running:
		return "Up " + humanDuration(c.now.Sub(c.c.Started))
	case c.c.Restarting:
		return fmt.Sprintf("Restarting (%d) %s ago", c.c.ExitCode, humanDuration(c.now.Sub(c.c.Finished)))
	case !c.c.Finished.IsZero():
		return fmt.Sprintf("Exited (%d) %s ago", c.c.ExitCode, humanDuration(c.now.Sub(c.c.Finished)))
	case c.c.ID == "":
		return ""
	}
	return "Created"
}

// Size is the writable layer's size. nslab's daemon does not measure it,
// so it is Docker's value when no size was asked for.
func (c *ContainerContext) Size() string { return "0B" }

// Names is the container's name.
func (c *ContainerContext) Names() string { return c.c.Names }

// Labels are the container's labels, k=v joined by commas.
func (c *ContainerContext) Labels() string { return joinLabels(c.labels) }

// Label is one label's value.
func (c *ContainerContext) Label(name string) string { return c.labels[name] }

// Mounts are the container's volumes; nslab has none.
func (c *ContainerContext) Mounts() string { return "" }

// Networks are the container's networks, sorted, joined by commas.
func (c *ContainerContext) Networks() string {
	var n []string
	for k := range c.c.Networks {
		n = append(n, k)
	}
	sort.Strings(n)
	return strings.Join(n, ",")
}

// LocalVolumes counts local volumes; nslab has none.
func (c *ContainerContext) LocalVolumes() string { return "0" }

// NetworkContext is a row of docker network ls for templates: Docker's
// formatter.NetworkContext.
type NetworkContext struct {
	n     api.NetworkSummary
	trunc bool
}

const defaultNetworkTable = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"

var networkHeader = map[string]string{
	"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6",
	"Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT",
}

// MarshalJSON makes {{json .}} and --format json print the row's fields.
func (c *NetworkContext) MarshalJSON() ([]byte, error) { return marshalMethods(c) }

// ID is the network's ID, 12 characters unless --no-trunc.
func (c *NetworkContext) ID() string {
	if c.trunc {
		return shortID(c.n.ID)
	}
	return c.n.ID
}

// Name is the network's name.
func (c *NetworkContext) Name() string { return c.n.Name }

// Driver is bridge, host or null.
func (c *NetworkContext) Driver() string { return c.n.Driver }

// Scope is local.
func (c *NetworkContext) Scope() string { return c.n.Scope }

// IPv6 is whether IPv6 is on: never in nslab.
func (c *NetworkContext) IPv6() string { return "false" }

// Internal is whether the network is --internal.
func (c *NetworkContext) Internal() string { return strconv.FormatBool(c.n.Internal) }

// Labels are the network's labels; nslab's networks have none.
func (c *NetworkContext) Labels() string { return "" }

// Label is one label's value.
func (c *NetworkContext) Label(name string) string { return "" }

// CreatedAt is when the network was created, as Go prints a time.
func (c *NetworkContext) CreatedAt() string { return c.n.Created.String() }

// statusError is an error whose message is printed as it is, with an exit
// status: Docker's cli.StatusError.
type statusError struct {
	status string
	code   int
}

func (e statusError) Error() string { return e.status }

// isStatus reports whether err is a statusError.
func isStatus(err error) (statusError, bool) {
	var se statusError
	ok := errors.As(err, &se)
	return se, ok
}
