package eval

import (
	"unsafe"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

func registerAttrs(r *registry) {
	r.Add("__attrNames", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		l := ev.sortedAttrs(ev.ForceAttrs(pos, a[0]))
		out := make([]*Value, len(l))
		for i, x := range l {
			out[i] = MkString(ev.syms.Name(x.Name))
		}
		return MkList(out)
	})
	r.Add("__attrValues", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		l := ev.sortedAttrs(ev.ForceAttrs(pos, a[0]))
		out := make([]*Value, len(l))
		for i, x := range l {
			out[i] = x.Val
		}
		return MkList(out)
	})
	r.Add("__getAttr", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		name := ev.ForceStringNoCtx(pos, a[0])
		s := ev.ForceAttrs(pos, a[1])
		x, ok := s.Get(ev.syms.Intern(name))
		if !ok {
			ev.missingAttr(pos, ev.syms.Intern(name), s)
		}
		return x.Val
	})
	r.Add("__hasAttr", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		name := ev.ForceStringNoCtx(pos, a[0])
		_, ok := ev.ForceAttrs(pos, a[1]).Get(ev.syms.Intern(name))
		return MkBool(ok)
	})
	r.Add("removeAttrs", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		s := ev.ForceAttrs(pos, a[0])
		drop := map[Symbol]bool{}
		for _, n := range ev.ForceList(pos, a[1]) {
			drop[ev.syms.Intern(ev.ForceStringNoCtx(pos, n))] = true
		}
		out := make([]Attr, 0, s.Len())
		for _, x := range s.list {
			if !drop[x.Name] {
				out = append(out, x)
			}
		}
		return mkAttrsList(out)
	})
	r.Add("__listToAttrs", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		l := ev.ForceList(pos, a[0])
		out := make([]Attr, 0, len(l))
		for _, e := range l {
			s := ev.ForceAttrs(pos, e)
			n, ok := s.Get(ev.sName)
			if !ok {
				ev.errorAt(pos, "attribute 'name' missing")
			}
			v, ok := s.Get(ev.sValue)
			if !ok {
				ev.errorAt(pos, "attribute 'value' missing")
			}
			out = append(out, Attr{Name: ev.syms.Intern(ev.ForceStringNoCtx(pos, n.Val)), Val: v.Val, Pos: v.Pos})
		}
		return MkAttrs(newAttrsFirstWins(out))
	})
	r.Add("__intersectAttrs", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		x := ev.ForceAttrs(pos, a[0])
		y := ev.ForceAttrs(pos, a[1])
		var out []Attr
		for _, b := range y.list {
			if _, ok := x.Get(b.Name); ok {
				out = append(out, b)
			}
		}
		return mkAttrsList(out)
	})
	r.Add("__catAttrs", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		sym := ev.syms.Intern(ev.ForceStringNoCtx(pos, a[0]))
		var out []*Value
		for _, e := range ev.ForceList(pos, a[1]) {
			if x, ok := ev.ForceAttrs(pos, e).Get(sym); ok {
				out = append(out, x.Val)
			}
		}
		return MkList(out)
	})
	r.Add("__mapAttrs", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		s := ev.ForceAttrs(pos, a[1])
		out := make([]Attr, len(s.list))
		apps := make([]Value, 2*len(s.list))
		for i, x := range s.list {
			inner, outer := &apps[2*i], &apps[2*i+1]
			setApp(inner, a[0], ev.syms.NameValue(x.Name))
			setApp(outer, inner, x.Val)
			out[i] = Attr{Name: x.Name, Val: outer, Pos: x.Pos}
		}
		return mkAttrsList(out)
	})
	r.Add("__zipAttrsWith", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		groups := map[Symbol][]*Value{}
		var order []Symbol
		for _, e := range ev.ForceList(pos, a[1]) {
			for _, x := range ev.ForceAttrs(pos, e).list {
				if _, ok := groups[x.Name]; !ok {
					order = append(order, x.Name)
				}
				groups[x.Name] = append(groups[x.Name], x.Val)
			}
		}
		out := make([]Attr, 0, len(order))
		apps := make([]Value, 3*len(order))
		for i, k := range order {
			inner, outer, list := &apps[3*i], &apps[3*i+1], &apps[3*i+2]
			g := groups[k]
			list.kind, list.n, list.p = KList, int64(len(g)), unsafe.Pointer(&g[0])
			setApp(inner, a[0], ev.syms.NameValue(k))
			setApp(outer, inner, list)
			out = append(out, Attr{Name: k, Val: outer})
		}
		return MkAttrs(newAttrs(out))
	})
	r.Add("__functionArgs", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		f := ev.ForceFunction(pos, a[0])
		b := ev.NewAttrsBuilder(4)
		if f.kind == KLambda && f.lambda().formals != nil {
			for _, fm := range f.lambda().fs {
				b.SetSym(fm.sym, MkBool(fm.def != nil), fm.pos)
			}
		}
		return b.Value()
	})
	r.Add("__unsafeGetAttrPos", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		name := ev.ForceStringNoCtx(pos, a[0])
		x, ok := ev.ForceAttrs(pos, a[1]).Get(ev.syms.Intern(name))
		if !ok || x.Pos == nil {
			return valNull
		}
		return ev.posValue(*x.Pos)
	})
	r.Add("__genericClosure", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		args := ev.ForceAttrs(pos, a[0])
		start, ok := args.Get(ev.syms.Intern("startSet"))
		if !ok {
			ev.errorAt(pos, "attribute 'startSet' missing")
		}
		op, ok := args.Get(ev.syms.Intern("operator"))
		if !ok {
			ev.errorAt(pos, "attribute 'operator' missing")
		}
		work := append([]*Value(nil), ev.ForceList(pos, start.Val)...)
		var res []*Value
		// Keys are compared like Nix's std::set<Value*, CompareValues>:
		// numbers with numbers, strings, paths, lists lexicographically;
		// anything else (or mixed types) is an error once a comparison
		// happens. Scalars go through a map; lists through a sorted slice.
		var first *Value
		var sorted []*Value
		seen := map[string]bool{}
		seenInt := map[int64]struct{}{} // int keys and integral floats
		var dense []uint64              // the same for 0 <= key < 2^24
		for len(work) > 0 {
			e := work[0]
			work = work[1:]
			k, ok := ev.ForceAttrs(pos, e).Get(ev.sKey)
			if !ok {
				ev.errorAt(pos, "attribute 'key' missing")
			}
			ev.force(k.Val)
			kv := k.Val
			if first == nil {
				first = kv
			} else if kv.kind != first.kind && !(isNumber(kv) && isNumber(first)) {
				ev.lessThan(kv, first, pos) // raises "cannot compare"
			}
			switch kv.kind {
			case KInt, KFloat, KString, KPath:
				if n, isInt := closureIntKey(kv); isInt {
					if n >= 0 && n < 1<<24 {
						// small non-negative ints: a bit set
						w := int(n >> 6)
						if w >= len(dense) {
							dense = append(dense, make([]uint64, w+1-len(dense)+len(dense))...)
						}
						if dense[w]&(1<<(n&63)) != 0 {
							continue
						}
						dense[w] |= 1 << (n & 63)
						break
					}
					if _, dup := seenInt[n]; dup {
						continue
					}
					seenInt[n] = struct{}{}
					break
				}
				key := ev.closureKey(kv, pos)
				if seen[key] {
					continue
				}
				seen[key] = true
			default:
				lo, hi := 0, len(sorted)
				dup := false
				for lo < hi {
					m := (lo + hi) / 2
					if ev.lessThan(sorted[m], kv, pos) {
						lo = m + 1
					} else if ev.lessThan(kv, sorted[m], pos) {
						hi = m
					} else {
						dup = true
						break
					}
				}
				if dup {
					continue
				}
				if len(sorted) > 0 && kv.kind != KList {
					ev.errorAt(pos, "cannot compare %s with %s; values of that type are incomparable", kv.TypeName(), kv.TypeName())
				}
				sorted = append(sorted, nil)
				copy(sorted[lo+1:], sorted[lo:])
				sorted[lo] = kv
			}
			res = append(res, e)
			work = append(work, ev.ForceList(pos, ev.call1(op.Val, e, pos))...)
		}
		return MkList(res)
	})
}

func isNumber(v *Value) bool { return v.kind == KInt || v.kind == KFloat }

// closureIntKey is the int a numeric genericClosure key equals, if any
// (closureKey's "i" keys).
func closureIntKey(v *Value) (int64, bool) {
	switch v.kind {
	case KInt:
		return v.n, true
	case KFloat:
		f := v.Float()
		if f == float64(int64(f)) {
			return int64(f), true
		}
	}
	return 0, false
}

// closureKey gives scalar genericClosure keys a map key ("" otherwise).
func (ev *Evaluator) closureKey(v *Value, pos syntax.Pos) string {
	switch v.kind {
	case KInt:
		return "i" + itoa(v.n)
	case KFloat:
		f := v.Float()
		if f == float64(int64(f)) {
			return "i" + itoa(int64(f))
		}
		return "f" + formatFloatG(f)
	case KString:
		return "s" + v.Str()
	case KPath:
		return "p" + v.Str()
	case KBool:
		return "b" + itoa(v.n)
	case KNull:
		return "n"
	}
	return ""
}
