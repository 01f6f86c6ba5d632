package eval

import (
	"slices"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

func registerList(r *registry) {
	r.Add("__length", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		return MkInt(int64(len(ev.ForceList(pos, a[0]))))
	})
	r.Add("__elemAt", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		l := ev.ForceList(pos, a[0])
		i := ev.ForceInt(pos, a[1])
		if i < 0 || i >= int64(len(l)) {
			ev.errorAt(pos, "list index %d is out of bounds", i)
		}
		return l[i]
	})
	r.Add("__head", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		l := ev.ForceList(pos, a[0])
		if len(l) == 0 {
			ev.errorAt(pos, "list index 0 is out of bounds")
		}
		return l[0]
	})
	r.Add("__tail", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		l := ev.ForceList(pos, a[0])
		if len(l) == 0 {
			ev.errorAt(pos, "'tail' called on an empty list")
		}
		return MkList(l[1:])
	})
	r.Add("map", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		l := ev.ForceList(pos, a[1])
		out := make([]*Value, len(l))
		cells := make([]Value, len(l))
		for i, x := range l {
			cells[i] = Value{kind: KApp, p: unsafePtr(a[0]), q: unsafePtr(x)}
			out[i] = &cells[i]
		}
		return MkList(out)
	})
	r.Add("__filter", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		f := ev.ForceFunction(pos, a[0])
		l := ev.ForceList(pos, a[1])
		var out []*Value
		for _, x := range l {
			if ev.ForceBool(pos, ev.call1(f, x, pos)) {
				out = append(out, x)
			}
		}
		if len(out) == len(l) {
			return a[1]
		}
		return MkList(out)
	})
	foldl := func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		f := ev.ForceFunction(pos, a[0])
		acc := a[1]
		for _, x := range ev.ForceList(pos, a[2]) {
			acc = ev.call2(f, acc, x, pos)
		}
		ev.force(acc)
		return acc
	}
	r.Add("__foldl'", 3, foldl)
	r.Add("__genList", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		n := ev.ForceInt(pos, a[1])
		if n < 0 {
			ev.errorAt(pos, "cannot create list of size %d", n)
		}
		out := make([]*Value, n)
		cells := make([]Value, n)
		for i := range out {
			cells[i] = Value{kind: KApp, p: unsafePtr(a[0]), q: unsafePtr(MkInt(int64(i)))}
			out[i] = &cells[i]
		}
		return MkList(out)
	})
	r.Add("__concatLists", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		var out []*Value
		for _, l := range ev.ForceList(pos, a[0]) {
			out = append(out, ev.ForceList(pos, l)...)
		}
		return MkList(out)
	})
	r.Add("__concatMap", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		f := ev.ForceFunction(pos, a[0])
		var out []*Value
		for _, x := range ev.ForceList(pos, a[1]) {
			out = append(out, ev.ForceList(pos, ev.call1(f, x, pos))...)
		}
		return MkList(out)
	})
	r.Add("__elem", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		for _, x := range ev.ForceList(pos, a[1]) {
			if ev.Equal(a[0], x, pos) {
				return valTrue
			}
		}
		return valFalse
	})
	r.Add("__any", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		f := ev.ForceFunction(pos, a[0])
		for _, x := range ev.ForceList(pos, a[1]) {
			if ev.ForceBool(pos, ev.call1(f, x, pos)) {
				return valTrue
			}
		}
		return valFalse
	})
	r.Add("__all", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		f := ev.ForceFunction(pos, a[0])
		for _, x := range ev.ForceList(pos, a[1]) {
			if !ev.ForceBool(pos, ev.call1(f, x, pos)) {
				return valFalse
			}
		}
		return valTrue
	})
	r.Add("__sort", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		f := ev.ForceFunction(pos, a[0])
		l := slices.Clone(ev.ForceList(pos, a[1]))
		for _, x := range l {
			ev.force(x)
		}
		var less func(x, y *Value) bool
		if f.kind == KPrimOp && f.PrimOp().Name == "lessThan" {
			less = func(x, y *Value) bool { return ev.lessThan(x, y, pos) }
		} else {
			less = func(x, y *Value) bool { return ev.ForceBool(pos, ev.call2(f, x, y, pos)) }
		}
		stableSort(l, less)
		return MkList(l)
	})
	r.Add("__partition", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		f := ev.ForceFunction(pos, a[0])
		var right, wrong []*Value
		for _, x := range ev.ForceList(pos, a[1]) {
			if ev.ForceBool(pos, ev.call1(f, x, pos)) {
				right = append(right, x)
			} else {
				wrong = append(wrong, x)
			}
		}
		b := ev.NewAttrsBuilder(2)
		b.Set("right", MkList(right))
		b.Set("wrong", MkList(wrong))
		return b.Value()
	})
	r.Add("__groupBy", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		f := ev.ForceFunction(pos, a[0])
		groups := map[Symbol][]*Value{}
		var order []Symbol
		for _, x := range ev.ForceList(pos, a[1]) {
			k := ev.syms.Intern(ev.ForceStringNoCtx(pos, ev.call1(f, x, pos)))
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], x)
		}
		b := ev.NewAttrsBuilder(len(order))
		for _, k := range order {
			b.SetSym(k, MkList(groups[k]), nil)
		}
		return b.Value()
	})
}
