package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

// GCOptions configure GC.
type GCOptions struct {
	// DryRun only computes the dead paths (`nix-store --gc --print-dead`).
	DryRun bool
	// MaxFreed stops deleting once this many bytes were freed (0 = no limit).
	MaxFreed int64
	// KeepOutputs keeps the outputs of live derivations (Nix keep-outputs,
	// default false). NoKeepDerivations turns off Nix's keep-derivations
	// (default true: derivers of live paths are kept).
	KeepOutputs       bool
	NoKeepDerivations bool
}

// GCResult reports what a GC did (or, with DryRun, would delete).
type GCResult struct {
	Dead       []string // dead valid paths, in deletion order
	Deleted    []string // paths actually deleted (valid ones first, then invalid entries)
	BytesFreed int64
}

// gcState is shared between the collector and its root-socket server.
type gcState struct {
	mu       sync.Mutex
	cond     *sync.Cond
	newRoots map[string]bool // hash parts (or full names) rooted during the GC
	pending  string          // hash part being deleted right now
}

// acquireGCLock takes gc.lock exclusively (blocking with ctx) and starts the
// root server on gc-socket/socket, like Nix 2.8.
func (s *Store) acquireGCLock(ctx context.Context) (st *gcState, release func(), err error) {
	f, err := openLockFile(s.gcLockPath(), true)
	if err != nil {
		return nil, nil, err
	}
	if err := lockCtx(ctx, f, lockExclusive, func() { s.logf("waiting for the garbage collector lock %s...", f.Name()) }); err != nil {
		f.Close()
		return nil, nil, err
	}
	if err := os.MkdirAll(s.stateDir+"/gc-socket", 0o755); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("creating GC socket directory: %w", err)
	}
	l, err := listenUnix(s.gcSocketPath())
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	st = &gcState{newRoots: map[string]bool{}}
	st.cond = sync.NewCond(&st.mu)
	var wg sync.WaitGroup
	var conns sync.Map
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Store(c, true)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conns.Delete(c)
				defer c.Close()
				s.serveGCRoots(st, c)
			}()
		}
	}()
	release = func() {
		_ = os.Remove(s.gcSocketPath())
		l.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
		f.Close()
	}
	return st, release, nil
}

func (s *Store) serveGCRoots(st *gcState, c net.Conn) {
	_ = readLines(c, func(line string) error {
		key := line
		if sp, err := s.storeDir.Parse(line); err == nil {
			key = sp.HashPart
		}
		st.mu.Lock()
		st.newRoots[key] = true
		for st.pending == key {
			st.cond.Wait()
		}
		st.mu.Unlock()
		_, err := c.Write([]byte("1"))
		return err
	})
}

// keyOf returns the hash part of a store-path-like name, else the name.
func keyOf(name string) string {
	if sp, err := storepath.ParseBaseName(name); err == nil {
		return sp.HashPart
	}
	return name
}

// liveSet computes every path that must be kept: the roots plus their
// closure under references (and derivers/outputs per opts).
func (s *Store) liveSet(ctx context.Context, opts GCOptions) (alive map[string]bool, rootKeys map[string]bool, err error) {
	roots := Roots{}
	if err := s.findRootsNoTemp(ctx, roots); err != nil {
		return nil, nil, err
	}
	temp, err := s.readTempRoots()
	if err != nil {
		return nil, nil, err
	}
	rootKeys = map[string]bool{}
	var queue []string
	for p := range roots {
		queue = append(queue, p)
	}
	for p := range temp {
		if sp, _, err := s.storeDir.SplitPath(p); err == nil {
			rootKeys[sp.HashPart] = true
			queue = append(queue, s.storeDir.Path(sp))
		}
	}
	alive = map[string]bool{}
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		p := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		if alive[p] {
			continue
		}
		info, err := s.QueryPathInfo(ctx, p)
		if errors.Is(err, ErrNotValid) {
			continue // temp root of an invalid path: protected via rootKeys
		}
		if err != nil {
			return nil, nil, err
		}
		alive[p] = true
		queue = append(queue, info.References...)
		if !opts.NoKeepDerivations && info.Deriver != "" {
			queue = append(queue, info.Deriver)
		}
		if opts.KeepOutputs && strings.HasSuffix(p, ".drv") {
			outs, err := s.QueryDerivationOutputs(ctx, p)
			if err != nil {
				return nil, nil, err
			}
			for _, o := range outs {
				queue = append(queue, o)
			}
		}
	}
	for p := range alive {
		if sp, err := s.storeDir.Parse(p); err == nil {
			rootKeys[sp.HashPart] = true
		}
	}
	return alive, rootKeys, nil
}

// GC deletes every valid path not reachable from a root or live temp root,
// referrers before references; each path is unregistered in the database
// before its files are removed (a crash leaves an unregistered leftover,
// which the next GC deletes). Then invalid entries in the store directory
// (leftovers, stale lock files) are removed. Roots added by other processes
// while the GC runs are honoured through the GC socket.
func (s *Store) GC(ctx context.Context, opts GCOptions) (*GCResult, error) {
	st, release, err := s.acquireGCLock(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	alive, rootKeys, err := s.liveSet(ctx, opts)
	if err != nil {
		return nil, err
	}
	all, err := s.QueryAllValidPaths(ctx)
	if err != nil {
		return nil, err
	}
	var dead []string
	for _, p := range all {
		if !alive[p] {
			dead = append(dead, p)
		}
	}
	// Order: referrers first; with keep-derivations an output counts as a
	// referrer of its deriver, with keep-outputs a .drv of its outputs.
	edges := map[string][]string{}
	deadSet := map[string]bool{}
	for _, p := range dead {
		deadSet[p] = true
	}
	for _, p := range dead {
		info, err := s.QueryPathInfo(ctx, p)
		if err != nil {
			return nil, err
		}
		edges[p] = append(edges[p], info.References...)
		if !opts.NoKeepDerivations && deadSet[info.Deriver] {
			edges[p] = append(edges[p], info.Deriver)
		}
		if opts.KeepOutputs && strings.HasSuffix(p, ".drv") {
			outs, err := s.QueryDerivationOutputs(ctx, p)
			if err != nil {
				return nil, err
			}
			for _, o := range outs {
				edges[p] = append(edges[p], o)
			}
		}
	}
	res := &GCResult{Dead: topoSort(dead, func(p string) []string { return edges[p] })}
	if opts.DryRun {
		return res, nil
	}
	limit := func() bool { return opts.MaxFreed > 0 && res.BytesFreed >= opts.MaxFreed }
	for _, p := range res.Dead {
		if limit() {
			return res, nil
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		sp, _ := s.storeDir.Parse(p)
		deleted, err := s.gcDeleteOne(ctx, st, sp, p, opts, res)
		if err != nil {
			return res, err
		}
		if deleted {
			res.Deleted = append(res.Deleted, p)
		}
	}
	if err := s.gcInvalidEntries(ctx, st, rootKeys, res, limit); err != nil {
		return res, err
	}
	return res, nil
}

// gcDeleteOne deletes a dead valid path unless a root appeared for it or it
// gained a live referrer/derived output meanwhile.
func (s *Store) gcDeleteOne(ctx context.Context, st *gcState, sp storepath.StorePath, p string, opts GCOptions, res *GCResult) (bool, error) {
	st.mu.Lock()
	if st.newRoots[sp.HashPart] {
		st.mu.Unlock()
		return false, nil
	}
	st.pending = sp.HashPart
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		st.pending = ""
		st.cond.Broadcast()
		st.mu.Unlock()
	}()
	keep, err := s.stillNeeded(ctx, p, opts)
	if err != nil || keep {
		return false, err
	}
	if err := s.invalidate(ctx, p); err != nil {
		return false, err
	}
	n, err := removeTree(s.RealPath(p))
	res.BytesFreed += n
	if err != nil {
		return true, err
	}
	return true, nil
}

// stillNeeded re-checks, at deletion time, whether p has a valid referrer
// (other than itself) or, per opts, a valid output it derived / a valid
// deriver.
func (s *Store) stillNeeded(ctx context.Context, p string, opts GCOptions) (bool, error) {
	refs, err := s.QueryReferrers(ctx, p)
	if err != nil {
		if errors.Is(err, ErrNotValid) {
			return true, nil // someone else removed it; nothing to do
		}
		return false, err
	}
	for _, r := range refs {
		if r != p {
			return true, nil
		}
	}
	if !opts.NoKeepDerivations && strings.HasSuffix(p, ".drv") {
		var n int
		if err := s.db.QueryRowContext(ctx, "select count(*) from ValidPaths where deriver = ? and path != ?", p, p).Scan(&n); err != nil {
			return false, s.dbErr("querying outputs of "+p, err)
		}
		if n > 0 {
			return true, nil
		}
	}
	if opts.KeepOutputs {
		ds, err := s.QueryValidDerivers(ctx, p)
		if err != nil {
			return false, err
		}
		if len(ds) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// invalidate removes p's row (Refs and DerivationOutputs cascade).
func (s *Store) invalidate(ctx context.Context, p string) error {
	res, err := s.db.ExecContext(ctx, "delete from ValidPaths where path = ?", p)
	if err != nil {
		return s.dbErr("invalidating "+p, err)
	}
	_ = res
	return nil
}

// gcInvalidEntries removes store-dir entries that are not valid paths and
// not temp-rooted: crash leftovers, dead processes' temp entries and stale
// lock files (only when nobody holds them).
func (s *Store) gcInvalidEntries(ctx context.Context, st *gcState, rootKeys map[string]bool, res *GCResult, limit func() bool) error {
	ents, err := os.ReadDir(s.realStoreDir)
	if err != nil {
		return fmt.Errorf("reading %s: %w", s.realStoreDir, err)
	}
	var locks []string
	for _, e := range ents {
		if limit() {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		name := e.Name()
		switch {
		case name == ".links":
			n, err := gcLinks(s.realStoreDir + "/.links")
			res.BytesFreed += n
			if err != nil {
				return err
			}
			continue
		case strings.HasSuffix(name, ".lock"):
			locks = append(locks, name)
			continue
		}
		logical := string(s.storeDir) + "/" + name
		key := keyOf(name)
		if rootKeys[key] {
			continue
		}
		if sp, err := storepath.ParseBaseName(name); err == nil {
			ok, err := s.IsValid(ctx, s.storeDir.Path(sp))
			if err != nil {
				return err
			}
			if ok {
				continue
			}
		}
		st.mu.Lock()
		if st.newRoots[key] {
			st.mu.Unlock()
			continue
		}
		st.pending = key
		st.mu.Unlock()
		// Re-read temp roots: a process that rooted the entry before we
		// started serving the socket is in its file.
		live, err := s.readTempRoots()
		if err == nil {
			if _, ok := live[logical]; ok {
				err = errSkip
			}
		}
		if err == nil {
			var n int64
			n, err = removeTree(s.realStoreDir + "/" + name)
			res.BytesFreed += n
			if err == nil {
				res.Deleted = append(res.Deleted, logical)
			}
		}
		st.mu.Lock()
		st.pending = ""
		st.cond.Broadcast()
		st.mu.Unlock()
		if err != nil && !errors.Is(err, errSkip) {
			return err
		}
	}
	for _, name := range locks {
		f, err := os.OpenFile(s.realStoreDir+"/"+name, os.O_RDWR|syscall.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		if ok, _ := tryLock(f, lockExclusive); ok {
			_ = os.Remove(f.Name())
			_, _ = f.Write([]byte("d")) // mark stale for anyone who opened it
		}
		f.Close()
	}
	return nil
}

var errSkip = errors.New("skip")

// gcLinks removes hard-link-deduplication entries nobody uses any more.
func gcLinks(dir string) (int64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		return 0, fmt.Errorf("reading %s: %w", dir, err)
	}
	var freed int64
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		if sys, ok := fi.Sys().(*syscall.Stat_t); ok && sys.Nlink == 1 {
			if err := os.Remove(dir + "/" + e.Name()); err == nil {
				freed += fi.Size()
			}
		}
	}
	return freed, nil
}

// Delete removes specific paths (`nix-store --delete`). It refuses, before
// deleting anything, if a path is reachable from a root or has a valid
// referrer outside paths.
func (s *Store) Delete(ctx context.Context, paths []string) (int64, error) {
	st, release, err := s.acquireGCLock(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	set := map[string]bool{}
	for _, p := range paths {
		pp, err := s.ParsePath(p)
		if err != nil {
			return 0, err
		}
		ok, err := s.IsValid(ctx, pp)
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, fmt.Errorf("cannot delete %s: %w", pp, ErrNotValid)
		}
		set[pp] = true
	}
	alive, _, err := s.liveSet(ctx, GCOptions{NoKeepDerivations: true})
	if err != nil {
		return 0, err
	}
	var list []string
	refsOf := map[string][]string{}
	for p := range set {
		if alive[p] {
			return 0, fmt.Errorf("cannot delete path %s since it is still alive (see `onix store gc --print-roots`)", p)
		}
		referrers, err := s.QueryReferrers(ctx, p)
		if err != nil {
			return 0, err
		}
		for _, r := range referrers {
			if r != p && !set[r] {
				return 0, fmt.Errorf("cannot delete path %s: it is still referenced by %s", p, r)
			}
		}
		refs, err := s.QueryReferences(ctx, p)
		if err != nil {
			return 0, err
		}
		refsOf[p] = refs
		list = append(list, p)
	}
	sort.Strings(list)
	var freed int64
	res := &GCResult{}
	for _, p := range topoSort(list, func(p string) []string { return refsOf[p] }) {
		sp, _ := s.storeDir.Parse(p)
		deleted, err := s.gcDeleteOne(ctx, st, sp, p, GCOptions{NoKeepDerivations: true}, res)
		if err != nil {
			return res.BytesFreed, err
		}
		if !deleted {
			return res.BytesFreed, fmt.Errorf("cannot delete path %s: it became alive while deleting", p)
		}
	}
	freed = res.BytesFreed
	return freed, nil
}
