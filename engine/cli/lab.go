package cli

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/nslab/nslab/labs"
	"github.com/spf13/cobra"
)

func labCmd() *cobra.Command {
	c := &cobra.Command{Use: "lab", Short: "The labs: list them"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List every lab with what it teaches",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			w := tabwriter.NewWriter(os.Stdout, 0, 1, 3, ' ', 0)
			fmt.Fprintln(w, "LAB\tWHAT IT TEACHES\tNOTES")
			for _, l := range labs.All() {
				notes := l.Notes
				if notes == "" {
					notes = "-"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\n", l.Name, l.Title, notes)
			}
			return w.Flush()
		},
	}
	c.AddCommand(list)
	return c
}
