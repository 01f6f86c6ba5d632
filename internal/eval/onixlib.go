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
		b.Set("filterOverrides", MkPrimOp(&PrimOp{Name: "onix_filterOverrides", Arity: 1, Fn: nativeFilterOverrides}))
		b.Set("collectUnmatched", MkPrimOp(&PrimOp{Name: "onix_collectUnmatched", Arity: 2, Fn: nativeCollectUnmatched}))
		b.Set("defWithValue", MkPrimOp(&PrimOp{Name: "onix_defWithValue", Arity: 2, Fn: nativeDefWithValue}))
		b.Set("splitDef", MkPrimOp(&PrimOp{Name: "onix_splitDef", Arity: 1, Fn: nativeSplitDef}))
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
	// The value attribute gets the position of the definition in its
	// module (unsafeGetAttrPos "value" def), which error messages show.
	mk := func(file, val *Value, pos *syntax.Pos) *Value {
		b, p := &boxes[k], pairs[2*k:2*k+2:2*k+2]
		k++
		if fileFirst {
			p[0], p[1] = Attr{Name: sFile, Val: file}, Attr{Name: sValue, Val: val, Pos: pos}
		} else {
			p[0], p[1] = Attr{Name: sValue, Val: val, Pos: pos}, Attr{Name: sFile, Val: file}
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
			elems[i] = mk(files[0], x.Val, x.Pos)
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
			elems[fill[j]] = mk(files[i], x.Val, x.Pos)
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

// nativeCollectUnmatched results defsByName is the library's
//
//	concatMap (name:
//	  if results ? ${name} then
//	    let r = results.${name}; in
//	    if r ? unmatched then map (d: d // { prefix = [ name ] ++ d.prefix; }) r.unmatched else [ ]
//	  else map (d: d // { prefix = [ name ]; }) defsByName.${name}
//	) (attrNames defsByName)
//
// (the definitions of mergeLevelWith that match no declaration), with the
// `//` done eagerly.
func nativeCollectUnmatched(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
	results := ev.ForceAttrs(pos, a[0])
	defsByName := ev.ForceAttrs(pos, a[1])
	sUnmatched := ev.syms.Intern("unmatched")
	sPrefix := ev.syms.Intern("prefix")
	var out []*Value
	withPrefix := func(d *Value, name *Value, sub bool) *Value {
		da := ev.ForceAttrs(pos, d)
		var prefix []*Value
		if sub {
			p, ok := da.Get(sPrefix)
			if !ok {
				ev.errorAt(pos, "attribute 'prefix' missing")
			}
			old := ev.ForceList(pos, p.Val)
			prefix = make([]*Value, 0, len(old)+1)
			prefix = append(append(prefix, name), old...)
		} else {
			prefix = []*Value{name}
		}
		l := make([]Attr, 0, da.Len()+1)
		l = append(append(l, da.list...), Attr{Name: sPrefix, Val: MkList(prefix)})
		return MkAttrs(newAttrs(l))
	}
	for _, x := range ev.sortedAttrs(defsByName) {
		var name *Value
		if r, ok := results.Get(x.Name); ok {
			ra := ev.ForceAttrs(pos, r.Val)
			u, ok := ra.Get(sUnmatched)
			if !ok {
				continue
			}
			for _, d := range ev.ForceList(pos, u.Val) {
				if name == nil {
					name = MkString(ev.syms.Name(x.Name))
				}
				out = append(out, withPrefix(d, name, true))
			}
		} else {
			for _, d := range ev.ForceList(pos, x.Val) {
				if name == nil {
					name = MkString(ev.syms.Name(x.Name))
				}
				out = append(out, withPrefix(d, name, false))
			}
		}
	}
	return MkList(out)
}

// nativeFilterOverrides defs is the library's filterOverrides' defs:
// { highestPrio; values; } with highestPrio the least priority of the defs
// (a def whose value is an mkOverride has its priority, others 100; 9999 if
// there are none) and values the defs of that priority, in order, the
// mkOverride wrappers stripped (def // { value = def.value.content; }).
func nativeFilterOverrides(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
	defs := ev.ForceList(pos, a[0])
	sType := ev.syms.Intern("_type")
	sPriority := ev.syms.Intern("priority")
	sContent := ev.syms.Intern("content")
	sValues := ev.syms.Intern("values")
	sHighest := ev.syms.Intern("highestPrio")
	defPrio := MkInt(100)
	prios := make([]*Value, len(defs)) // nil: not an override
	vals := make([]*Attrs, len(defs))
	valPos := make([]*syntax.Pos, len(defs)) // where each definition is
	highest := MkInt(9999)
	for i, d := range defs {
		v, ok := ev.ForceAttrs(pos, d).Get(ev.sValue)
		if !ok {
			ev.errorAt(pos, "attribute 'value' missing")
		}
		ev.force(v.Val)
		valPos[i] = v.Pos
		p := defPrio
		if v.Val.kind == KAttrs {
			va := v.Val.Attrs()
			if t, ok := va.Get(sType); ok {
				ev.force(t.Val)
				if t.Val.kind == KString && t.Val.Str() == "override" {
					pr, ok := va.Get(sPriority)
					if !ok {
						ev.errorAt(pos, "attribute 'priority' missing")
					}
					p, prios[i], vals[i] = pr.Val, pr.Val, va
				}
			}
		}
		if ev.lessThan(p, highest, pos) {
			highest = p
		}
	}
	var out []*Value
	isDefault := ev.equalTop(highest, defPrio, pos)
	for i, d := range defs {
		if prios[i] == nil {
			if isDefault {
				out = append(out, d)
			}
			continue
		}
		if !ev.equalTop(prios[i], highest, pos) {
			continue
		}
		c, ok := vals[i].Get(sContent)
		if !ok {
			ev.errorAt(pos, "attribute 'content' missing")
		}
		da := ev.ForceAttrs(pos, d)
		l := make([]Attr, 0, da.Len()+1)
		l = append(append(l, da.list...), Attr{Name: ev.sValue, Val: c.Val, Pos: valPos[i]})
		out = append(out, MkAttrs(newAttrs(l)))
	}
	return MkAttrs(newAttrs([]Attr{{Name: sValues, Val: MkList(out)}, {Name: sHighest, Val: highest}}))
}

// Definition positions. A definition { file; value; } made by groupByName
// carries, on its value attribute, the position of the attribute that
// defined it in its module (builtins.unsafeGetAttrPos "value" def); the
// library's error messages print that line next to the file. The two
// helpers below rebuild definitions without losing it; under another
// evaluator the library falls back to plain attribute sets, and the
// messages name the file only.

// nativeDefWithValue def v is { file = def.file; value = v; }, its value
// attribute at the position of def's.
func nativeDefWithValue(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
	file, v := ev.defParts(pos, a[0], false)
	var vpos *syntax.Pos
	if v != nil {
		vpos = v.Pos
	}
	return ev.mkDef(file, a[1], vpos)
}

// defParts returns a definition's file and its value attribute (which
// must exist when needValue is set).
func (ev *Evaluator) defParts(pos syntax.Pos, def *Value, needValue bool) (*Value, *Attr) {
	da := ev.ForceAttrs(pos, def)
	f, ok := da.Get(ev.syms.Intern("file"))
	if !ok {
		ev.errorAt(pos, "attribute 'file' missing")
	}
	v, ok := da.Get(ev.sValue)
	if !ok && needValue {
		ev.errorAt(pos, "attribute 'value' missing")
	}
	return f.Val, v
}

// mkDef returns { file = file; value = val; }, the value attribute at pos.
func (ev *Evaluator) mkDef(file, val *Value, pos *syntax.Pos) *Value {
	return MkAttrs(newAttrs([]Attr{{Name: ev.syms.Intern("file"), Val: file}, {Name: ev.sValue, Val: val, Pos: pos}}))
}

// nativeSplitDef def is
//
//	mapAttrs (n: v: { inherit (def) file; value = v; }) def.value
//
// with each new definition's value attribute at the position of the
// attribute n it comes from.
func nativeSplitDef(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
	file, v := ev.defParts(pos, a[0], true)
	va := ev.ForceAttrs(pos, v.Val)
	out := make([]Attr, len(va.list))
	for i, x := range va.list {
		out[i] = Attr{Name: x.Name, Val: ev.mkDef(file, x.Val, x.Pos), Pos: x.Pos}
	}
	return mkAttrsList(out)
}
