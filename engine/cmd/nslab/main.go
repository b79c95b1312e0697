// Command nslab is a learning lab for Linux container networking. See
// README.md.
package main

import (
	"os"

	"github.com/nslab/nslab/engine/cli"
)

func main() { os.Exit(cli.Main()) }
