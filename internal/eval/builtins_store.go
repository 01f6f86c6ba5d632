package eval

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/onix-dev/onix/internal/eval/syntax"
	"github.com/onix-dev/onix/internal/nixcompat/derivation"
	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/nar"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

// StoreReader is optionally implemented by an Options.Store: it lets
// derivationStrict load input derivations and closures it did not create
// during this evaluation.
type StoreReader interface {
	// References returns the references of a valid store path.
	References(path string) ([]string, error)
	// ReadStoreFile reads a file at a logical store path.
	ReadStoreFile(path string) ([]byte, error)
}

// storeState is the per-evaluator bookkeeping of store objects created or
// computed during evaluation. In read-only mode nothing is written, so
// closures ("=" contexts) and input derivations are resolved from here.
type storeState struct {
	ev     *Evaluator
	sd     storepath.StoreDir
	refs   map[string][]string
	drvs   map[string]*derivation.Derivation
	hasher *derivation.Hasher
}

func newStoreState(ev *Evaluator) *storeState {
	st := &storeState{ev: ev, sd: storepath.StoreDir(ev.opts.StoreDir), refs: map[string][]string{}, drvs: map[string]*derivation.Derivation{}}
	st.hasher = derivation.NewHasher(st.sd, st.loadDrv)
	return st
}

func (st *storeState) reader() StoreReader {
	if r, ok := st.ev.opts.Store.(StoreReader); ok {
		return r
	}
	return nil
}

func (st *storeState) loadDrv(_ context.Context, p string) (*derivation.Derivation, error) {
	if d, ok := st.drvs[p]; ok {
		return d, nil
	}
	var data []byte
	var err error
	if r := st.reader(); r != nil {
		data, err = r.ReadStoreFile(p)
	} else {
		data, err = os.ReadFile(p)
	}
	if err != nil {
		return nil, err
	}
	d, err := derivation.Parse(p, data)
	if err != nil {
		return nil, err
	}
	st.drvs[p] = d
	return d, nil
}

// references returns the references of a store path (known ones first).
func (st *storeState) references(p string) ([]string, error) {
	if r, ok := st.refs[p]; ok {
		return r, nil
	}
	if r := st.reader(); r != nil {
		refs, err := r.References(p)
		if err == nil {
			st.refs[p] = refs
		}
		return refs, err
	}
	if strings.HasSuffix(p, ".drv") {
		d, err := st.loadDrv(context.Background(), p)
		if err != nil {
			return nil, err
		}
		return d.References(), nil
	}
	// A source path we did not create: assume no references.
	return nil, nil
}

// closure is computeFSClosure.
func (st *storeState) closure(p string) ([]string, error) {
	seen := map[string]bool{}
	todo := []string{p}
	for len(todo) > 0 {
		x := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if seen[x] {
			continue
		}
		seen[x] = true
		refs, err := st.references(x)
		if err != nil {
			return nil, err
		}
		todo = append(todo, refs...)
	}
	out := make([]string, 0, len(seen))
	for x := range seen {
		out = append(out, x)
	}
	sort.Strings(out)
	return out, nil
}

// registerStorePrims registers the builtins that create or compute store
// objects: derivations, toFile, path, filterSource, storePath, placeholder,
// the fetchers and fromTOML. They share one storeState per evaluator.
func registerStorePrims(r *registry) {
	st := newStoreState(r.ev)
	registerDerivation(r, st)
	registerFetch(r, st)
	registerTOML(r)

	r.Add("__toFile", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		name := ev.ForceStringNoCtx(pos, a[0])
		s, c := ev.ForceString(pos, a[1])
		var refs []string
		if c != nil {
			for _, e := range c.Elems {
				if strings.HasPrefix(e, "=") || strings.HasPrefix(e, "!") {
					ev.errorAt(pos, "files created by builtins.toFile may not reference derivations, but %s references %s", name, strings.TrimPrefix(e, "="))
				}
				refs = append(refs, e)
			}
		}
		p := st.addText(pos, name, s, refs)
		return MkStringCtx(p, NewContext(p))
	})

	r.Add("__path", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		attrs := ev.ForceAttrs(pos, a[0])
		var path, name string
		var filter *Value
		recursive := true
		var expected *hash.Hash
		for _, at := range ev.sortedAttrs(attrs) {
			switch n := ev.syms.Name(at.Name); n {
			case "path":
				path, _ = ev.CoerceToPath(pos, at.Val)
			case "name":
				name = ev.ForceStringNoCtx(pos, at.Val)
			case "filter":
				filter = ev.ForceFunction(pos, at.Val)
			case "recursive":
				recursive = ev.ForceBool(pos, at.Val)
			case "sha256":
				s := ev.ForceStringNoCtx(pos, at.Val)
				h := st.parseHashAllowEmpty(pos, s, hash.SHA256)
				expected = &h
			default:
				ev.errorAt(pos, "unsupported argument '%s' to 'addPath'", n)
			}
		}
		if path == "" {
			ev.errorAt(pos, "missing required 'path' attribute in the first argument to builtins.path")
		}
		if name == "" {
			name = filepath.Base(path)
		}
		p := st.addPath(pos, name, path, recursive, st.nixFilter(pos, filter), expected)
		return MkStringCtx(p, NewContext(p))
	})

	r.Add("__filterSource", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		f := ev.ForceFunction(pos, a[0])
		path, _ := ev.CoerceToPath(pos, a[1])
		p := st.addPath(pos, filepath.Base(path), path, true, st.nixFilter(pos, f), nil)
		return MkStringCtx(p, NewContext(p))
	})

	r.Add("__storePath", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		p, c := ev.CoerceToPath(pos, a[0])
		if !st.sd.IsStorePath(p) {
			if rp, err := filepath.EvalSymlinks(p); err == nil {
				p = rp
			}
			p = canonPath(p)
		}
		sp, _, err := st.sd.SplitPath(p)
		if err != nil {
			ev.errorAt(pos, "path '%s' is not in the Nix store", p)
		}
		elems := []string{st.sd.Path(sp)}
		if c != nil {
			elems = append(elems, c.Elems...)
		}
		return MkStringCtx(p, NewContext(elems...))
	})

	r.Add("__placeholder", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		return MkString(hashPlaceholder(ev.ForceStringNoCtx(pos, a[0])))
	})
}

// hashPlaceholder is Nix's hashPlaceholder(output).
func hashPlaceholder(output string) string {
	return "/" + hash.SumString(hash.SHA256, "nix-output:"+output).Base32()
}

func (st *storeState) parseHashAllowEmpty(pos syntax.Pos, s string, algo hash.Algo) hash.Hash {
	if s == "" {
		h := hash.Hash{Algo: algo, Digest: make([]byte, algo.Size())}
		fmt.Fprintf(st.ev.opts.Stderr, "warning: found empty hash, assuming '%s'\n", h.SRI())
		return h
	}
	h, err := hash.ParseAny(s, algo)
	if err != nil {
		st.ev.errorAt(pos, "%s", err)
	}
	return h
}

// nixFilter wraps a Nix filter function (path: type: bool) as a nar.Filter.
// Evaluation errors inside are carried out through filterErr.
func (st *storeState) nixFilter(pos syntax.Pos, f *Value) nar.Filter {
	if f == nil {
		return nil
	}
	ev := st.ev
	return func(p string, mode fs.FileMode) bool {
		t := "unknown"
		switch {
		case mode.IsRegular():
			t = "regular"
		case mode.IsDir():
			t = "directory"
		case mode&fs.ModeSymlink != 0:
			t = "symlink"
		}
		r := ev.callN(f, []*Value{MkString(p), MkString(t)}, pos)
		return ev.ForceBool(pos, r)
	}
}

// safeFilter runs filter calls, turning a raised evaluation error into a
// recorded one so that it does not unwind through store code.
func safeFilter(f nar.Filter, errp **Error) nar.Filter {
	if f == nil {
		return nil
	}
	return func(p string, mode fs.FileMode) (ok bool) {
		if *errp != nil {
			return false
		}
		defer func() {
			if r := recover(); r != nil {
				if e, isErr := r.(*Error); isErr {
					*errp = e
					ok = false
					return
				}
				panic(r)
			}
		}()
		return f(p, mode)
	}
}

// addText implements toFile: write (or, read-only, compute) a text path.
func (st *storeState) addText(pos syntax.Pos, name, text string, refs []string) string {
	refs = storepath.SortedRefs(refs)
	var p string
	if st.ev.opts.Store != nil {
		var err error
		if p, err = st.ev.opts.Store.AddText(name, text, refs); err != nil {
			st.ev.errorAt(pos, "%s", err)
		}
	} else {
		if err := storepath.ValidateName(name); err != nil {
			st.ev.errorAt(pos, "%s", err)
		}
		sp, err := st.sd.MakeTextPath(name, hash.SumString(hash.SHA256, text), refs)
		if err != nil {
			st.ev.errorAt(pos, "%s", err)
		}
		p = st.sd.Path(sp)
	}
	st.refs[p] = refs
	return p
}

// addPath copies (or, read-only, hashes) a file system path with sha256,
// checking it against expected when given.
func (st *storeState) addPath(pos syntax.Pos, name, src string, recursive bool, filter nar.Filter, expected *hash.Hash) string {
	ev := st.ev
	if err := storepath.ValidateName(name); err != nil {
		ev.errorAt(pos, "%s", err)
	}
	var ferr *Error
	filter = safeFilter(filter, &ferr)
	var p string
	var err error
	if ev.opts.Store != nil {
		p, err = ev.opts.Store.AddPath(name, src, recursive, filter)
	} else {
		p, err = ComputeStorePath(ev.ctx, st.sd, name, src, recursive, filter)
	}
	if ferr != nil {
		panic(ferr)
	}
	if err != nil {
		ev.errorAt(pos, "%s", err)
	}
	if expected != nil {
		method := storepath.Flat
		if recursive {
			method = storepath.Recursive
		}
		sp, err := st.sd.MakeFixedOutputPath(name, method, *expected, nil, false)
		if err != nil {
			ev.errorAt(pos, "%s", err)
		}
		if want := st.sd.Path(sp); want != p {
			ev.errorAt(pos, "store path mismatch in (possibly filtered) path added from '%s'", src)
		}
	}
	st.refs[p] = nil
	return p
}

// StoreValidity is implemented by stores that can tell whether a path is
// valid, keeping it from the garbage collector for the rest of the process
// (a temporary root) when it is.
type StoreValidity interface {
	EnsureValid(path string) (bool, error)
}

// pathUsable reports whether p, known from a fetcher cache, can be used
// without adding it again: in read-only mode a computed path always can;
// otherwise it must be valid in the store (see validInStore).
func (st *storeState) pathUsable(p string) bool {
	if st.ev.opts.Store == nil {
		st.refs[p] = nil
		return true
	}
	return st.validInStore(p)
}

// validInStore reports whether the store is known to have p valid; it is
// then kept from the GC for the rest of the process.
func (st *storeState) validInStore(p string) bool {
	v, ok := st.ev.opts.Store.(StoreValidity)
	if !ok {
		return false
	}
	valid, err := v.EnsureValid(p)
	return err == nil && valid
}

// ComputeStorePath computes, without writing, the store path that adding
// src with sha256 would give: recursive (NAR, filtered) or flat (a regular
// file's contents).
func ComputeStorePath(ctx context.Context, sd storepath.StoreDir, name, src string, recursive bool, filter nar.Filter) (string, error) {
	var h hash.Hash
	method := storepath.Flat
	if recursive {
		method = storepath.Recursive
		var err error
		if h, _, err = nar.HashPath(ctx, src, filter); err != nil {
			return "", err
		}
	} else {
		fi, err := os.Stat(src)
		if err != nil {
			return "", fmt.Errorf("getting status of '%s': %s", src, errnoText(err))
		}
		if !fi.Mode().IsRegular() {
			return "", fmt.Errorf("file '%s' has an unsupported type", src)
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return "", fmt.Errorf("opening file '%s': %s", src, errnoText(err))
		}
		h = hash.Sum(hash.SHA256, b)
	}
	sp, err := sd.MakeFixedOutputPath(name, method, h, nil, false)
	if err != nil {
		return "", err
	}
	return sd.Path(sp), nil
}

// ReadOnlyPaths is a PathComputer for read-only evaluation (--eval): it
// computes the paths adding would give, writing nothing.
type ReadOnlyPaths struct {
	StoreDir string
}

// ComputePath implements PathComputer.
func (r ReadOnlyPaths) ComputePath(name, srcPath string, recursive bool) (string, error) {
	sd := r.StoreDir
	if sd == "" {
		sd = "/nix/store"
	}
	if err := storepath.ValidateName(name); err != nil {
		return "", err
	}
	return ComputeStorePath(context.Background(), storepath.StoreDir(sd), name, srcPath, recursive, nil)
}
