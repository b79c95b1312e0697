// The list commands (ps, network ls) with Docker's --format, --filter and
// --no-trunc, and Docker's management command groups: `docker container
// ...` and `docker image ...` run the same verbs as their top-level forms.

package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nslab/nslab/engine/api"
	"github.com/spf13/cobra"
)

// psOptions are docker ps's flags.
type psOptions struct {
	all, quiet, noTrunc, latest bool
	last                        int
	format                      string
	filter                      *filterOpt
}

func psCmd() *cobra.Command {
	o := psOptions{filter: newFilterOpt()}
	c := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runPs(o) },
	}
	f := c.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "Show all containers (default shows just running)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only display container IDs")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.BoolVarP(&o.latest, "latest", "l", false, "Show the latest created container (includes all states)")
	f.IntVarP(&o.last, "last", "n", -1, "Show n last created containers (includes all states)")
	f.StringVar(&o.format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	f.VarP(o.filter, "filter", "f", "Filter output based on conditions provided")
	return c
}

// runPs is docker ps: the template is checked before the daemon is asked
// (Docker's "failed to parse template"), the daemon's list is filtered as
// Docker's daemon filters it, newest first, and printed through the format.
func runPs(o psOptions) error {
	format := o.format
	if format != "" && o.quiet {
		fmt.Fprintln(os.Stderr, "WARNING: Ignoring custom format, because both --format and --quiet are set.")
	}
	if format != "" {
		tmpl, err := parseTemplate("", format)
		if err != nil {
			return statusError{status: "failed to parse template: " + err.Error(), code: 1}
		}
		if err := tmpl.Execute(discard{}, &ContainerContext{trunc: true}); err != nil {
			return statusError{status: "failed to execute template: " + err.Error(), code: 1}
		}
	}
	if o.quiet {
		format = quietPsFormat
	}
	lf, err := newListFormat(format, defaultPsTable)
	if err != nil {
		return err
	}
	limit := o.last
	if o.latest && limit == -1 {
		limit = 1
	}
	var rows []api.PsEntry
	if err := call(api.PsRequest{All: true}, &rows); err != nil {
		return err
	}
	sortPs(rows)
	var images []api.ImageEntry
	if _, ok := o.filter.args["ancestor"]; ok {
		if err := call(api.ImagesRequest{}, &images); err != nil {
			return err
		}
	}
	pf, err := foldPsFilter(o.filter.args, rows, images)
	if err != nil {
		return err
	}
	var labels map[string]map[string]string
	if pf.needLabels || strings.Contains(lf.src, "Label") || lf.src == jsonFormat {
		labels = containerLabels(rows)
	}
	rows = pf.apply(rows, o.all, limit, labels)
	now := time.Now()
	var out []any
	for _, r := range rows {
		out = append(out, &ContainerContext{c: r, trunc: !o.noTrunc, labels: labels[r.ID], now: now})
	}
	return lf.write(os.Stdout, psHeader, out)
}

// discard is io.Discard, for checking a template.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// containerLabels reads each container's labels from inspect's
// .Config.Labels. A container removed since the list is skipped.
func containerLabels(rows []api.PsEntry) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, r := range rows {
		var raw api.InspectResponse
		if call(api.InspectRequest{Names: []string{r.ID}}, &raw) != nil || len(raw) != 1 {
			continue
		}
		var v struct {
			Config struct{ Labels map[string]string }
		}
		if json.Unmarshal(raw[0], &v) == nil {
			out[r.ID] = v.Config.Labels
		}
	}
	return out
}

func sortPs(rows []api.PsEntry) {
	// Newest first, as Docker lists them.
	for i := 1; i < len(rows); i++ {
		for j := i; j > 0 && rows[j].Created.After(rows[j-1].Created); j-- {
			rows[j], rows[j-1] = rows[j-1], rows[j]
		}
	}
}

// quoteCommand renders a command as docker ps does: cut to 20 characters
// with an ellipsis, quoted.
func quoteCommand(s string) string {
	return (&ContainerContext{c: api.PsEntry{Command: s}, trunc: true}).Command()
}

func networkLsCmd() *cobra.Command {
	var quiet, noTrunc bool
	var format string
	filter := newFilterOpt()
	c := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var rows []api.NetworkSummary
			if err := call(api.NetworkLsRequest{}, &rows); err != nil {
				return err
			}
			inUse := map[string]bool{}
			if _, ok := filter.args["dangling"]; ok {
				var ps []api.PsEntry
				if err := call(api.PsRequest{}, &ps); err != nil {
					return err
				}
				for _, p := range ps {
					for n := range p.Networks {
						inUse[n] = true
					}
				}
			}
			rows, err := filterNetworks(filter.args, rows, inUse)
			if err != nil {
				return err
			}
			if quiet {
				format = "{{.ID}}"
			}
			// Docker asks the daemon first, then parses the template.
			lf, err := newListFormat(format, defaultNetworkTable)
			if err != nil {
				return err
			}
			var out []any
			for _, r := range rows {
				out = append(out, &NetworkContext{n: r, trunc: !noTrunc})
			}
			return lf.write(os.Stdout, networkHeader, out)
		},
	}
	f := c.Flags()
	f.BoolVarP(&quiet, "quiet", "q", false, "Only display network IDs")
	f.BoolVar(&noTrunc, "no-trunc", false, "Do not truncate the output")
	f.StringVar(&format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	f.VarP(filter, "filter", "f", "Provide filter values (e.g. \"driver=bridge\")")
	return c
}

// containerVerbs are the container verbs that `docker container` has under
// the same name as at the top level. A new verb goes here too.
var containerVerbs = []func() *cobra.Command{runCmd, execCmd, logsCmd, startCmd, stopCmd, restartCmd, killCmd, portCmd}

// containerCmd is `docker container`: every container verb nslab has,
// under Docker's management command, with Docker's aliases (ls, list and
// ps; rm and remove).
func containerCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "container",
		Short: "Manage containers",
		Args:  subcommandArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	ls := psCmd()
	ls.Use, ls.Aliases = "ls [OPTIONS]", []string{"list", "ps"}
	rm := rmCmd()
	rm.Aliases = []string{"remove"}
	inspect := inspectCmd()
	inspect.Use, inspect.Short = "inspect [OPTIONS] CONTAINER [CONTAINER...]", "Display detailed information on one or more containers"
	c.AddCommand(ls, rm, inspect)
	for _, verb := range containerVerbs {
		c.AddCommand(verb())
	}
	return c
}
