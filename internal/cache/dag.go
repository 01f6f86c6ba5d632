package cache

import (
	"context"
	"fmt"
	"sort"
	"sync"
)

// dagEdges indexes the graph for Kahn's algorithm: for each node the number
// of its deps within nodes (self edges and duplicates ignored), for each
// node the nodes that depend on it, and the nodes without deps, sorted.
func dagEdges(nodes []string, deps func(string) []string) (pending map[string]int, dependents map[string][]string, ready []string) {
	in := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		in[n] = true
	}
	pending = make(map[string]int, len(nodes))
	dependents = map[string][]string{}
	sorted := append([]string(nil), nodes...)
	sort.Strings(sorted)
	for _, n := range sorted {
		cnt := 0
		seen := map[string]bool{}
		for _, d := range deps(n) {
			if d == n || !in[d] || seen[d] {
				continue
			}
			seen[d] = true
			cnt++
			dependents[d] = append(dependents[d], n)
		}
		pending[n] = cnt
		if cnt == 0 {
			ready = append(ready, n)
		}
	}
	return pending, dependents, ready
}

// runDAG calls fn for every node with at most jobs calls running at once,
// starting a node only after fn has succeeded for all of its deps (deps
// outside nodes and self edges are ignored). On the first error it stops
// starting new nodes, waits for running ones and returns that error.
func runDAG(ctx context.Context, nodes []string, deps func(string) []string, jobs int, fn func(context.Context, string) error) error {
	if jobs < 1 {
		jobs = 1
	}
	pending, dependents, ready := dagEdges(nodes, deps)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		node string
		err  error
	}
	results := make(chan result)
	var wg sync.WaitGroup
	running, done := 0, 0
	var firstErr error
	for done < len(nodes) {
		for firstErr == nil && running < jobs && len(ready) > 0 {
			n := ready[0]
			ready = ready[1:]
			running++
			wg.Add(1)
			go func() {
				defer wg.Done()
				results <- result{n, fn(ctx, n)}
			}()
		}
		if running == 0 {
			break
		}
		r := <-results
		running--
		done++
		if r.err != nil {
			if firstErr == nil {
				firstErr = r.err
				cancel()
			}
			continue
		}
		for _, d := range dependents[r.node] {
			pending[d]--
			if pending[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if done < len(nodes) {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fmt.Errorf("reference cycle among %d paths", len(nodes)-done)
	}
	return nil
}
