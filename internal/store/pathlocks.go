package store

import (
	"context"
	"fmt"
	"sort"
)

// PathLocks is Nix's PathLocks over a set of store paths: an exclusive
// flock on "REALPATH.lock" for each, taken in sorted order (so that onix
// and Nix processes locking overlapping sets cannot deadlock). A builder
// holds the locks on a derivation's outputs from before it builds until
// the outputs are registered (RegisterOutputsLocked), so two processes
// never build the same outputs at once.
type PathLocks struct {
	locks map[string]*pathLock // logical path -> lock
	order []string
}

// LockPaths locks paths (logical store paths), waiting as long as needed
// (ctx cancels the wait). onWait, if non-nil, is called once, with the
// physical paths of the whole set, when some lock is not immediately
// available.
func (s *Store) LockPaths(ctx context.Context, paths []string, onWait func(realPaths []string)) (*PathLocks, error) {
	seen := map[string]bool{}
	var sorted []string
	for _, p := range paths {
		c, err := s.ParsePath(p)
		if err != nil {
			return nil, fmt.Errorf("locking: %w", err)
		}
		if !seen[c] {
			seen[c] = true
			sorted = append(sorted, c)
		}
	}
	sort.Strings(sorted)
	real := make([]string, len(sorted))
	for i, p := range sorted {
		real[i] = s.RealPath(p)
	}
	l := &PathLocks{locks: map[string]*pathLock{}}
	waited := false
	wait := func() {
		if !waited && onWait != nil {
			waited = true
			onWait(real)
		}
	}
	for i, p := range sorted {
		pl, err := lockPathWait(ctx, real[i], wait)
		if err != nil {
			l.Release(false)
			return nil, fmt.Errorf("locking %s: %w", p, err)
		}
		l.locks[p] = pl
		l.order = append(l.order, p)
	}
	return l, nil
}

// Holds reports whether l holds the lock of the logical path p. A nil l
// holds nothing.
func (l *PathLocks) Holds(p string) bool {
	if l == nil {
		return false
	}
	_, ok := l.locks[p]
	return ok
}

// Release unlocks everything. With remove the lock files are deleted too,
// as Nix does once the paths are valid (later lockers see them valid and
// do not recreate the files); after a failure they are left in place.
// Release is idempotent; a nil l is a no-op.
func (l *PathLocks) Release(remove bool) {
	if l == nil {
		return
	}
	for i := len(l.order) - 1; i >= 0; i-- {
		l.locks[l.order[i]].release(remove)
	}
	l.locks, l.order = map[string]*pathLock{}, nil
}
