// Package build realises derivations: it loads a .drv closure from the
// store, works out which outputs are missing, and builds the missing ones in
// dependency order (up to MaxJobs at a time) in the Linux sandbox, then scans
// references, canonicalises and registers the outputs like Nix 2.8's
// LocalDerivationGoal.
package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"

	"github.com/onix-dev/onix/internal/build/sandbox"
	"github.com/onix-dev/onix/internal/cache"
	"github.com/onix-dev/onix/internal/nixcompat/derivation"
	"github.com/onix-dev/onix/internal/store"
)

// Mode is Nix's BuildMode.
type Mode int

const (
	// Normal builds missing outputs only.
	Normal Mode = iota
	// Check rebuilds the requested derivations (whose outputs must be valid)
	// and compares the result bit for bit (nix-build --check).
	Check
	// Rebuild rebuilds the requested derivations even if their outputs are
	// valid; where they are, the result is compared like Check (the
	// semantics of `nix build --rebuild`); where not, it is registered.
	Rebuild
)

// Options configure a Builder.
type Options struct {
	Store *store.Store
	// MaxJobs is how many builds run at once (-j); < 1 means 1.
	MaxJobs int
	// Cores is NIX_BUILD_CORES; 0 means the number of CPUs.
	Cores int
	// KeepGoing continues with independent builds after a failure.
	KeepGoing bool
	// KeepFailed keeps the build directory of failed builds.
	KeepFailed bool
	Mode       Mode
	// NoSandbox runs builders directly on the host; only possible when the
	// physical and logical store directories coincide (as in Nix, a store
	// with a different root always uses the sandbox).
	NoSandbox bool
	// InitExe/InitArgs re-execute this binary as the sandbox init (see
	// sandbox.ChildMain). InitExe defaults to /proc/self/exe.
	InitExe  string
	InitArgs []string
	// TmpDir is where build directories are created; default $TMPDIR.
	TmpDir string
	// BuildUIDBase is the first host uid used for builds when running as
	// root (one per concurrent build, locked across processes); 0 means
	// 872415232 (Nix's auto-allocate-uids start-id).
	BuildUIDBase int
	// System is this machine's platform; default x86_64-linux etc.
	System string
	// ExtraPlatforms is the `extra-platforms` setting: platforms besides
	// System this machine builds for. nil means DefaultExtraPlatforms.
	ExtraPlatforms []string
	// SystemFeatures is the `system-features` setting: what derivations may
	// require (requiredSystemFeatures). nil means DefaultSystemFeatures();
	// an empty non-nil slice means none.
	SystemFeatures []string
	// Status receives progress messages and, unless Quiet, build logs.
	Status io.Writer
	// Terminal draws a live status line instead of plain progress lines.
	Terminal bool
	// QuietBuildOutput hides builder output (it is still logged to the
	// store's log directory).
	QuietBuildOutput bool
	// Seccomp installs the syscall filter; default on (set DisableSeccomp).
	DisableSeccomp bool
	// Substituter, if set, is asked for missing outputs before a
	// derivation is built; what it has (with its closure) is fetched and
	// verified instead. A failed substitution is reported, naming the path
	// and cache, and the derivation is built instead.
	Substituter cache.Substituter
	// SubstituteJobs bounds concurrent substitutions (separately from
	// MaxJobs, like Nix's max-substitution-jobs); 0 means 16.
	SubstituteJobs int
}

// Result is the outcome for one requested derivation.
type Result struct {
	DrvPath string
	// Outputs maps output names to store paths (all outputs requested).
	Outputs map[string]string
	Err     error
}

// Request is one thing to realise: a .drv path with the outputs wanted
// (nil = all), or a plain store path (Outputs ignored).
type Request struct {
	Path    string
	Outputs []string
}

// ParseRequest parses "DRV", "DRV!out,dev" or "DRV^out" style arguments.
func ParseRequest(s string) Request {
	for _, sep := range []string{"!", "^"} {
		if i := strings.LastIndex(s, sep); i > 0 && strings.HasSuffix(s[:i], ".drv") {
			outs := strings.Split(s[i+1:], ",")
			if s[i+1:] == "*" || s[i+1:] == "" {
				outs = nil
			}
			return Request{Path: s[:i], Outputs: outs}
		}
	}
	return Request{Path: s}
}

// FailedError is the summary error of Realise when builds failed.
type FailedError struct {
	Failed []string // drv paths that failed
	Errs   []error
}

func (e *FailedError) Error() string {
	if len(e.Errs) == 1 {
		return e.Errs[0].Error()
	}
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		msgs[i] = err.Error()
	}
	return fmt.Sprintf("%s\nbuild of %s failed", strings.Join(msgs, "\n"), strings.Join(quoteAll(e.Failed), ", "))
}

func (e *FailedError) Unwrap() []error { return e.Errs }

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = "'" + s + "'"
	}
	return out
}

// node is one derivation in the closure to build.
type node struct {
	drvPath string
	drv     *derivation.Derivation
	// wanted is the set of outputs some requester needs.
	wanted map[string]bool
	// top marks a requested derivation (Check/Rebuild apply only to these).
	top bool
	// needsBuild after analysis.
	needsBuild bool
	deps       []*node // derivations that must be built first
	rdeps      []*node
	pending    int // unfinished deps
	err        error
	done       bool
	started    bool

	// Substitution: subst means the missing wanted outputs (fetch) are
	// fetched from the substituters instead of built; substFailed that
	// this was tried and failed, so the derivation is built instead.
	subst       bool
	substFailed bool
	fetch       []string
	fetchSize   uint64 // download size (FileSize, or NarSize)
	narSize     uint64
	// expanded: the input derivations were planned (needed to build).
	expanded bool
	// forceBuild: --check/--rebuild of a requested derivation.
	forceBuild bool
	// outLocks are the locks on the outputs, held while it builds.
	outLocks *store.PathLocks
	// lockWanted are the wanted outputs when the build started (n.wanted
	// may grow meanwhile, on the scheduler's goroutine).
	lockWanted []string
	// moreBuilds: when it started, other builds were still to start, so
	// the sandbox pool starts an init ahead for its slot (a session of a
	// single build does not pay for one).
	moreBuilds bool
}

// Realise makes the requested paths valid, building what is missing. The
// per-request results are returned even when some fail; err summarises the
// failures.
func Realise(ctx context.Context, opts Options, reqs []Request) ([]Result, error) {
	if opts.Store == nil {
		return nil, errors.New("build: no store")
	}
	if opts.MaxJobs < 1 {
		opts.MaxJobs = 1
	}
	if opts.Cores <= 0 {
		opts.Cores = runtime.NumCPU()
	}
	if opts.Status == nil {
		opts.Status = io.Discard
	}
	if opts.TmpDir == "" {
		opts.TmpDir = os.TempDir()
	}
	if opts.BuildUIDBase == 0 {
		opts.BuildUIDBase = 872415232
	}
	if opts.System == "" {
		opts.System = HostSystem()
	}
	if opts.SubstituteJobs <= 0 {
		opts.SubstituteJobs = 16
	}
	if !opts.NoSandbox || opts.Store.RealStoreDir() != string(opts.Store.StoreDir()) {
		opts.NoSandbox = false
	}
	b := &builder{opts: opts, st: opts.Store, nodes: map[string]*node{}, refs: newRefCache(opts.Store)}
	b.ui = newUI(opts.Status, opts.Terminal)
	b.ui.configure(opts.MaxJobs > 1, opts.QuietBuildOutput, opts.KeepGoing)
	return b.realise(ctx, reqs)
}

type builder struct {
	opts  Options
	st    *store.Store
	nodes map[string]*node
	users *userPool
	ui    *ui
	refs  *refCache
	// sandboxes is the session's sandbox pool (see schedule).
	sandboxes *sandbox.Pool
}

func (b *builder) loadDrv(ctx context.Context, drvPath string) (*derivation.Derivation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(b.st.RealPath(drvPath))
	if err != nil {
		return nil, fmt.Errorf("reading derivation '%s': %w", drvPath, err)
	}
	name := drvPath
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	drv, err := derivation.Parse(name, data)
	if err != nil {
		return nil, fmt.Errorf("parsing derivation '%s': %w", drvPath, err)
	}
	return drv, nil
}

// outputValid reports whether output o of n is a valid path.
func (b *builder) outputValid(ctx context.Context, n *node, o string) (bool, error) {
	out, ok := n.drv.Outputs[o]
	if !ok {
		return false, fmt.Errorf("derivation '%s' does not have wanted outputs '%s'", n.drvPath, o)
	}
	if out.Path == "" {
		return false, fmt.Errorf("derivation '%s': output '%s' has no fixed path (content-addressed derivations are not supported)", n.drvPath, o)
	}
	return b.st.IsValid(ctx, out.Path)
}

// analyse loads the closure below the requests and decides what to
// substitute and what to build (see plan).
func (b *builder) analyse(ctx context.Context, reqs []Request) ([]*node, error) {
	var tops []*node
	var queue []item
	for _, r := range reqs {
		n, err := b.getNode(ctx, r.Path)
		if err != nil {
			return nil, err
		}
		n.top = true
		outs := r.Outputs
		if outs == nil {
			outs = n.drv.OutputNames()
		}
		tops = append(tops, n)
		queue = append(queue, item{n, outs})
	}
	if _, err := b.plan(ctx, queue); err != nil {
		return nil, err
	}
	if err := checkCycles(b.nodes); err != nil {
		return nil, err
	}
	return tops, nil
}

func checkCycles(nodes map[string]*node) error {
	state := map[*node]int{}
	var visit func(n *node) error
	visit = func(n *node) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("cycle detected in the derivation graph at '%s'", n.drvPath)
		case 2:
			return nil
		}
		state[n] = 1
		for _, d := range n.deps {
			if err := visit(d); err != nil {
				return err
			}
		}
		state[n] = 2
		return nil
	}
	for _, n := range nodes {
		if err := visit(n); err != nil {
			return err
		}
	}
	return nil
}

func (b *builder) realise(ctx context.Context, reqs []Request) ([]Result, error) {
	results := make([]Result, len(reqs))
	var drvReqs []Request
	var drvIdx []int
	for i, r := range reqs {
		p, err := b.st.ParsePath(r.Path)
		if err != nil {
			results[i] = Result{DrvPath: r.Path, Err: fmt.Errorf("'%s' is not a valid store path: %w", r.Path, err)}
			continue
		}
		r.Path = p
		if !strings.HasSuffix(p, ".drv") || r.Outputs == nil && !isDrvRequest(r) {
			// Opaque path: it must be valid or substitutable.
			ok, err := b.st.IsValid(ctx, p)
			if err == nil && !ok {
				err = fmt.Errorf("path '%s' is not valid", p)
				if b.opts.Substituter != nil {
					if ferr := b.opts.Substituter.Fetch(ctx, p, b.st); ferr != nil {
						err = fmt.Errorf("path '%s' is not valid and cannot be substituted: %w", p, ferr)
					} else {
						err = nil
					}
				}
			}
			results[i] = Result{DrvPath: p, Outputs: map[string]string{"out": p}, Err: err}
			continue
		}
		results[i].DrvPath = p
		drvReqs = append(drvReqs, r)
		drvIdx = append(drvIdx, i)
	}
	var failErr *FailedError
	if len(drvReqs) > 0 {
		tops, err := b.analyse(ctx, drvReqs)
		if err != nil {
			return nil, err
		}
		if err := b.schedule(ctx); err != nil {
			return nil, err
		}
		for k, n := range tops {
			i := drvIdx[k]
			res := Result{DrvPath: n.drvPath, Outputs: map[string]string{}, Err: n.err}
			outs := drvReqs[k].Outputs
			if outs == nil {
				outs = n.drv.OutputNames()
			}
			for _, o := range outs {
				res.Outputs[o] = n.drv.Outputs[o].Path
			}
			results[i] = res
		}
		for _, n := range sortedNodes(b.nodes) {
			if n.err != nil && !errors.Is(n.err, errDepFailed) {
				if failErr == nil {
					failErr = &FailedError{}
				}
				failErr.Failed = append(failErr.Failed, n.drvPath)
				failErr.Errs = append(failErr.Errs, n.err)
			}
		}
	}
	for _, r := range results {
		if r.Err != nil && !strings.HasSuffix(r.DrvPath, ".drv") {
			if failErr == nil {
				failErr = &FailedError{}
			}
			failErr.Errs = append(failErr.Errs, r.Err)
		}
	}
	if failErr != nil {
		return results, failErr
	}
	return results, nil
}

// isDrvRequest: a bare .drv argument means "build it" (nix-store -r).
func isDrvRequest(r Request) bool { return strings.HasSuffix(r.Path, ".drv") }

func sortedNodes(m map[string]*node) []*node {
	out := make([]*node, 0, len(m))
	for _, n := range m {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].drvPath < out[j].drvPath })
	return out
}

var errDepFailed = errors.New("dependency failed")

// schedule runs all nodes that need substituting or building, respecting
// dependencies. Substitutions and builds run concurrently, each kind up to
// its own limit; a failed substitution turns its node into a build, whose
// inputs are then planned (and perhaps substituted) on the fly.
func (b *builder) schedule(parent context.Context) error {
	var todo []*node
	for _, n := range sortedNodes(b.nodes) {
		if n.needsBuild {
			todo = append(todo, n)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	users, err := newUserPool(b.st.StateDir(), b.opts.BuildUIDBase, b.opts.MaxJobs)
	if err != nil {
		return err
	}
	defer users.close()
	b.users = users
	// Per slot: the sandbox init of the next build, started ahead, and
	// sandbox roots to reuse; build directories are removed in the
	// background. Closed below, where its errors are reported.
	b.sandboxes = sandbox.NewPool()
	defer b.sandboxes.Close()
	defer b.ui.finish()
	b.ui.announce(todo)

	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	var ready []*node
	for _, n := range todo {
		if n.pending == 0 {
			ready = append(ready, n)
		}
	}
	all := todo
	// markDone propagates completion to dependents.
	var markDone func(n *node)
	markDone = func(n *node) {
		n.done = true
		for _, r := range n.rdeps {
			if r.done {
				continue
			}
			if n.err != nil {
				if r.err == nil {
					r.err = fmt.Errorf("%w: cannot build '%s': dependency '%s' failed", errDepFailed, r.drvPath, n.drvPath)
					b.ui.depFailed(r)
				}
				markDone(r)
				continue
			}
			r.pending--
			if r.pending == 0 {
				ready = append(ready, r)
			}
		}
	}
	freeSlots := make([]int, b.opts.MaxJobs)
	for i := range freeSlots {
		freeSlots[i] = b.opts.MaxJobs - 1 - i
	}
	type doneMsg struct {
		n    *node
		slot int
	}
	finished := make(chan doneMsg)
	running, substRunning, stopped := 0, 0, false
	start := func(n *node, slot int) {
		n.started = true
		n.lockWanted = sortedKeys(n.wanted)
		n.moreBuilds = false
		for _, o := range all {
			if !o.started && !o.done && !o.subst {
				n.moreBuilds = true
				break
			}
		}
		running++
		go func() {
			var err error
			if n.subst {
				err = b.substituteNode(ctx, n)
			} else {
				err = b.buildNode(ctx, n, slot)
			}
			if err != nil && ctx.Err() != nil {
				err = fmt.Errorf("%w: build of '%s' was interrupted", errDepFailed, n.drvPath)
				if parent.Err() != nil {
					err = fmt.Errorf("build of '%s' was interrupted: %w", n.drvPath, parent.Err())
				}
			}
			n.err = err
			finished <- doneMsg{n, slot}
		}()
	}
	for {
		if !stopped {
			cur := ready
			ready = nil
			for _, n := range cur {
				switch {
				case n.done || n.started:
				case n.err != nil: // a dependency failed before it was wired
					markDone(n)
				case n.subst && substRunning < b.opts.SubstituteJobs:
					substRunning++
					start(n, -1)
				case !n.subst && len(freeSlots) > 0:
					slot := freeSlots[len(freeSlots)-1]
					freeSlots = freeSlots[:len(freeSlots)-1]
					start(n, slot)
				default:
					ready = append(ready, n)
				}
			}
		}
		if running == 0 {
			break
		}
		m := <-finished
		running--
		if m.slot >= 0 {
			freeSlots = append(freeSlots, m.slot)
		} else {
			substRunning--
		}
		n := m.n
		var se *substError
		if n.err != nil && errors.As(n.err, &se) && ctx.Err() == nil {
			// Fall back to building: plan the inputs it now needs.
			b.ui.note(fmt.Sprintf("warning: %v; building '%s' instead", se, n.drvPath))
			n.err, n.subst, n.substFailed, n.started = nil, false, true, false
			b.ui.fallback(n)
			var added []*node
			items, err := b.inputItems(ctx, n)
			if err == nil {
				added, err = b.plan(ctx, items, n)
			}
			if err == nil {
				err = checkCycles(b.nodes)
			}
			if err != nil {
				n.err = err
			} else {
				all = append(all, added...)
				b.ui.addTotal(added)
				for _, a := range append(added, n) {
					if a.pending == 0 && !a.done {
						ready = append(ready, a)
					}
				}
				continue
			}
		}
		if n.err != nil && !b.opts.KeepGoing && !stopped {
			stopped = true
			cancel()
		}
		if parent.Err() != nil {
			stopped = true
		}
		markDone(n)
	}
	for _, n := range all {
		if !n.done {
			n.done = true
			if n.err == nil {
				n.err = fmt.Errorf("%w: '%s' was not built", errDepFailed, n.drvPath)
			}
		}
	}
	cleanupErr := b.sandboxes.Close()
	if err := parent.Err(); err != nil {
		return fmt.Errorf("build interrupted: %w", err)
	}
	if cleanupErr != nil {
		return fmt.Errorf("cleaning up after building: %w", cleanupErr)
	}
	return nil
}

// HostSystem is this machine's Nix system name (x86_64-linux, ...).
func HostSystem() string {
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "riscv64": "riscv64"}[runtime.GOARCH]
	if arch == "" {
		arch = runtime.GOARCH
	}
	return arch + "-" + runtime.GOOS
}
