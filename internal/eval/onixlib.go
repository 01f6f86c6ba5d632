package eval

import (
	"path/filepath"
	"unsafe"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

// Native helpers for the embedded module library.
//
// They are not builtins: `builtins` and the global scope stay exactly as
// Nix's. A file named onixNativeFile inside an embedded file system (see
// Options.FS; e.g. <onix/lib/native.nix>) evaluates, under onix, to an
// attribute set of these primops instead of its contents. On disk that file
// is `{ }`, so the same library run by real Nix (or from a checkout) takes
// its pure-Nix fallback.
const onixNativeFile = "native.nix"

// noteEmbedDir records a materialised embedded file system's directory, so
// importFile can recognise its native.nix.
func (ev *Evaluator) noteEmbedDir(dir string) {
	if ev.embedDirs == nil {
		ev.embedDirs = map[string]bool{}
	}
	ev.embedDirs[canonPath(dir)] = true
}

// isNativeImport reports whether p (resolved, canonical) is native.nix of
// an embedded file system.
func (ev *Evaluator) isNativeImport(p string) bool {
	if len(ev.embedDirs) == 0 || filepath.Base(p) != onixNativeFile {
		return false
	}
	for d := filepath.Dir(p); d != "/" && d != "."; d = filepath.Dir(d) {
		if ev.embedDirs[d] {
			return true
		}
	}
	return false
}

// nativeLib returns the attribute set of native helpers (one per evaluator).
func (ev *Evaluator) nativeLib() *Value {
	if ev.nativeVal == nil {
		b := ev.NewAttrsBuilder(1)
		b.Set("groupByName", MkPrimOp(&PrimOp{Name: "onix_groupByName", Arity: 4, Fn: nativeGroupByName}))
		b.Set("isPlain", MkPrimOp(&PrimOp{Name: "onix_isPlain", Arity: 2, Fn: nativeIsPlain}))
		b.Set("reverseList", MkPrimOp(&PrimOp{Name: "onix_reverseList", Arity: 1, Fn: nativeReverseList}))
		b.Set("allPlain", MkPrimOp(&PrimOp{Name: "onix_allPlain", Arity: 2, Fn: nativeAllPlain}))
		ev.nativeVal = b.Value()
	}
	return ev.nativeVal
}

// nativeGroupByName "file" "value" onError defs groups a list of
// definitions [ { file; value = { name = v; ... }; } ... ] by attribute
// name: { name = [ { file; value = v; } ... ]; }, in the order of defs (the
// two attribute names are the first two arguments). A def whose value is
// not an attribute set is passed to onError (which throws). It is what the
// library computes with
//
//	zipAttrsWith (n: v: v) (map (def: mapAttrs (n: value: { inherit (def) file; inherit value; }) def.value) defs)
func nativeGroupByName(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
	sFile := ev.syms.Intern(ev.ForceStringNoCtx(pos, a[0]))
	sValue := ev.syms.Intern(ev.ForceStringNoCtx(pos, a[1]))
	onError := a[2]
	defs := ev.ForceList(pos, a[3])
	if len(defs) == 0 {
		return mkAttrsList(nil)
	}
	files := make([]*Value, len(defs))
	vals := make([]*Attrs, len(defs))
	total := 0
	for i, d := range defs {
		da := ev.ForceAttrs(pos, d)
		v, ok := da.Get(sValue)
		if !ok {
			ev.errorAt(pos, "attribute '%s' missing", ev.syms.Name(sValue))
		}
		ev.force(v.Val)
		if v.Val.kind != KAttrs {
			ev.force(ev.call1(onError, d, pos))
			ev.errorAt(pos, "value is %s while a set was expected", v.Val.TypeName())
		}
		f, ok := da.Get(sFile)
		if !ok {
			ev.errorAt(pos, "attribute '%s' missing", ev.syms.Name(sFile))
		}
		files[i], vals[i] = f.Val, v.Val.Attrs()
		total += vals[i].Len()
	}
	// one {file; value} set per attribute, all in two allocations
	fileFirst := sFile < sValue
	boxes := make([]attrsBox, total)
	pairs := make([]Attr, 2*total)
	k := 0
	mk := func(file, val *Value) *Value {
		b, p := &boxes[k], pairs[2*k:2*k+2:2*k+2]
		k++
		if fileFirst {
			p[0], p[1] = Attr{Name: sFile, Val: file}, Attr{Name: sValue, Val: val}
		} else {
			p[0], p[1] = Attr{Name: sValue, Val: val}, Attr{Name: sFile, Val: file}
		}
		b.a.list = p
		b.v.kind, b.v.p = KAttrs, unsafe.Pointer(&b.a)
		return &b.v
	}
	if len(defs) == 1 {
		// like mapAttrs: same names, same order, positions kept
		l := vals[0].list
		out := make([]Attr, len(l))
		elems := make([]*Value, len(l))
		lists := make([]Value, len(l))
		for i, x := range l {
			elems[i] = mk(files[0], x.Val)
			lists[i].kind, lists[i].n, lists[i].p = KList, 1, unsafe.Pointer(&elems[i])
			out[i] = Attr{Name: x.Name, Val: &lists[i], Pos: x.Pos}
		}
		return mkAttrsList(out)
	}
	// like zipAttrsWith: group in order of first appearance
	index := make(map[Symbol]int, vals[0].Len())
	var order []Symbol
	var counts []int
	for _, s := range vals {
		for _, x := range s.list {
			j, ok := index[x.Name]
			if !ok {
				j = len(order)
				index[x.Name] = j
				order = append(order, x.Name)
				counts = append(counts, 0)
			}
			counts[j]++
		}
	}
	elems := make([]*Value, total)
	starts := make([]int, len(order))
	fill := make([]int, len(order))
	n := 0
	for j, c := range counts {
		starts[j], fill[j] = n, n
		n += c
	}
	for i, s := range vals {
		for _, x := range s.list {
			j := index[x.Name]
			elems[fill[j]] = mk(files[i], x.Val)
			fill[j]++
		}
	}
	out := make([]Attr, len(order))
	lists := make([]Value, len(order))
	for j, name := range order {
		lists[j].kind, lists[j].n, lists[j].p = KList, int64(counts[j]), unsafe.Pointer(&elems[starts[j]])
		out[j] = Attr{Name: name, Val: &lists[j]}
	}
	return MkAttrs(newAttrs(out))
}

// plain reports whether v is not a property: not an attribute set whose
// _type is an attribute of tags (the library's isPlain).
func (ev *Evaluator) plain(pos syntax.Pos, tags *Attrs, v *Value) bool {
	ev.force(v)
	if v.kind != KAttrs {
		return true
	}
	t, ok := v.Attrs().Get(ev.syms.Intern("_type"))
	if !ok {
		_, ok = tags.Get(ev.syms.Intern("-"))
		return !ok
	}
	_, ok = tags.Get(ev.syms.Intern(ev.ForceStringNoCtx(pos, t.Val)))
	return !ok
}

// nativeIsPlain tags v is !(isAttrs v && tags ? ${v._type or "-"}).
func nativeIsPlain(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
	return MkBool(ev.plain(pos, ev.ForceAttrs(pos, a[0]), a[1]))
}

// nativeAllPlain tags defs is all (def: isPlain def.value) defs, with
// isPlain as in nativeIsPlain.
func nativeAllPlain(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
	tags := ev.ForceAttrs(pos, a[0])
	for _, d := range ev.ForceList(pos, a[1]) {
		v, ok := ev.ForceAttrs(pos, d).Get(ev.sValue)
		if !ok {
			ev.errorAt(pos, "attribute 'value' missing")
		}
		if !ev.plain(pos, tags, v.Val) {
			return MkBool(false)
		}
	}
	return MkBool(true)
}

// nativeReverseList xs is xs in reverse order.
func nativeReverseList(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
	l := ev.ForceList(pos, a[0])
	out := make([]*Value, len(l))
	for i, x := range l {
		out[len(l)-1-i] = x
	}
	return MkList(out)
}
