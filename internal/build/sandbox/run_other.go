//go:build !linux

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
)

func run(ctx context.Context, cfg *Config) error {
	return errors.New("sandboxed builds are only supported on Linux")
}

// ChildMain is only meaningful on Linux.
func ChildMain() int {
	fmt.Fprintln(os.Stderr, "onix: the build sandbox is only supported on Linux")
	return 127
}

// Available reports whether sandboxed builds can run here.
func Available() (bool, string) { return false, "not Linux" }
