package cli

import (
	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/portmap"
)

// checkRunFlags is what Docker's CLI refuses itself before it asks the
// daemon to create anything, in its words and without "Error response
// from daemon": a malformed -p or --expose, and the --restart mistakes of
// checkLifecycleFlags. The daemon checks again, for other clients.
func checkRunFlags(o api.RunOptions) error {
	for _, spec := range o.Publish {
		if _, err := portmap.Parse(spec); err != nil {
			return err
		}
	}
	for _, spec := range o.Expose {
		if _, err := portmap.ParseExposed(spec); err != nil {
			return err
		}
	}
	return checkLifecycleFlags(o)
}
