package eval

import (
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

// Parsing ahead.
//
// An evaluation that imports many files (a module system, a package set)
// spends a good part of its time parsing them, on one core. When a file is
// imported, the files named by its path literals (`import ./x.nix`,
// `imports = [ ./y.nix ]`) are likely to be imported soon, so background
// goroutines on the other cores read and parse them, and importFile takes
// the finished tree instead of parsing the file itself.
//
// A file is never parsed twice on purpose: when the evaluator needs a file
// whose turn has not come, it claims and parses it itself; it waits only for
// a parse already under way. A background read or parse that fails is
// dropped, and the evaluator then reads and parses the file the usual way,
// so errors are reported exactly as without prefetching. Every file an
// evaluation actually imports is still read only once per evaluation (the
// tree comes from the same bytes that error messages quote).

// prefetchLimit bounds how many files one evaluation parses ahead, and
// prefetchMaxSize the size of a file worth parsing ahead.
const (
	prefetchLimit   = 20000
	prefetchMaxSize = 8 << 20
)

type prefetchState uint8

const (
	pfQueued  prefetchState = iota // waiting for a worker
	pfParsing                      // a worker is parsing it
	pfDone                         // parsed (or failed: tree is nil)
	pfClaimed                      // the evaluator took it over
)

type prefetchEntry struct {
	state prefetchState
	done  chan struct{} // closed when a worker has finished
	file  *syntax.File
	expr  syntax.Expr
	lits  []string // the file's path literals
}

// prefetcher parses files ahead of the evaluator. Its methods are safe for
// concurrent use; the evaluator itself stays single-threaded.
type prefetcher struct {
	home       string
	maxWorkers int

	mu      sync.Mutex
	seen    map[string]bool           // path literals already considered
	entries map[string]*prefetchEntry // by resolved import path
	queue   []string                  // resolved paths waiting for a worker
	workers int
}

// newPrefetcher returns a prefetcher using up to GOMAXPROCS-1 (at most 4)
// background goroutines, or nil on a single core, where parsing ahead would
// only compete with the evaluation.
func newPrefetcher(home string) *prefetcher {
	n := min(runtime.GOMAXPROCS(0)-1, 4)
	if n < 1 {
		return nil
	}
	return &prefetcher{home: home, maxWorkers: n, seen: map[string]bool{}, entries: map[string]*prefetchEntry{}}
}

// take returns the prefetched file and tree for the resolved import path p,
// waiting if a worker is parsing it. It returns ok=false when p was not
// prefetched or its prefetch failed (the caller then reads and parses it
// itself); a file still queued is claimed, so no worker parses it later.
func (pf *prefetcher) take(p string) (f *syntax.File, e syntax.Expr, lits []string, ok bool) {
	pf.mu.Lock()
	ent := pf.entries[p]
	if ent == nil {
		pf.entries[p] = &prefetchEntry{state: pfClaimed}
		pf.mu.Unlock()
		return nil, nil, nil, false
	}
	switch ent.state {
	case pfQueued:
		ent.state = pfClaimed
		pf.mu.Unlock()
		return nil, nil, nil, false
	case pfClaimed:
		pf.mu.Unlock()
		return nil, nil, nil, false
	}
	pf.mu.Unlock()
	<-ent.done
	if ent.expr == nil {
		return nil, nil, nil, false
	}
	return ent.file, ent.expr, ent.lits, true
}

// add considers the path literals of a file just parsed: those naming a
// Nix file (or a directory with a default.nix) are queued for parsing.
func (pf *prefetcher) add(lits []string) {
	if len(lits) == 0 {
		return
	}
	pf.mu.Lock()
	defer pf.mu.Unlock()
	for _, l := range lits {
		if pf.seen[l] || len(pf.seen) >= prefetchLimit {
			continue
		}
		pf.seen[l] = true
		pf.queue = append(pf.queue, l)
	}
	for pf.workers < pf.maxWorkers && pf.workers < len(pf.queue) {
		pf.workers++
		go pf.work()
	}
}

// work parses queued files until the queue is empty.
func (pf *prefetcher) work() {
	for {
		pf.mu.Lock()
		if len(pf.queue) == 0 {
			pf.workers--
			pf.mu.Unlock()
			return
		}
		lit := pf.queue[0]
		pf.queue = pf.queue[1:]
		pf.mu.Unlock()
		pf.parse(lit)
	}
}

// parse resolves one path literal as import would and parses the file.
func (pf *prefetcher) parse(lit string) {
	p := resolveImportPath(lit)
	if filepath.Ext(p) != ".nix" {
		return
	}
	st, err := os.Stat(p)
	if err != nil || !st.Mode().IsRegular() || st.Size() > prefetchMaxSize {
		return
	}
	pf.mu.Lock()
	if pf.entries[p] != nil {
		pf.mu.Unlock()
		return
	}
	ent := &prefetchEntry{state: pfParsing, done: make(chan struct{})}
	pf.entries[p] = ent
	pf.mu.Unlock()

	defer func() {
		// a parser bug must not take the process down from a background
		// goroutine: the evaluator parses the file again and reports it
		if recover() != nil {
			ent.expr = nil
		}
		pf.mu.Lock()
		ent.state = pfDone
		pf.mu.Unlock()
		close(ent.done)
		if ent.expr != nil {
			pf.add(ent.lits)
		}
	}()
	b, err := os.ReadFile(p)
	if err != nil {
		return
	}
	f := &syntax.File{Name: p, Dir: filepath.Dir(p), Src: b}
	var lits []string
	e, err := parseFile(f, syntax.Options{Home: pf.home, PathLiterals: &lits})
	if err != nil {
		return
	}
	ent.file, ent.expr, ent.lits = f, e, lits
}
