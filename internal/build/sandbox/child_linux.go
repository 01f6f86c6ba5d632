//go:build linux

package sandbox

import (
	"github.com/onix-dev/onix/internal/build/sandbox/nsinit"
)

// ChildMain is the entry point of the processes the sandbox re-executes
// the binary as (with Config.InitArgs): the sandbox init and a pool's
// spawner (see package nsinit). The binary that calls Run must call
// ChildMain (and exit with its result) when started with Config.InitArgs.
// They normally never get here: importing this package makes package
// nsinit take over as soon as it is initialised.
func ChildMain() int {
	return nsinit.Main()
}
