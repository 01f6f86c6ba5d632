// Command onix is a reproducible, drift-free infrastructure tool compatible with Nix.
package main

import (
	"os"

	"github.com/onix-dev/onix/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
