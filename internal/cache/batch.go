package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/onix-dev/onix/internal/nixcompat/storepath"
	"github.com/onix-dev/onix/internal/store"
)

// BatchStore is a LocalStore that can import NARs in batches: restore and
// verify each into a temporary entry (PrepareNAR, in parallel), then make
// a whole batch durable with one sync and register it in one transaction
// (CommitNARs). *store.Store implements it; the substituter uses it when
// the store has it and falls back to AddNAR per path otherwise.
type BatchStore interface {
	LocalStore
	PrepareNAR(ctx context.Context, info *store.PathInfo, r io.Reader) (*store.PreparedNAR, error)
	CommitNARs(ctx context.Context, preps []*store.PreparedNAR) (*store.CommitResult, error)
}

var _ BatchStore = (*store.Store)(nil)

// substituteBatched substitutes the invalid part of the closures of roots
// into st as a pipeline. The closure is walked (walkClosure) while up to
// Jobs workers already download, decompress, verify and restore NARs into
// temporary entries: first in the order their narinfos arrive, and once
// the walk is complete, references first. Nothing is registered before
// the walk is complete; from then on this goroutine commits whatever has
// been prepared and whose references are valid or in the same batch, one
// sync and one transaction per batch (group commit: a batch is what
// arrived during the previous commit). On the first failure (of the walk
// or of a NAR) no new downloads start; after a NAR failure that comes
// once the walk is complete, the paths already prepared are still
// registered when their references are. It returns the paths registered,
// sorted.
//
// commitInterval is the shortest time between two commits of a
// substitution while results keep arriving.
const commitInterval = 50 * time.Millisecond

func (m *Multi) substituteBatched(ctx context.Context, roots []string, st BatchStore, progress func(string)) ([]string, error) {
	sd := st.StoreDir()
	jobs := max(m.opts.Jobs, 1)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The walk reports each path to substitute on discovered, then closes
	// it; need, order and walkErr are set before walked is closed.
	discovered := make(chan found)
	walked := make(chan struct{})
	var (
		need    map[string]*source
		order   []string
		walkErr error
	)
	go func() {
		defer close(walked)
		need, walkErr = m.walkClosure(wctx, roots, st, func(p string, s *source) {
			select {
			case discovered <- found{p, s}:
			case <-wctx.Done():
			}
		})
		close(discovered)
		if walkErr != nil {
			cancel()
			return
		}
		order = topoOrder(sd, need)
	}()

	// The feeder queues what the walk finds (the walk never waits for a
	// worker) and hands it out; once the walk is done, what is still
	// queued goes out references first.
	todo := make(chan found)
	go func() {
		defer close(todo)
		var queue []found
		in := discovered
		for in != nil || len(queue) > 0 {
			var out chan found
			var next found
			if len(queue) > 0 {
				out, next = todo, queue[0]
			}
			select {
			case it, ok := <-in:
				if ok {
					queue = append(queue, it)
					break
				}
				in = nil
				<-walked
				if walkErr != nil {
					return
				}
				queue = inOrder(queue, order)
			case out <- next:
				queue = queue[1:]
			case <-wctx.Done():
				return
			}
		}
	}()

	type result struct {
		path string
		prep *store.PreparedNAR
		err  error
	}
	// Roomy, so workers seldom wait for a commit.
	results := make(chan result, 1024)
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range todo {
				prep, err := prepareOne(wctx, it.src.cache, it.src.info, st)
				results <- result{it.path, prep, err}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()

	prepared := map[string]*store.PreparedNAR{}
	registered := map[string]bool{}
	defer func() {
		for _, p := range prepared {
			p.Discard()
		}
	}()
	var done []string
	var errs []error
	fail := func(err error) {
		if len(errs) == 0 {
			cancel()
		}
		errs = append(errs, err)
	}
	walkDone := false // set once walked is closed and the walk succeeded
	commit := func() {
		if !walkDone {
			return
		}
		batch := committable(sd, order, need, prepared, registered)
		if len(batch) == 0 {
			return
		}
		for _, p := range batch {
			delete(prepared, p.Path())
		}
		res, err := st.CommitNARs(ctx, batch)
		if err != nil {
			fail(fmt.Errorf("substituting %s and %d more paths: %w", batch[0].Path(), len(batch)-1, err))
			return
		}
		for _, p := range res.Registered {
			registered[p] = true
			done = append(done, p)
			if progress != nil {
				progress(p)
			}
		}
		paths := make([]string, 0, len(res.Failed))
		for p := range res.Failed {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			fail(fmt.Errorf("substituting %s from %s: %w", p, need[p].cache.URL(), res.Failed[p]))
		}
	}
	handle := func(r result) {
		switch {
		case r.err != nil:
			// After the first failure, workers fail with the cancellation:
			// keep the cause only.
			if len(errs) == 0 || wctx.Err() == nil {
				fail(r.err)
			}
		case r.prep != nil:
			prepared[r.path] = r.prep
		}
	}
	// Commits (each one syncfs and one transaction) come at most every
	// commitInterval while results keep arriving: fewer, larger batches.
	var last time.Time
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	walkedC := walked
	for open := true; open; {
		select {
		case <-walkedC:
			walkedC = nil
			walkDone = walkErr == nil
			if walkDone && time.Since(last) >= commitInterval {
				commit()
				last = time.Now()
			}
		case r, ok := <-results:
			if !ok {
				open = false
				break
			}
			handle(r)
			if wait := commitInterval - time.Since(last); wait > 0 {
				if !armed {
					timer.Reset(wait)
					armed = true
				}
				break
			}
			commit()
			last = time.Now()
		case <-timer.C:
			armed = false
			commit()
			last = time.Now()
		}
	}
	timer.Stop()
	<-walked
	// A walk that failed by itself is the cause (the workers then failed
	// with the cancellation); a cancelled walk is a consequence of a NAR
	// failure, or of ctx.
	if walkErr != nil && (len(errs) == 0 || !errors.Is(walkErr, context.Canceled)) {
		return nil, walkErr
	}
	if walkErr == nil {
		walkDone = true
		commit()
	}
	if len(errs) == 0 && len(prepared) > 0 {
		var left []string
		for p := range prepared {
			left = append(left, p)
		}
		sort.Strings(left)
		errs = append(errs, fmt.Errorf("cannot substitute %s and %d more paths: reference cycle or missing reference", left[0], len(left)-1))
	}
	sort.Strings(done)
	if len(errs) > 0 {
		if ctx.Err() != nil {
			return done, fmt.Errorf("substituting: %w", ctx.Err())
		}
		return done, errors.Join(errs...)
	}
	return done, nil
}

// prepareOne downloads, decompresses, verifies and restores one NAR into
// a temporary entry of st. The error names the path and the cache.
func prepareOne(ctx context.Context, c *BinaryCache, ni *NarInfo, st BatchStore) (*store.PreparedNAR, error) {
	// PrepareNAR hashes the NAR itself; the reader still bounds its size.
	rc, err := c.openNAR(ctx, ni, false)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	prep, err := st.PrepareNAR(ctx, pathInfoFromNarInfo(st.StoreDir(), ni), rc)
	if err != nil {
		return nil, fmt.Errorf("substituting %s from %s: %w", ni.StorePath, c.URL(), err)
	}
	return prep, nil
}

// found is a path to substitute and where from.
type found struct {
	path string
	src  *source
}

// inOrder sorts queue by the paths' positions in order (stable; paths not
// in order go last).
func inOrder(queue []found, order []string) []found {
	pos := make(map[string]int, len(order))
	for i, p := range order {
		pos[p] = i
	}
	at := func(p string) int {
		if i, ok := pos[p]; ok {
			return i
		}
		return len(order)
	}
	sort.SliceStable(queue, func(i, j int) bool { return at(queue[i].path) < at(queue[j].path) })
	return queue
}

// committable returns the prepared paths whose references are all valid
// (outside need), registered, or committable themselves, in order.
func committable(sd storepath.StoreDir, order []string, need map[string]*source, prepared map[string]*store.PreparedNAR, registered map[string]bool) []*store.PreparedNAR {
	ok := map[string]bool{}
	var out []*store.PreparedNAR
	// order has references first, so one pass settles everything but
	// cycles (which Nix does not allow between distinct paths anyway).
	for _, p := range order {
		prep := prepared[p]
		if prep == nil {
			continue
		}
		good := true
		for _, r := range fullRefs(sd, need[p].info) {
			if r == p || registered[r] || ok[r] {
				continue
			}
			if _, needed := need[r]; !needed {
				continue // valid when the closure was walked
			}
			good = false
			break
		}
		if good {
			ok[p] = true
			out = append(out, prep)
		}
	}
	return out
}

// topoOrder sorts the paths of need references first (ties by name); paths
// in a reference cycle come last.
func topoOrder(sd storepath.StoreDir, need map[string]*source) []string {
	names := make([]string, 0, len(need))
	for p := range need {
		names = append(names, p)
	}
	sort.Strings(names)
	pending, dependents, ready := dagEdges(names, func(p string) []string { return fullRefs(sd, need[p].info) })
	order := make([]string, 0, len(names))
	for len(ready) > 0 {
		p := ready[0]
		ready = ready[1:]
		order = append(order, p)
		for _, d := range dependents[p] {
			if pending[d]--; pending[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	if len(order) < len(names) {
		in := make(map[string]bool, len(order))
		for _, p := range order {
			in[p] = true
		}
		for _, p := range names {
			if !in[p] {
				order = append(order, p)
			}
		}
	}
	return order
}
