package eval

import "github.com/onix-dev/onix/internal/eval/syntax"

func registerTypes(r *registry) {
	pred := func(name string, ok func(v *Value) bool) {
		r.Add(name, 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
			ev.force(a[0])
			return MkBool(ok(a[0]))
		})
	}
	pred("isNull", func(v *Value) bool { return v.kind == KNull })
	pred("__isInt", func(v *Value) bool { return v.kind == KInt })
	pred("__isFloat", func(v *Value) bool { return v.kind == KFloat })
	pred("__isBool", func(v *Value) bool { return v.kind == KBool })
	pred("__isString", func(v *Value) bool { return v.kind == KString })
	pred("__isPath", func(v *Value) bool { return v.kind == KPath })
	pred("__isAttrs", func(v *Value) bool { return v.kind == KAttrs })
	pred("__isList", func(v *Value) bool { return v.kind == KList })
	pred("__isFunction", func(v *Value) bool { return v.kind == KLambda || v.kind == KPrimOp || v.kind == KPrimOpApp })
	r.Add("__typeOf", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		ev.force(a[0])
		return MkString(a[0].TypeOf())
	})
}
