package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"text/template"

	"github.com/nslab/nslab/engine/api"
	"github.com/spf13/cobra"
)

func inspectCmd() *cobra.Command {
	return inspectCommand("inspect [OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information on containers and networks", true,
		func(names []string) api.Operation { return api.InspectRequest{Names: names} })
}

// inspectCommand is `inspect` or `network inspect`: the daemon's objects as
// Docker prints them, or through -f's template. As in Docker, what it
// finds is printed first (`[]` when nothing), then one error line per name
// it did not find or template that failed, with exit status 1. `inspect`,
// which looks for any kind of object, says `Error: No such object: NAME`;
// `network inspect` gives the daemon's `network NAME not found`.
func inspectCommand(use, short string, anyObject bool, req func(names []string) api.Operation) *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var objs []json.RawMessage
			var errs []string
			for _, name := range args {
				var raw api.InspectResponse
				err := call(req([]string{name}), &raw)
				switch {
				case err == nil:
					objs = append(objs, raw...)
				case name == "" && !anyObject:
					// Docker's CLI refuses an empty network name
					// before it prints anything.
					return err
				case anyObject && api.IsDaemonError(err) && strings.HasPrefix(err.Error(), "No such container: "):
					errs = append(errs, "Error: No such object: "+name)
				case api.IsDaemonError(err):
					errs = append(errs, "Error response from daemon: "+err.Error())
				default:
					return err
				}
			}
			terrs, err := printInspect(os.Stdout, objs, format)
			if err != nil {
				return err
			}
			if errs = append(terrs, errs...); len(errs) > 0 {
				fmt.Fprintln(os.Stderr, strings.Join(errs, "\n"))
				return exitError{1}
			}
			return nil
		},
	}
	c.Flags().StringVarP(&format, "format", "f", "", "Format output using a Go template")
	return c
}

// printInspect prints objects as Docker does: a JSON array indented by four
// spaces, or one line per object from a Go template. It returns the
// template's errors, one per object it failed on, for the caller to print
// after the output, and an error when the template does not parse or the
// output cannot be written.
//
// As Docker's CLI does, a template runs on the object's typed struct
// (api.ContainerJSON, api.NetworkResource), so every documented field has
// Docker's value, zero or not: {{.State.Health}} is <nil> and
// {{.Config.StopSignal}} is empty even when the JSON omits them. Where
// that fails (a key that is no field, such as .Config.Bogus), it runs
// again on the JSON as maps with missingkey=error, whose error names the
// missing key. Templates have Docker's json, join, lower, upper, split and
// title functions.
func printInspect(w io.Writer, raw []json.RawMessage, format string) ([]string, error) {
	if format == "" {
		var buf bytes.Buffer
		buf.WriteString("[")
		for i, r := range raw {
			if i > 0 {
				buf.WriteString(",")
			}
			var ind bytes.Buffer
			json.Indent(&ind, r, "    ", "    ")
			buf.WriteString("\n    ")
			buf.Write(ind.Bytes())
		}
		if len(raw) > 0 {
			buf.WriteString("\n")
		}
		buf.WriteString("]\n")
		_, err := w.Write(buf.Bytes())
		return nil, err
	}
	tmpl, err := template.New("").Funcs(template.FuncMap{
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
		"join":  strings.Join,
		"lower": strings.ToLower,
		"upper": strings.ToUpper,
		"split": strings.Split,
		"title": strings.Title, //lint:ignore SA1019 Docker's template "title" is strings.Title, word boundaries and all
		"len":   templateLen,
	}).Parse(format)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	var out bytes.Buffer
	var errs []string
	for _, r := range raw {
		var one bytes.Buffer
		if typed := typedObject(r); typed == nil || tmpl.Execute(&one, typed) != nil {
			one.Reset()
			dec := json.NewDecoder(bytes.NewReader(r))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				return nil, err
			}
			if err := tmpl.Option("missingkey=error").Execute(&one, v); err != nil {
				errs = append(errs, fmt.Sprintf("template parsing error: %v", err))
				continue
			}
		}
		out.Write(one.Bytes())
		out.WriteString("\n")
	}
	if out.Len() == 0 {
		// Docker's template inspector prints an empty line when no
		// object printed anything.
		out.WriteString("\n")
	}
	_, err = w.Write(out.Bytes())
	return errs, err
}

// typedObject decodes an inspected object into its Docker type: a
// container (it has a State) or a network (it has IPAM). Anything else is
// nil, and templates see it as maps only.
func typedObject(r json.RawMessage) any {
	var keys map[string]json.RawMessage
	if json.Unmarshal(r, &keys) != nil {
		return nil
	}
	if _, ok := keys["State"]; ok {
		var c api.ContainerJSON
		if json.Unmarshal(r, &c) == nil {
			return c
		}
	}
	if _, ok := keys["IPAM"]; ok {
		var n api.NetworkResource
		if json.Unmarshal(r, &n) == nil {
			return n
		}
	}
	return nil
}

// templateLen is the template's len, with an error that names the problem
// where the builtin says "reflect: call of reflect.Value.Type on zero Value":
// the field is null (a nil pointer in the typed object, or nil in the maps).
func templateLen(v any) (int, error) {
	if v == nil {
		return 0, errors.New("len of nothing: the field is missing or null (field names are case-sensitive, such as .NetworkSettings.Networks)")
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String, reflect.Slice, reflect.Map, reflect.Array, reflect.Chan:
		return rv.Len(), nil
	case reflect.Pointer:
		if rv.IsNil() {
			return 0, errors.New("len of nothing: the field is null")
		}
	}
	return 0, fmt.Errorf("len of %T: it has no length", v)
}
