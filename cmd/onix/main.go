// Command onix is a reproducible, drift-free infrastructure tool compatible with Nix.
package main

import (
	"os"

	"github.com/onix-dev/onix/internal/build/sandbox"
	"github.com/onix-dev/onix/internal/cli"
)

func main() {
	// The build sandbox's init runs once per build: go straight to it,
	// without setting up the command tree. (It and the sandbox spawner
	// normally take over even earlier, before most package initialisation:
	// see package internal/build/sandbox/nsinit.)
	if len(os.Args) == 2 && os.Args[1] == cli.SandboxChildArg {
		os.Exit(sandbox.ChildMain())
	}
	os.Exit(cli.Main(os.Args[1:]))
}
