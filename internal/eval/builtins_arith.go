package eval

import (
	"math"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

func registerArith(r *registry) {
	for _, op := range []struct {
		name string
		op   byte
	}{{"__add", '+'}, {"__sub", '-'}, {"__mul", '*'}, {"__div", '/'}} {
		o := op.op
		r.Add(op.name, 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
			return ev.arithPrim(o, a[0], a[1], pos)
		})
	}
	r.Add("__lessThan", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		return MkBool(ev.lessThan(a[0], a[1], pos))
	})
	bit := func(name string, f func(x, y int64) int64) {
		r.Add(name, 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
			return MkInt(f(ev.ForceInt(pos, a[0]), ev.ForceInt(pos, a[1])))
		})
	}
	bit("__bitAnd", func(x, y int64) int64 { return x & y })
	bit("__bitOr", func(x, y int64) int64 { return x | y })
	bit("__bitXor", func(x, y int64) int64 { return x ^ y })
	r.Add("__ceil", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		return MkInt(int64(math.Ceil(ev.forceNumber(pos, a[0]))))
	})
	r.Add("__floor", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		return MkInt(int64(math.Floor(ev.forceNumber(pos, a[0]))))
	})
}

// arithPrim is the body of __add, __sub, __mul and __div: both operands
// are forced and must be numbers.
func (ev *Evaluator) arithPrim(o byte, a, b *Value, pos syntax.Pos) *Value {
	ev.force(a)
	ev.force(b)
	if a.kind != KInt && a.kind != KFloat {
		ev.errorAt(pos, "value is %s while an integer was expected", a.TypeName())
	}
	if b.kind != KInt && b.kind != KFloat {
		ev.errorAt(pos, "value is %s while an integer was expected", b.TypeName())
	}
	return ev.arith(o, a, b, pos)
}

func (ev *Evaluator) forceNumber(pos syntax.Pos, v *Value) float64 {
	ev.force(v)
	switch v.kind {
	case KInt:
		return float64(v.n)
	case KFloat:
		return v.Float()
	}
	ev.errorAt(pos, "value is %s while a float was expected", v.TypeName())
	return 0
}
