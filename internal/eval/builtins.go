package eval

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing/fstest"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

// registry collects builtins while an Evaluator is set up. Each builtin
// family has a register function (builtins_list.go: registerList, ...).
//
// Naming follows Nix's addPrimOp: a name starting with "__" is bound in the
// global scope under that name and in `builtins` without the prefix; any
// other name is bound under the same name in both.
type registry struct {
	ev      *Evaluator
	names   []string
	values  []*Value
	builtin []Attr
}

// Fn is the Go signature of a builtin: args has exactly Arity elements, not
// yet forced. The result may be lazy; the caller forces it.
type Fn = func(ev *Evaluator, pos syntax.Pos, args []*Value) *Value

// Add registers a primop of the given arity.
func (r *registry) Add(name string, arity int, fn Fn) {
	bare := strings.TrimPrefix(name, "__")
	r.Const(name, MkPrimOp(&PrimOp{Name: bare, Arity: arity, Fn: fn}))
}

// Const registers a constant.
func (r *registry) Const(name string, v *Value) {
	r.names = append(r.names, name)
	r.values = append(r.values, v)
	bare := strings.TrimPrefix(name, "__")
	r.builtin = append(r.builtin, Attr{Name: r.ev.syms.Intern(bare), Val: v})
}

func (ev *Evaluator) initBuiltins() {
	r := &registry{ev: ev}
	registerCore(r)
	registerTypes(r)
	registerArith(r)
	registerList(r)
	registerAttrs(r)
	registerString(r)
	registerIO(r)
	registerJSON(r)
	registerMisc(r)
	registerStorePrims(r) // builtins_store.go: derivations, store paths, fetchers, fromTOML
	registerContext(r)
	registerExtra(r)

	ev.builtins = MkAttrs(nil)
	r.Const("builtins", ev.builtins)
	bs := newAttrs(r.builtin)
	*ev.builtins = *MkAttrs(bs)

	ev.base = &scope{vars: make(map[string]int, len(r.names))}
	ev.baseEnv = newEnv(nil, len(r.names))
	for i, n := range r.names {
		ev.base.vars[n] = i
		ev.baseEnv.set(i, r.values[i])
	}
	ev.primops = map[string]*PrimOp{}
	for _, a := range bs.list {
		if a.Val.kind == KPrimOp {
			ev.primops[ev.syms.Name(a.Name)] = a.Val.PrimOp()
		}
	}
}

// Builtin returns the builtins.NAME value (nil if absent).
func (ev *Evaluator) Builtin(name string) *Value {
	if a, ok := ev.builtins.Attrs().Get(ev.syms.Intern(name)); ok {
		return a.Val
	}
	return nil
}

func registerCore(r *registry) {
	ev := r.ev
	r.Const("true", valTrue)
	r.Const("false", valFalse)
	r.Const("null", valNull)
	r.Const("__currentSystem", MkString(ev.opts.System))
	r.Const("__nixVersion", MkString("2.8.0"))
	r.Const("__langVersion", MkInt(6))
	r.Const("__storeDir", MkString(ev.opts.StoreDir))
	r.Const("__currentTime", MkInt(0))
	var np []*Value
	for _, e := range ev.opts.SearchPath {
		prefix, path := "", e
		if i := strings.IndexByte(e, '='); i >= 0 {
			prefix, path = e[:i], e[i+1:]
		}
		np = append(np, ev.mkAttrsFromMap(map[string]*Value{"prefix": MkString(prefix), "path": MkString(path)}))
	}
	r.Const("__nixPath", MkList(np))
	r.Add("import", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		p, _ := ev.CoerceToPath(pos, a[0])
		return ev.importFile(p, pos)
	})
	r.Add("scopedImport", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		ev.force(a[0])
		if a[0].kind != KAttrs {
			ev.errorAt(pos, "value is %s while a set was expected", a[0].TypeName())
		}
		p, _ := ev.CoerceToPath(pos, a[1])
		return ev.scopedImport(a[0].Attrs(), p, pos)
	})
	r.Add("throw", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		s, _ := ev.CoerceToString(pos, a[0], false, false)
		panic(&Error{Kind: ErrThrown, Msg: s})
	})
	r.Add("abort", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		s, _ := ev.CoerceToString(pos, a[0], false, false)
		panic(&Error{Kind: ErrAbort, Msg: "evaluation aborted with the following error message: '" + s + "'"})
	})
	r.Add("__findFile", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		ev.force(a[0])
		if a[0].kind != KList {
			ev.errorAt(pos, "value is %s while a list was expected", a[0].TypeName())
		}
		name := ev.ForceStringNoCtx(pos, a[1])
		return MkPath(ev.findFile(a[0].List(), name, pos))
	})
}

// corepkgsFetchurl is <nix/fetchurl.nix>, Nix's built-in fixed-output
// fetcher expression (same derivation attributes as Nix's corepkgs file).
const corepkgsFetchurl = `{ system ? "", url, hash ? "", md5 ? "", sha1 ? "", sha256 ? "", sha512 ? ""
, outputHash ? (if hash != "" then hash else if sha512 != "" then sha512
    else if sha1 != "" then sha1 else if md5 != "" then md5 else sha256)
, outputHashAlgo ? (if hash != "" then "" else if sha512 != "" then "sha512"
    else if sha1 != "" then "sha1" else if md5 != "" then "md5" else "sha256")
, executable ? false, unpack ? false, name ? baseNameOf (toString url), impure ? false }:
derivation ({
  builder = "builtin:fetchurl";
  outputHashMode = if unpack || executable then "recursive" else "flat";
  inherit name url executable unpack;
  system = "builtin";
  preferLocalBuild = true;
  impureEnvVars = [ "http_proxy" "https_proxy" "ftp_proxy" "all_proxy" "no_proxy" ];
  urls = [ url ];
} // (if impure then { __impure = true; } else { inherit outputHashAlgo outputHash; }))
`

// findFile resolves <name> against a __nixPath-style list.
func (ev *Evaluator) findFile(list []*Value, name string, pos syntax.Pos) string {
	for _, e := range list {
		ev.force(e)
		if e.kind != KAttrs {
			continue
		}
		pa, ok1 := e.Attrs().Get(ev.syms.Intern("path"))
		pr, ok2 := e.Attrs().Get(ev.syms.Intern("prefix"))
		if !ok1 {
			ev.errorAt(pos, "attribute 'path' missing")
		}
		prefix := ""
		if ok2 {
			prefix = ev.ForceStringNoCtx(pos, pr.Val)
		}
		path, _ := ev.CoerceToString(pos, pa.Val, false, false)
		rest := ""
		if prefix != "" {
			if name != prefix && !strings.HasPrefix(name, prefix+"/") {
				continue
			}
			rest = strings.TrimPrefix(strings.TrimPrefix(name, prefix), "/")
		} else {
			rest = name
		}
		full := filepath.Join(path, rest)
		if !filepath.IsAbs(full) {
			if wd, err := os.Getwd(); err == nil {
				full = filepath.Join(wd, full)
			}
		}
		if _, err := os.Stat(full); err == nil {
			return canonPath(full)
		}
	}
	// the embedded module library; <nix/...> is Nix's corepkgs
	first, rest, _ := strings.Cut(name, "/")
	fsys, ok := ev.opts.FS[first]
	if !ok && first == "nix" {
		fsys, ok = fstest.MapFS{"fetchurl.nix": &fstest.MapFile{Data: []byte(corepkgsFetchurl), Mode: 0o444}}, true
	}
	if ok {
		dir := ev.materialise(first, fsys, pos)
		ev.noteEmbedDir(dir)
		full := filepath.Join(dir, rest)
		if _, err := os.Stat(full); err == nil {
			return canonPath(full)
		}
	}
	// a ThrownError in Nix: tryEval catches it
	panic(&Error{Kind: ErrThrown, Msg: "file '" + name + "' was not found in the Nix search path (add it using $NIX_PATH or -I)", Pos: pos})
}

// materialise copies an embedded file system to the cache directory once
// per content hash and returns its directory.
func (ev *Evaluator) materialise(name string, fsys fs.FS, pos syntax.Pos) string {
	h := sha256.New()
	var files []string
	_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	data := map[string][]byte{}
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			ev.errorAt(pos, "reading embedded %s: %v", f, err)
		}
		data[f] = b
		h.Write([]byte(f + "\x00"))
		h.Write(b)
	}
	cache, ok := userCacheDir(ev)
	if !ok {
		cache = filepath.Join(os.TempDir(), "onix-cache")
	}
	dir := filepath.Join(cache, name+"-"+hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(dir); err == nil {
		return dir
	}
	tmp, err := os.MkdirTemp(cache, ".tmp-")
	if err != nil {
		if err := os.MkdirAll(cache, 0o755); err != nil {
			ev.errorAt(pos, "creating %s: %v", cache, err)
		}
		if tmp, err = os.MkdirTemp(cache, ".tmp-"); err != nil {
			ev.errorAt(pos, "creating %s: %v", cache, err)
		}
	}
	for _, f := range files {
		p := filepath.Join(tmp, filepath.FromSlash(f))
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data[f], 0o444); err != nil {
			ev.errorAt(pos, "writing %s: %v", p, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp)
	}
	return dir
}

// resolveImportPath maps a directory to its default.nix.
func resolveImportPath(p string) string {
	// follow symlinks in the last component, as Nix's resolveExprPath
	// (imports through a symlink share the evaluation of its target)
	for i := 0; i < 1024; i++ {
		st, err := os.Lstat(p)
		if err != nil || st.Mode()&os.ModeSymlink == 0 {
			break
		}
		t, err := os.Readlink(p)
		if err != nil {
			break
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(filepath.Dir(p), t)
		}
		p = canonPath(t)
	}
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		return filepath.Join(p, "default.nix")
	}
	return p
}

func (ev *Evaluator) readSource(p string, pos syntax.Pos) *syntax.File {
	p = resolveImportPath(p)
	if f, ok := ev.files[p]; ok {
		return f
	}
	b, err := os.ReadFile(p)
	if err != nil {
		if os.IsNotExist(err) {
			ev.errorAt(pos, "getting status of '%s': No such file or directory", p)
		}
		ev.errorAt(pos, "opening file '%s': %s", p, errnoText(err))
	}
	f := &syntax.File{Name: p, Dir: filepath.Dir(p), Src: b}
	ev.files[p] = f
	return f
}

func (ev *Evaluator) importFile(p string, pos syntax.Pos) *Value {
	p = resolveImportPath(p)
	if ev.isNativeImport(p) {
		return ev.nativeLib()
	}
	if v, ok := ev.imports[p]; ok {
		ev.force(v)
		return v
	}
	e := ev.parseImport(p, pos)
	c := (&compiler{ev: ev}).compile(e, ev.base)
	v := &Value{kind: KThunk, p: unsafePtr(ev.baseEnv), q: unsafePtr(&lazy{c: c})}
	ev.imports[p] = v
	ev.force(v)
	return v
}

// parseImport reads and parses the file of an import (p resolved), taking
// the tree from the prefetcher when it has parsed the file already, and
// hands the file's path literals to the prefetcher (see prefetch.go).
func (ev *Evaluator) parseImport(p string, pos syntax.Pos) syntax.Expr {
	if ev.pf == nil && !ev.noPrefetch {
		if ev.pf = newPrefetcher(ev.opts.Home); ev.pf == nil {
			ev.noPrefetch = true
		}
	}
	if ev.pf == nil {
		return ev.parse(ev.readSource(p, pos))
	}
	if _, cached := ev.files[p]; !cached {
		if f, e, lits, ok := ev.pf.take(p); ok {
			ev.files[p] = f
			ev.pf.add(lits)
			return e
		}
	}
	f := ev.readSource(p, pos)
	var lits []string
	e := ev.parseWith(f, &lits)
	ev.pf.add(lits)
	return e
}

func (ev *Evaluator) scopedImport(scopeAttrs *Attrs, p string, pos syntax.Pos) *Value {
	f := ev.readSource(p, pos)
	e := ev.parse(f)
	sc := &scope{up: ev.base, vars: map[string]int{}}
	env := newEnv(ev.baseEnv, scopeAttrs.Len())
	for i, a := range scopeAttrs.list {
		sc.vars[ev.syms.Name(a.Name)] = i
		env.set(i, a.Val)
	}
	c := (&compiler{ev: ev}).compile(e, sc)
	return c.eval(ev, env)
}
