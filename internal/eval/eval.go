package eval

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

// Store is the hook through which evaluation writes to a Nix store. A nil
// Store means read-only mode (nix-instantiate --eval): store paths are only
// computed.
type Store interface {
	// AddText writes a text file (builtins.toFile) and returns its path.
	AddText(name, text string, refs []string) (string, error)
	// AddPath copies a file system path into the store (path coercion,
	// builtins.path, filterSource) and returns its store path.
	AddPath(name, srcPath string, recursive bool, filter func(path string, mode fs.FileMode) bool) (string, error)
	// WriteDerivation writes a .drv with the given ATerm text and
	// references and returns its path.
	WriteDerivation(name, aterm string, refs []string) (string, error)
}

// PathComputer computes store paths without writing (read-only mode); set by
// the store layer. Nil: coercing a path to a string in read-only mode fails.
type PathComputer interface {
	ComputePath(name, srcPath string, recursive bool) (string, error)
}

// Options configures an Evaluator.
type Options struct {
	// SearchPath holds -I / NIX_PATH entries in priority order: "prefix=path"
	// or a bare directory.
	SearchPath []string
	// System is builtins.currentSystem (default: from GOARCH/GOOS).
	System string
	// Store receives writes; nil is read-only mode.
	Store Store
	// Paths computes store paths in read-only mode (may be nil).
	Paths PathComputer
	// StoreDir is the store directory (default /nix/store).
	StoreDir string
	// MaxCallDepth bounds nested function calls. The default, 200000, is
	// above current Nix's max-call-depth (10000) because Nix 2.8 had no such
	// limit and real code (and the deep-recursion benchmark, 50k frames deep)
	// recurses further; --max-call-depth sets it like Nix's option.
	MaxCallDepth int
	// MaxNestingDepth bounds how deep toJSON and toXML descend into nested
	// values (default 10000, current Nix's max-call-depth, which its
	// serialisers count against): a 100000-deep linked list is a clean
	// error, as in current Nix (eval-fail-toJSON-stack-overflow).
	MaxNestingDepth int
	// ShowTrace is kept for callers; frames are always collected.
	ShowTrace bool
	// Stderr receives builtins.trace output (default os.Stderr).
	Stderr io.Writer
	// Getenv reads environment variables (default os.Getenv).
	Getenv func(string) string
	// FS maps search-path names to embedded file systems, e.g. "onix" →
	// the module library; files in them are named "<onix/...>" … see
	// embeddedRoot.
	FS map[string]fs.FS
	// Features lists enabled experimental features (e.g. parse-toml-timestamps).
	Features []string
	// CacheDir is where embedded file systems are materialised and where
	// the fetchers keep their caches (default $XDG_CACHE_HOME/onix).
	CacheDir string
	// TarballTTL is Nix's tarball-ttl: how long a fetched Git ref or an
	// unpinned download is used without asking the server again. Zero
	// means Nix's default, an hour; AlwaysRevalidate asks every time.
	TarballTTL time.Duration
	// MaxSteps bounds the number of calls (approximately, in units of
	// 65536); 0 means unlimited. For fuzzing and sandboxed evaluation.
	MaxSteps int64
	// Home is where `~/` paths point (default $HOME via Getenv).
	Home string
	// LintAbsolutePath, LintShortPath, LintURL are Nix's
	// lint-absolute-path-literals, lint-short-path-literals and
	// lint-url-literals settings: LintIgnore, LintWarn or LintFatal.
	LintAbsolutePath, LintShortPath, LintURL string
}

// AlwaysRevalidate is the TarballTTL of `tarball-ttl = 0`.
const AlwaysRevalidate time.Duration = -1

// Evaluator evaluates Nix expressions. It is not safe for concurrent use.
type Evaluator struct {
	ctx        context.Context
	opts       Options
	syms       *symtab
	baseEnv    *Env
	base       *scope
	builtins   *Value
	imports    map[string]*Value
	files      map[string]*syntax.File
	depth      int
	jsonDepth  int // nesting of the toJSON in progress (Options.MaxNestingDepth)
	steps      uint32
	bigSteps   int64 // steps / 65536, for MaxSteps
	primops    map[string]*PrimOp
	regexCache map[string]*regexp.Regexp
	freeEnv    *Env            // reusable 3-slot environments, linked through up
	argBuf     []*Value        // room for argument lists, see argSlice
	intSlab    []scalarCell    // room for int cells, see newInt
	envSlab    []Env           // room for one-slot environments, see newEnv1
	embedDirs  map[string]bool // materialised Options.FS directories (onixlib.go)
	nativeVal  *Value          // the native helpers of the embedded lib (onixlib.go)
	pf         *prefetcher     // parses imported files ahead (prefetch.go)
	noPrefetch bool            // a single core: no prefetcher

	sOutPath, sType, sToString, sFunctor, sName, sValue, sDrvPath, sOutputs, sKey, sOutputName Symbol
}

// New creates an evaluator.
func New(ctx context.Context, opts Options) *Evaluator {
	if opts.MaxCallDepth == 0 {
		opts.MaxCallDepth = 200000
	}
	if opts.MaxNestingDepth == 0 {
		opts.MaxNestingDepth = 10000
	}
	if opts.StoreDir == "" {
		opts.StoreDir = "/nix/store"
	}
	if opts.System == "" {
		arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i686"}[runtime.GOARCH]
		if arch == "" {
			arch = runtime.GOARCH
		}
		opts.System = arch + "-" + runtime.GOOS
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if opts.Home == "" {
		opts.Home = opts.Getenv("HOME")
	}
	ev := &Evaluator{ctx: ctx, opts: opts, syms: newSymtab(), imports: map[string]*Value{}, files: map[string]*syntax.File{}}
	ev.sOutPath = ev.syms.Intern("outPath")
	ev.sType = ev.syms.Intern("type")
	ev.sToString = ev.syms.Intern("__toString")
	ev.sFunctor = ev.syms.Intern("__functor")
	ev.sName = ev.syms.Intern("name")
	ev.sValue = ev.syms.Intern("value")
	ev.sDrvPath = ev.syms.Intern("drvPath")
	ev.sOutputs = ev.syms.Intern("outputs")
	ev.sKey = ev.syms.Intern("key")
	ev.sOutputName = ev.syms.Intern("outputName")
	ev.initBuiltins()
	return ev
}

// Symbols exposes interning for builtins in other files.
func (ev *Evaluator) Intern(s string) Symbol { return ev.syms.Intern(s) }

// SymbolName returns a symbol's text.
func (ev *Evaluator) SymbolName(s Symbol) string { return ev.syms.Name(s) }

// catch runs f, converting a raised *Error into a returned error.
func (ev *Evaluator) catch(f func()) (err error) {
	depth := ev.depth
	defer func() {
		if r := recover(); r != nil {
			ev.depth = depth
			if e, ok := r.(*Error); ok {
				err = e
				return
			}
			if re, ok := r.(runtime.Error); ok && strings.Contains(re.Error(), "stack") {
				err = &Error{Kind: ErrStackOverflow, Msg: "stack overflow"}
				return
			}
			err = &Error{Msg: fmt.Sprintf("internal error: %v", r)}
		}
	}()
	f()
	return nil
}

// ParseFile parses a file or text.
func (ev *Evaluator) parse(f *syntax.File) syntax.Expr { return ev.parseWith(f, nil) }

// parseWith is parse, collecting the text's path literals in lits (when
// not nil) for the prefetcher.
func (ev *Evaluator) parseWith(f *syntax.File, lits *[]string) syntax.Expr {
	e, err := parseFile(f, syntax.Options{Home: ev.opts.Home, PathLiterals: lits})
	if err != nil {
		if pe, ok := err.(*Error); ok {
			panic(pe)
		}
		panic(&Error{Msg: err.Error(), Parse: err})
	}
	return e
}

// EvalExpr compiles and evaluates a parsed expression in the base scope and
// returns its value in weak head normal form.
func (ev *Evaluator) EvalExpr(e syntax.Expr) (v *Value, err error) {
	err = ev.catch(func() {
		c := (&compiler{ev: ev}).compile(e, ev.base)
		v = c.eval(ev, ev.baseEnv)
	})
	return
}

// EvalString parses and evaluates text (as -E does); dir resolves relative
// paths.
func (ev *Evaluator) EvalString(text, name, dir string) (v *Value, err error) {
	err = ev.catch(func() {
		f := &syntax.File{Name: name, Dir: dir, Src: []byte(text)}
		e := ev.parse(f)
		c := (&compiler{ev: ev}).compile(e, ev.base)
		v = c.eval(ev, ev.baseEnv)
	})
	return
}

// EvalFile evaluates a file (import semantics, directories → default.nix).
func (ev *Evaluator) EvalFile(path string) (v *Value, err error) {
	err = ev.catch(func() { v = ev.importFile(path, syntax.Pos{}) })
	return
}

// Force evaluates v to weak head normal form (in place), returning an error.
func (ev *Evaluator) Force(v *Value) error { return ev.catch(func() { ev.force(v) }) }

// ForceDeep evaluates v completely.
func (ev *Evaluator) ForceDeep(v *Value) error {
	return ev.catch(func() { ev.forceDeep(v, syntax.Pos{}) })
}

// Call applies f to args, returning the result or an error.
func (ev *Evaluator) Call(f *Value, args ...*Value) (r *Value, err error) {
	err = ev.catch(func() { r = ev.callN(f, args, syntax.Pos{}) })
	return
}

// force evaluates v to weak head normal form in place.
func (ev *Evaluator) force(v *Value) {
	if v.kind >= KThunk {
		ev.forceSlow(v, syntax.Pos{})
	}
}

// ForceValue is force for builtins in other packages.
func (ev *Evaluator) ForceValue(v *Value) { ev.force(v) }

func (ev *Evaluator) forceSlow(v *Value, pos syntax.Pos) {
	switch v.kind {
	case KThunk:
		env, l := (*Env)(v.p), (*lazy)(v.q)
		v.kind = KBlackhole
		done := false
		defer func() {
			if !done {
				v.kind = KThunk
			}
		}()
		if pb, ok := l.c.(*primBinCode); ok {
			// arithmetic straight into the thunk's cell
			r := pb.value(ev, env)
			*v = r
		} else {
			r := l.c.eval(ev, env)
			*v = *r
		}
		done = true
	case KApp:
		f, a := (*Value)(v.p), (*Value)(v.q)
		v.kind = KBlackhole
		done := false
		defer func() {
			if !done {
				v.kind = KApp
			}
		}()
		var r *Value
		if f.kind == KApp && isCurried((*Value)(f.p)) {
			// (g x) y with g = x: y: …: enter g with both arguments,
			// without materialising the closure g x (the inner
			// application cell is not updated; redoing it is cheap).
			r = ev.call2((*Value)(f.p), (*Value)(f.q), a, pos)
		} else {
			r = ev.call1(f, a, pos)
		}
		*v = *r
		done = true
	case KBlackhole:
		if !pos.IsValid() {
			if l := (*lazy)(v.q); l != nil {
				pos = l.c.pos()
			}
		}
		panic(&Error{Kind: ErrInfiniteRecursion, Msg: "infinite recursion encountered", Pos: pos})
	}
}

func (ev *Evaluator) tick(pos syntax.Pos) {
	ev.steps++
	if ev.steps&0xffff == 0 {
		ev.tickSlow(pos)
	}
}

// tickSlow is tick's periodic check for cancellation and the step limit
// (out of line, so that tick is inlined).
func (ev *Evaluator) tickSlow(pos syntax.Pos) {
	if err := ev.ctx.Err(); err != nil {
		panic(&Error{Kind: ErrCanceled, Msg: "evaluation canceled: " + err.Error(), Pos: pos})
	}
	if ev.opts.MaxSteps > 0 {
		ev.bigSteps++
		if ev.bigSteps > ev.opts.MaxSteps>>16 {
			panic(&Error{Kind: ErrCanceled, Msg: "evaluation canceled: step limit exceeded", Pos: pos})
		}
	}
}

// call1 applies f to one argument; the result is forced.
func (ev *Evaluator) call1(f, arg *Value, pos syntax.Pos) *Value {
	if f.kind == KLambda {
		return ev.callLambdaIn(f.lambda(), f.env(), arg, pos)
	}
	return ev.call1Slow(f, arg, pos)
}

func (ev *Evaluator) call1Slow(f, arg *Value, pos syntax.Pos) *Value {
	ev.force(f)
	switch f.kind {
	case KLambda:
		return ev.callLambda(f, arg, pos)
	case KPrimOp:
		op := f.PrimOp()
		if op.Arity > 1 {
			return &Value{kind: KPrimOpApp, p: unsafe.Pointer(&primOpApp{op: op, args: []*Value{arg}})}
		}
	case KPrimOpApp:
		// the last missing argument: one allocation for the argument list
		pa := f.primOpApp()
		if n := len(pa.args); pa.op.Arity-n == 1 {
			a := ev.argSlice(n + 1)
			copy(a, pa.args)
			a[n] = arg
			return ev.callPrimOp(pa.op, a, pos)
		}
	}
	a := ev.argSlice(1)
	a[0] = arg
	return ev.callN(f, a, pos)
}

// slabSize is how many int cells or one-slot environments newInt and
// newEnv1 cut from one allocation. A slab stays alive while any of its
// cells is referenced, so it is kept small.
const slabSize = 32

// newInt is MkInt with a new cell, when one is needed, cut from a shared
// block: one allocation for many cells.
func (ev *Evaluator) newInt(i int64) *Value {
	if i >= -1 && i < 1024 {
		return &smallInts[i+1]
	}
	if len(ev.intSlab) == 0 {
		ev.intSlab = make([]scalarCell, slabSize)
	}
	c := &ev.intSlab[0]
	ev.intSlab = ev.intSlab[1:]
	c.kind, c.n = KInt, i
	return (*Value)(unsafe.Pointer(c))
}

// newEnv1 is newEnv(up, 1), cut from a shared block.
func (ev *Evaluator) newEnv1(up *Env) *Env {
	if len(ev.envSlab) == 0 {
		ev.envSlab = make([]Env, slabSize)
	}
	e := &ev.envSlab[0]
	ev.envSlab = ev.envSlab[1:]
	e.up = up
	return e
}

// argSlice returns an argument list of n slots for a primop call (a
// primop may keep it, so it cannot live on the stack): lists are cut from
// a shared block, one allocation for many calls.
func (ev *Evaluator) argSlice(n int) []*Value {
	if len(ev.argBuf) < n {
		ev.argBuf = make([]*Value, max(n, 32))
	}
	a := ev.argBuf[:n:n]
	ev.argBuf = ev.argBuf[n:]
	return a
}

// CallFunction is callN for builtins: applies f to args, result forced.
func (ev *Evaluator) CallFunction(f *Value, args []*Value, pos syntax.Pos) *Value {
	return ev.callN(f, args, pos)
}

func (ev *Evaluator) callN(f *Value, args []*Value, pos syntax.Pos) *Value {
	for len(args) > 0 {
		ev.force(f)
		switch f.kind {
		case KLambda:
			if len(args) >= 2 && isCurried(f) {
				f = ev.call2(f, args[0], args[1], pos)
				args = args[2:]
				continue
			}
			f = ev.callLambda(f, args[0], pos)
			args = args[1:]
		case KPrimOp:
			op := f.PrimOp()
			if len(args) < op.Arity {
				a := append([]*Value(nil), args...)
				return &Value{kind: KPrimOpApp, p: unsafe.Pointer(&primOpApp{op: op, args: a})}
			}
			f = ev.callPrimOp(op, args[:op.Arity], pos)
			args = args[op.Arity:]
		case KPrimOpApp:
			pa := f.primOpApp()
			need := pa.op.Arity - len(pa.args)
			if len(args) < need {
				a := append(append([]*Value(nil), pa.args...), args...)
				return &Value{kind: KPrimOpApp, p: unsafe.Pointer(&primOpApp{op: pa.op, args: a})}
			}
			a := append(append(make([]*Value, 0, pa.op.Arity), pa.args...), args[:need]...)
			f = ev.callPrimOp(pa.op, a, pos)
			args = args[need:]
		case KAttrs:
			fn, ok := f.Attrs().Get(ev.sFunctor)
			if !ok {
				ev.errorAt(pos, "attempt to call something which is not a function but %s", f.TypeName())
			}
			g := ev.call1(fn.Val, f, pos)
			f = ev.call1(g, args[0], pos)
			args = args[1:]
		default:
			ev.errorAt(pos, "attempt to call something which is not a function but %s", f.TypeName())
		}
	}
	ev.force(f)
	return f
}

func (ev *Evaluator) callPrimOp(op *PrimOp, args []*Value, pos syntax.Pos) *Value {
	ev.tick(pos)
	r := op.Fn(ev, pos, args)
	ev.force(r)
	return r
}

func (ev *Evaluator) lambdaName(lc *lambdaCode) string {
	if lc.name == "" {
		return "anonymous lambda"
	}
	return "'" + lc.name + "'"
}

// call2 applies f to two arguments, result forced. A curried lambda
// `x: y: body` is entered directly, without materialising the closure that
// `f x` would return.
func (ev *Evaluator) call2(f, a, b *Value, pos syntax.Pos) *Value {
	if f.kind == KLambda && !ev.opts.ShowTrace {
		lc := f.lambda()
		if inner, ok := lc.body.(*lambdaCode); ok && lc.formals == nil {
			if ev.depth+2 > ev.opts.MaxCallDepth {
				return ev.call1(ev.callLambda(f, a, pos), b, pos)
			}
			ev.tick(pos)
			if inner.formals == nil && inner.noEscape {
				// both frames from the free list
				ev.tick(pos)
				outer := ev.takeEnv(f.env())
				outer.v0 = a
				env := ev.takeEnv(outer)
				env.v0 = b
				ev.depth++
				r := inner.body.eval(ev, env)
				ev.depth--
				ev.releaseEnv(env)
				ev.releaseEnv(outer)
				return r
			}
			if inner.formals == nil {
				// both frames in one allocation
				ev.tick(pos)
				pair := &[2]Env{{up: f.env(), v0: a}, {v0: b}}
				pair[1].up = &pair[0]
				ev.depth++
				r := inner.body.eval(ev, &pair[1])
				ev.depth--
				return r
			}
			env := newEnv(f.env(), 1)
			env.set(0, a)
			return ev.callLambdaIn(inner, env, b, pos)
		}
		return ev.call1(ev.callLambda(f, a, pos), b, pos)
	}
	args := ev.argSlice(2)
	args[0], args[1] = a, b
	return ev.callN(f, args, pos)
}

// isCurried reports whether f is a lambda `x: y: …` (no formals on the
// outer one), which call2 enters with both arguments at once.
func isCurried(f *Value) bool {
	if f.kind != KLambda {
		return false
	}
	lc := f.lambda()
	_, ok := lc.body.(*lambdaCode)
	return ok && lc.formals == nil
}

func (ev *Evaluator) callLambda(f, arg *Value, pos syntax.Pos) *Value {
	return ev.callLambdaIn(f.lambda(), f.env(), arg, pos)
}

// callLambdaIn calls the lambda lc closed over env.
func (ev *Evaluator) callLambdaIn(lc *lambdaCode, closure *Env, arg *Value, pos syntax.Pos) *Value {
	ev.depth++
	if ev.depth > ev.opts.MaxCallDepth {
		ev.depth = 0
		panic(&Error{Kind: ErrStackOverflow, Msg: "stack overflow; max-call-depth exceeded", Pos: pos})
	}
	ev.tick(pos)
	if lc.noEscape && !ev.opts.ShowTrace {
		return ev.callNoEscape(lc, closure, arg, pos)
	}
	var env *Env
	if lc.nslots <= 1 {
		env = ev.newEnv1(closure)
	} else {
		env = newEnv(closure, lc.nslots)
	}
	if lc.formals == nil {
		env.set(0, arg)
	} else {
		ev.bindFormals(lc, env, arg, pos)
	}
	if ev.opts.ShowTrace {
		return ev.evalBodyTraced(lc, env, pos)
	}
	r := lc.body.eval(ev, env)
	ev.depth--
	return r
}

// callNoEscape is the rest of callLambdaIn for a lambda whose environment
// does not outlive the call: it is taken from the free list and put back
// after the body returns (an error passing through just leaves it to the
// garbage collector).
func (ev *Evaluator) callNoEscape(lc *lambdaCode, closure *Env, arg *Value, pos syntax.Pos) *Value {
	env := ev.takeEnv(closure)
	if lc.formals == nil {
		env.v0 = arg
	} else {
		ev.bindFormals(lc, env, arg, pos)
	}
	r := lc.body.eval(ev, env)
	ev.depth--
	ev.releaseEnv(env)
	return r
}

// takeEnv returns a 3-slot environment under up from the free list.
func (ev *Evaluator) takeEnv(up *Env) *Env {
	e := ev.freeEnv
	if e == nil {
		e3 := &env3{}
		e3.up = up
		return &e3.Env
	}
	ev.freeEnv = e.up
	e.up = up
	return e
}

// releaseEnv puts an environment from takeEnv back on the free list.
func (ev *Evaluator) releaseEnv(e *Env) {
	e3 := (*env3)(unsafe.Pointer(e))
	e3.v0, e3.v[0], e3.v[1] = nil, nil, nil
	e.up = ev.freeEnv
	ev.freeEnv = e
}

// evalBodyTraced is the end of callLambdaIn with --show-trace: the call
// adds its frames to an error passing through (kept out of callLambdaIn so
// that deep recursion does not pay for the deferred closure's stack space).
func (ev *Evaluator) evalBodyTraced(lc *lambdaCode, env *Env, pos syntax.Pos) *Value {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(*Error); ok {
				e.Trace = append(e.Trace, Frame{Pos: lc.p, Msg: "while evaluating " + ev.lambdaName(lc)}, Frame{Pos: pos, Msg: "from call site"})
			}
			panic(r)
		}
	}()
	r := lc.body.eval(ev, env)
	ev.depth--
	return r
}

func (ev *Evaluator) bindFormals(lc *lambdaCode, env *Env, arg *Value, pos syntax.Pos) {
	ev.force(arg)
	if arg.kind != KAttrs {
		ev.errorAt(pos, "value is %s while a set was expected", arg.TypeName())
	}
	attrs := arg.Attrs()
	if lc.argName != "" {
		env.set(lc.argSlot, arg)
	}
	used := 0
	for i := range lc.fs {
		fm := &lc.fs[i]
		if a, ok := attrs.Get(fm.sym); ok {
			env.set(i, a.Val)
			used++
		} else if fm.def != nil {
			env.set(i, fm.def.get(env))
		} else {
			panic(&Error{Msg: fmt.Sprintf("%s at %s called without required argument '%s'", ev.lambdaName(lc), posString(lc.p), fm.name), Pos: pos})
		}
	}
	if !lc.ellipsis && used < attrs.Len() {
		var names []string
		for _, x := range lc.fs {
			names = append(names, x.name)
		}
		var bad []string
		for _, a := range attrs.list {
			n := ev.syms.Name(a.Name)
			found := false
			for _, x := range lc.fs {
				if x.sym == a.Name {
					found = true
				}
			}
			if !found {
				bad = append(bad, n)
			}
		}
		sortStrings(bad)
		panic(&Error{Msg: fmt.Sprintf("%s at %s called with unexpected argument '%s'", ev.lambdaName(lc), posString(lc.p), bad[0]), Pos: pos, Hint: suggest(bad[0], names)})
	}
}

// forceDeep evaluates v and everything reachable from it. The attribute
// path is kept in a slice and turned into trace frames by one recover at
// the top (re-panicking at every level is quadratic in Go).
func (ev *Evaluator) forceDeep(v *Value, pos syntax.Pos) {
	seen := map[unsafe.Pointer]bool{}
	var path []Attr
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(*Error); ok {
				for i := len(path) - 1; i >= 0; i-- {
					e.Trace = append(e.Trace, Frame{Pos: derefPos(path[i].Pos), Msg: "while evaluating the attribute '" + ev.syms.Name(path[i].Name) + "'"})
				}
			}
			panic(r)
		}
	}()
	var rec func(v *Value)
	rec = func(v *Value) {
		ev.force(v)
		switch v.kind {
		case KAttrs:
			if seen[v.p] {
				return
			}
			seen[v.p] = true
			for _, a := range v.Attrs().list {
				path = append(path, a)
				rec(a.Val)
				path = path[:len(path)-1]
			}
		case KList:
			if v.n == 0 || seen[v.p] {
				return
			}
			seen[v.p] = true
			for _, e := range v.List() {
				rec(e)
			}
		}
	}
	rec(v)
}

func derefPos(p *syntax.Pos) syntax.Pos {
	if p == nil {
		return syntax.Pos{}
	}
	return *p
}

// ---- strings and coercion ----

// strBuf accumulates a string and its context.
type strBuf struct {
	b   []byte
	ctx []string
}

// coerceOpts controls coerceToString.
type coerceOpts struct {
	more        bool // toString semantics: null, bools, numbers, lists
	copyToStore bool
}

// CoerceToString converts v as "${v}" (copyToStore) or toString (more).
func (ev *Evaluator) CoerceToString(pos syntax.Pos, v *Value, more, copyToStore bool) (string, *Context) {
	var sb strBuf
	ev.coerce(pos, v, &sb, coerceOpts{more: more, copyToStore: copyToStore})
	return string(sb.b), NewContext(sb.ctx...)
}

func (ev *Evaluator) coerce(pos syntax.Pos, v *Value, sb *strBuf, o coerceOpts) {
	ev.force(v)
	switch v.kind {
	case KString:
		sb.b = append(sb.b, v.Str()...)
		if c := v.Context(); c != nil {
			sb.ctx = append(sb.ctx, c.Elems...)
		}
		return
	case KPath:
		if o.copyToStore {
			p := ev.copyPathToStore(pos, v.Str())
			sb.b = append(sb.b, p...)
			sb.ctx = append(sb.ctx, p)
		} else {
			sb.b = append(sb.b, v.Str()...)
		}
		return
	case KAttrs:
		if f, ok := v.Attrs().Get(ev.sToString); ok {
			r := ev.call1(f.Val, v, pos)
			ev.coerce(pos, r, sb, o)
			return
		}
		if p, ok := v.Attrs().Get(ev.sOutPath); ok {
			ev.coerce(pos, p.Val, sb, o)
			return
		}
	}
	if o.more {
		switch v.kind {
		case KNull:
			return
		case KBool:
			if v.n != 0 {
				sb.b = append(sb.b, '1')
			}
			return
		case KInt:
			sb.b = strconv.AppendInt(sb.b, v.n, 10)
			return
		case KFloat:
			sb.b = append(sb.b, fmt.Sprintf("%f", v.Float())...)
			return
		case KList:
			l := v.List()
			for i, e := range l {
				ev.coerce(pos, e, sb, o)
				if i < len(l)-1 && (e.kind != KList || e.n != 0) {
					sb.b = append(sb.b, ' ')
				}
			}
			return
		}
	}
	ev.errorAt(pos, "cannot coerce %s to a string", v.TypeName())
}

// ForceString forces v to be a string and returns it with its context.
func (ev *Evaluator) ForceString(pos syntax.Pos, v *Value) (string, *Context) {
	ev.force(v)
	if v.kind != KString {
		ev.errorAt(pos, "value is %s while a string was expected", v.TypeName())
	}
	return v.Str(), v.Context()
}

// ForceStringNoCtx forces a string that must not have a context.
func (ev *Evaluator) ForceStringNoCtx(pos syntax.Pos, v *Value) string {
	s, c := ev.ForceString(pos, v)
	if !c.Empty() {
		ev.errorAt(pos, "the string '%s' is not allowed to refer to a store path (such as '%s')", s, c.Elems[0])
	}
	return s
}

// CoerceToPath coerces v to an absolute path string.
func (ev *Evaluator) CoerceToPath(pos syntax.Pos, v *Value) (string, *Context) {
	s, c := ev.CoerceToString(pos, v, false, false)
	if s == "" || s[0] != '/' {
		ev.errorAt(pos, "string '%s' doesn't represent an absolute path", s)
	}
	return s, c
}

// copyPathToStore implements "${./path}".
func (ev *Evaluator) copyPathToStore(pos syntax.Pos, p string) string {
	name := filepath.Base(p)
	if ev.opts.Store != nil {
		sp, err := ev.opts.Store.AddPath(name, p, true, nil)
		if err != nil {
			ev.errorAt(pos, "%s", err)
		}
		return sp
	}
	if _, err := os.Lstat(p); err != nil {
		if os.IsNotExist(err) {
			ev.errorAt(pos, "path '%s' does not exist", p)
		}
		ev.errorAt(pos, "getting status of '%s': %s", p, errnoText(err))
	}
	if ev.opts.Paths != nil {
		sp, err := ev.opts.Paths.ComputePath(name, p, true)
		if err != nil {
			ev.errorAt(pos, "%s", err)
		}
		return sp
	}
	ev.errorAt(pos, "cannot copy '%s' to the store: no store available", p)
	return ""
}

func errnoText(err error) string {
	if pe, ok := err.(*fs.PathError); ok {
		err = pe.Err
	}
	s := err.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

type concatCode struct {
	force bool
	parts []code
	p     syntax.Pos
}

func (c *concatCode) pos() syntax.Pos { return c.p }
func (c *concatCode) eval(ev *Evaluator, env *Env) *Value {
	first := c.parts[0].eval(ev, env)
	if !c.force && (first.kind == KInt || first.kind == KFloat) {
		if len(c.parts) == 2 {
			return ev.arith('+', first, c.parts[1].eval(ev, env), c.parts[1].pos())
		}
		return c.sum(ev, env, first)
	}
	return c.evalString(ev, env, first)
}

// sum is `a + b + c ...` on numbers.
func (c *concatCode) sum(ev *Evaluator, env *Env, acc *Value) *Value {
	for _, p := range c.parts[1:] {
		acc = ev.arith('+', acc, p.eval(ev, env), p.pos())
	}
	return acc
}

// evalString is string interpolation / string and path `+`. While every
// part is a plain string the result is built with a single allocation.
func (c *concatCode) evalString(ev *Evaluator, env *Env, first *Value) *Value {
	var sb strBuf
	// `./a/${x}` (ForceString false) builds a path; `"${./a}"` copies the
	// path to the store.
	if first.kind == KPath && !c.force {
		sb.b = append(sb.b, first.Str()...)
		for _, p := range c.parts[1:] {
			ev.coerce(p.pos(), p.eval(ev, env), &sb, coerceOpts{})
		}
		if len(sb.ctx) > 0 {
			ev.errorAt(c.p, "a string that refers to a store path cannot be appended to a path")
		}
		return MkPath(canonPath(string(sb.b)))
	}
	var buf [8]*Value
	strs := append(buf[:0], first)
	rest := c.parts[1:]
	if first.kind == KString {
		n, withCtx := int(first.n), first.q != nil
		for len(rest) > 0 {
			v := rest[0].eval(ev, env)
			if v.kind != KString {
				// coerce what came so far, then go on part by part
				sb.b = make([]byte, 0, n+int(v.n))
				for _, s := range strs {
					ev.coerce(c.p, s, &sb, coerceOpts{copyToStore: true})
				}
				ev.coerce(rest[0].pos(), v, &sb, coerceOpts{copyToStore: true})
				rest = rest[1:]
				strs = nil
				break
			}
			n += int(v.n)
			withCtx = withCtx || v.q != nil
			strs = append(strs, v)
			rest = rest[1:]
		}
		if strs != nil {
			if n == 0 && !withCtx {
				return emptyStr
			}
			b := make([]byte, 0, n)
			var ctx []string
			for _, s := range strs {
				b = append(b, s.Str()...)
				if s.q != nil {
					ctx = append(ctx, s.Context().Elems...)
				}
			}
			return MkStringCtx(unsafe.String(unsafe.SliceData(b), len(b)), NewContext(ctx...))
		}
	} else {
		ev.coerce(c.parts[0].pos(), first, &sb, coerceOpts{copyToStore: true})
	}
	for _, p := range rest {
		ev.coerce(p.pos(), p.eval(ev, env), &sb, coerceOpts{copyToStore: true})
	}
	if len(sb.b) == 0 {
		return MkStringCtx("", NewContext(sb.ctx...))
	}
	return MkStringCtx(unsafe.String(unsafe.SliceData(sb.b), len(sb.b)), NewContext(sb.ctx...))
}

// canonPath cleans an absolute path like Nix's canonPath.
func canonPath(p string) string {
	if p == "" {
		return "/"
	}
	c := filepath.Clean(p)
	if !strings.HasPrefix(c, "/") {
		c = "/" + c
	}
	return c
}
