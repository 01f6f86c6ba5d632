//go:build !linux

package sandbox

import (
	"context"
	"errors"

	"github.com/onix-dev/onix/internal/build/sandbox/nsinit"
)

func run(ctx context.Context, cfg *Config) error {
	return errors.New("sandboxed builds are only supported on Linux")
}

// ChildMain is only meaningful on Linux.
func ChildMain() int {
	return nsinit.Main()
}

// Available reports whether sandboxed builds can run here.
func Available() (bool, string) { return false, "not Linux" }

type slot struct{}

type skeleton struct{}

func (p *Pool) closeSlot(*slot) {}

func (p *Pool) release(int, *skeleton) {}

type spawner struct{}

func (p *Pool) closeSpawner() {}
