package cli

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/image"
	"github.com/spf13/cobra"
)

// mergeEnv is image.MergeEnv, Docker's ReplaceOrAppendEnvValues.
func mergeEnv(defaults, overrides []string) []string { return image.MergeEnv(defaults, overrides) }

// imagesCmd is `docker images`; imageCmd is `docker image ls|list`.
func imagesCmd() *cobra.Command { return imageLs("images [OPTIONS] [REPOSITORY[:TAG]]") }

func imageCmd() *cobra.Command {
	c := &cobra.Command{Use: "image", Short: "Manage images", Args: subcommandArgs}
	ls := imageLs("ls [OPTIONS] [REPOSITORY[:TAG]]")
	ls.Aliases = []string{"list"}
	c.AddCommand(ls)
	return c
}

func imageLs(use string) *cobra.Command {
	var quiet, noTrunc, all bool
	c := &cobra.Command{
		Use:   use,
		Short: "List images",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rows []api.ImageEntry
			if err := call(api.ImagesRequest{}, &rows); err != nil {
				return err
			}
			if len(args) == 1 {
				repo, tag, _ := strings.Cut(args[0], ":")
				var kept []api.ImageEntry
				for _, r := range rows {
					if r.Repository == repo && (tag == "" || tag == r.Tag) {
						kept = append(kept, r)
					}
				}
				rows = kept
			}
			id := func(r api.ImageEntry) string {
				if noTrunc {
					return r.ID
				}
				return strings.TrimPrefix(r.ID, "sha256:")[:12]
			}
			if quiet {
				// One line per row, as Docker prints them: an image
				// with three names appears three times.
				for _, r := range rows {
					fmt.Println(id(r))
				}
				return nil
			}
			w := tabwriter.NewWriter(os.Stdout, 10, 1, 3, ' ', 0)
			fmt.Fprintln(w, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
			for _, r := range rows {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s ago\t%s\n", r.Repository, r.Tag, id(r),
					humanDuration(time.Since(r.Created)), image.HumanSize(r.Size))
			}
			return w.Flush()
		},
	}
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	c.Flags().BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	c.Flags().BoolVarP(&all, "all", "a", false, "Show all images (nslab has no intermediate images)")
	return c
}
