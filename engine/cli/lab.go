package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/nslab/nslab/labs"
	"github.com/spf13/cobra"
)

func labCmd() *cobra.Command {
	c := &cobra.Command{Use: "lab", Short: "The labs: list them, play one, practise with their exercises"}
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
	var step bool
	run := &cobra.Command{
		Use:   "run NAME|FILE.txtar",
		Short: "Play a lab phase by phase: narration, commands, real output, and a pass or fail for each check",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := useEngine(); err != nil {
				return err
			}
			get := labs.Get
			if strings.HasSuffix(args[0], ".txtar") {
				get = func(path string) (labs.Lab, error) { return labFile(path, "read lab file") }
			}
			l, err := get(args[0])
			if err != nil {
				return err
			}
			return runLab(l, step, os.Stdout, os.Stderr)
		},
	}
	run.Flags().BoolVar(&step, "step", false, "Pause for Enter between phases")
	addEngineFlag(run.Flags())
	exercise := &cobra.Command{
		Use:   "exercise NAME",
		Short: "Print a lab's exercise: its narration and checks, with the commands left for you to write",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := labs.Get(args[0])
			if err != nil {
				return err
			}
			_, err = os.Stdout.WriteString(labs.Exercise(l))
			return err
		},
	}
	check := &cobra.Command{
		Use:   "check FILE",
		Short: "Check your attempt at an exercise: which checks pass, and the next hint",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := labFile(args[0], "read your attempt")
			if err != nil {
				return err
			}
			return runLab(l, false, os.Stdout, os.Stderr)
		},
	}
	c.AddCommand(list, run, exercise, check)
	return c
}

// labFile reads a lab or an exercise attempt from a file, and refuses one
// that is not a lab: a script that checks nothing would always pass.
func labFile(path, what string) (labs.Lab, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return labs.Lab{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := labs.Validate(string(b)); err != nil {
		return labs.Lab{}, fmt.Errorf("%s is not a lab: %w; `nslab lab exercise NAME > FILE` gives you one to fill in", path, err)
	}
	return labs.Parse(strings.TrimSuffix(filepath.Base(path), ".txtar"), string(b)), nil
}
