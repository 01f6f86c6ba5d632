package build

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/onix-dev/onix/internal/cache"
	"github.com/onix-dev/onix/internal/store"
)

// item is a derivation with outputs some requester wants.
type item struct {
	n    *node
	outs []string
}

func (b *builder) getNode(ctx context.Context, p string) (*node, error) {
	if n, ok := b.nodes[p]; ok {
		return n, nil
	}
	drv, err := b.loadDrv(ctx, p)
	if err != nil {
		return nil, err
	}
	n := &node{drvPath: p, drv: drv, wanted: map[string]bool{}}
	b.nodes[p] = n
	return n, nil
}

// inputItems marks n as to be built and returns its input derivations with
// the outputs it needs.
func (b *builder) inputItems(ctx context.Context, n *node) ([]item, error) {
	n.expanded = true
	var items []item
	for _, p := range sortedKeys(n.drv.InputDrvs) {
		d, err := b.getNode(ctx, p)
		if err != nil {
			return nil, err
		}
		items = append(items, item{d, n.drv.InputDrvs[p]})
	}
	return items, nil
}

// plan works breadth-first through queue: it records wanted outputs,
// decides for every derivation with missing outputs whether a substituter
// has them all (then they are fetched and its inputs are not needed) or it
// must be built (then its inputs are planned too), and wires dependency
// edges. Each round's substituter queries run in parallel. extra are nodes
// already expanded by the caller that need wiring. It returns the nodes
// that newly have a job.
func (b *builder) plan(ctx context.Context, queue []item, extra ...*node) ([]*node, error) {
	var added []*node
	expanded := append([]*node(nil), extra...)
	for len(queue) > 0 {
		var cands []*node
		inRound := map[*node]bool{}
		for _, it := range queue {
			n := it.n
			need := false
			for _, o := range it.outs {
				if n.wanted[o] {
					continue
				}
				n.wanted[o] = true
				valid, err := b.outputValid(ctx, n, o)
				if err != nil {
					return nil, err
				}
				if !valid {
					need = true
				}
			}
			if n.top && b.opts.Mode != Normal {
				n.forceBuild, need = true, true
			}
			if !need || n.expanded || n.started || n.done || inRound[n] {
				continue
			}
			inRound[n] = true
			cands = append(cands, n)
		}
		queue = nil
		if err := b.querySubstitutes(ctx, cands); err != nil {
			return nil, err
		}
		for _, n := range cands {
			if !n.needsBuild {
				n.needsBuild = true
				added = append(added, n)
			}
			if n.subst {
				continue
			}
			items, err := b.inputItems(ctx, n)
			if err != nil {
				return nil, err
			}
			expanded = append(expanded, n)
			queue = append(queue, items...)
		}
	}
	for _, n := range expanded {
		b.wire(n)
	}
	return added, nil
}

// wire sets n's dependencies: the input derivations that have a job and
// have not finished. A failed finished input fails n.
func (b *builder) wire(n *node) {
	n.deps, n.pending = nil, 0
	for _, p := range sortedKeys(n.drv.InputDrvs) {
		d := b.nodes[p]
		if d == nil || !d.needsBuild || d == n {
			continue
		}
		if d.done {
			if d.err != nil && n.err == nil {
				n.err = fmt.Errorf("%w: cannot build '%s': dependency '%s' failed", errDepFailed, n.drvPath, d.drvPath)
			}
			continue
		}
		n.deps = append(n.deps, d)
		d.rdeps = append(d.rdeps, n)
		n.pending++
	}
}

// querySubstitutes asks the substituters, in parallel, for the missing
// wanted outputs of cands and marks the nodes whose outputs are all
// available (with verified narinfos) for substitution.
func (b *builder) querySubstitutes(ctx context.Context, cands []*node) error {
	if b.opts.Substituter == nil {
		return nil
	}
	type query struct {
		n    *node
		path string
		info *cache.NarInfo
		err  error
	}
	var qs []*query
	for _, n := range cands {
		n.subst, n.fetch, n.fetchSize, n.narSize = false, nil, 0, 0
		if n.forceBuild || n.substFailed {
			continue
		}
		for _, o := range sortedKeys(n.wanted) {
			p := n.drv.Outputs[o].Path
			ok, err := b.st.IsValid(ctx, p)
			if err != nil {
				return fmt.Errorf("checking '%s': %w", p, err)
			}
			if !ok {
				qs = append(qs, &query{n: n, path: p})
			}
		}
	}
	sem := make(chan struct{}, b.opts.SubstituteJobs)
	var wg sync.WaitGroup
	for _, q := range qs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				q.err = ctx.Err()
				return
			}
			defer func() { <-sem }()
			q.info, q.err = b.opts.Substituter.QueryPathInfo(ctx, q.path)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	have := map[*node]bool{}
	for _, q := range qs {
		if _, seen := have[q.n]; !seen {
			have[q.n] = true
		}
		if q.err != nil {
			have[q.n] = false
			if !errors.Is(q.err, cache.ErrNotFound) {
				b.ui.note(fmt.Sprintf("warning: %v; will build '%s'", q.err, q.n.drvPath))
			}
		}
	}
	for _, q := range qs {
		if !have[q.n] {
			continue
		}
		n := q.n
		n.subst = true
		n.fetch = append(n.fetch, q.path)
		size := q.info.FileSize
		if size == 0 {
			size = q.info.NarSize
		}
		n.fetchSize += size
		n.narSize += q.info.NarSize
	}
	return nil
}

// substError is a failed substitution; the derivation is built instead.
type substError struct {
	path string
	err  error
}

func (e *substError) Error() string {
	return fmt.Sprintf("substitution of '%s' failed: %v", e.path, e.err)
}

func (e *substError) Unwrap() error { return e.err }

// substituteNode fetches n's missing outputs (and their closures).
func (b *builder) substituteNode(ctx context.Context, n *node) (err error) {
	b.ui.started(n)
	defer func() { b.ui.finished(n, err) }()
	for _, p := range n.fetch {
		if ferr := b.opts.Substituter.Fetch(ctx, p, b.st); ferr != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("substituting '%s': %w", p, ferr)
			}
			return &substError{path: p, err: ferr}
		}
	}
	return nil
}

// refCache memoises the references of valid paths (which cannot change
// while they are valid), so input closures cost no database queries
// beyond the first sight of each path.
type refCache struct {
	st   *store.Store
	mu   sync.Mutex
	refs map[string][]string
}

func newRefCache(st *store.Store) *refCache {
	return &refCache{st: st, refs: map[string][]string{}}
}

func (c *refCache) add(p string, refs []string) {
	c.mu.Lock()
	c.refs[p] = append([]string(nil), refs...)
	c.mu.Unlock()
}

// closure is QueryRequisites(paths) through the cache, sorted.
func (c *refCache) closure(ctx context.Context, paths []string) ([]string, error) {
	seen := map[string]bool{}
	queue := append([]string(nil), paths...)
	for len(queue) > 0 {
		p := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		if seen[p] {
			continue
		}
		c.mu.Lock()
		refs, ok := c.refs[p]
		c.mu.Unlock()
		if !ok {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			r, err := c.st.QueryReferences(ctx, p)
			if err != nil {
				return nil, err
			}
			c.add(p, r)
			refs = r
		}
		seen[p] = true
		queue = append(queue, refs...)
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}
