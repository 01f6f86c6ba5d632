package build

import (
	"context"
	"fmt"
	"strings"
)

// lockOutputs is the start of Nix's DerivationGoal::tryToBuild: it locks
// all outputs of n (PathLocks on the output paths, so that no other onix
// or Nix process builds them at the same time), waiting with a note while
// someone else holds them, and then checks again whether the wanted
// outputs are valid, since whoever held the locks may just have built
// them. Then (valid is true) the locks are released and there is nothing
// to do; otherwise they are left in n.outLocks for the build and the
// registration of its outputs. check (--check, --rebuild) always builds.
func (b *builder) lockOutputs(ctx context.Context, n *node, check bool) (valid bool, err error) {
	var paths []string
	for _, o := range n.drv.OutputNames() {
		if p := n.drv.Outputs[o].Path; p != "" {
			paths = append(paths, p)
		}
	}
	locks, err := b.st.LockPaths(ctx, paths, func(real []string) {
		b.ui.note(fmt.Sprintf("waiting for lock on %s", strings.Join(quoteAll(real), ", ")))
	})
	if err != nil {
		return false, fmt.Errorf("locking the outputs of '%s': %w", n.drvPath, err)
	}
	if !check {
		wanted := n.lockWanted
		if len(wanted) == 0 {
			wanted = n.drv.OutputNames()
		}
		all := true
		for _, o := range wanted {
			ok, err := b.outputValid(ctx, n, o)
			if err != nil {
				locks.Release(false)
				return false, err
			}
			if !ok {
				all = false
				break
			}
		}
		if all {
			locks.Release(true)
			return true, nil
		}
	}
	n.outLocks = locks
	return false, nil
}
