package eval

import (
	"math"
	"math/bits"
	"sort"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

func sortStrings(s []string) { sort.Strings(s) }

// arith applies + - * / to numbers (op is the operator byte).
func (ev *Evaluator) arith(op byte, a, b *Value, pos syntax.Pos) *Value {
	ev.force(a)
	ev.force(b)
	if a.kind == KInt && b.kind == KInt {
		x, y := a.n, b.n
		switch op {
		case '+':
			r := x + y
			if (x > 0 && y > 0 && r < 0) || (x < 0 && y < 0 && r >= 0) {
				ev.errorAt(pos, "integer overflow in adding %d + %d", x, y)
			}
			return ev.newInt(r)
		case '-':
			r := x - y
			if (x >= 0 && y < 0 && r < 0) || (x < 0 && y > 0 && r >= 0) {
				ev.errorAt(pos, "integer overflow in subtracting %d - %d", x, y)
			}
			return ev.newInt(r)
		case '*':
			hi, lo := bits.Mul64(uint64(abs64(x)), uint64(abs64(y)))
			neg := (x < 0) != (y < 0)
			if hi != 0 || (lo > math.MaxInt64 && !(neg && lo == 1<<63)) || x == math.MinInt64 && y != 1 && y != 0 || y == math.MinInt64 && x != 1 && x != 0 {
				ev.errorAt(pos, "integer overflow in multiplying %d * %d", x, y)
			}
			return ev.newInt(x * y)
		case '/':
			if y == 0 {
				ev.errorAt(pos, "division by zero")
			}
			if x == math.MinInt64 && y == -1 {
				ev.errorAt(pos, "integer overflow in dividing %d / %d", x, y)
			}
			return ev.newInt(x / y)
		}
	}
	var x, y float64
	switch a.kind {
	case KInt:
		x = float64(a.n)
	case KFloat:
		x = a.Float()
	default:
		if op == '+' {
			ev.errorAt(pos, "cannot add %s to %s", b.TypeName(), a.TypeName())
		}
		ev.errorAt(pos, "value is %s while an integer was expected", a.TypeName())
	}
	switch b.kind {
	case KInt:
		y = float64(b.n)
	case KFloat:
		y = b.Float()
	default:
		if op == '+' {
			ev.errorAt(pos, "cannot add %s to %s", b.TypeName(), a.TypeName())
		}
		ev.errorAt(pos, "value is %s while an integer was expected", b.TypeName())
	}
	switch op {
	case '+':
		return MkFloat(x + y)
	case '-':
		return MkFloat(x - y)
	case '*':
		return MkFloat(x * y)
	}
	if y == 0 {
		ev.errorAt(pos, "division by zero")
	}
	return MkFloat(x / y)
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// Equal implements ==.
func (ev *Evaluator) Equal(a, b *Value, pos syntax.Pos) bool {
	// forced before the identity shortcut, as Nix's eqValues: `x == x`
	// still raises x's error
	ev.force(a)
	ev.force(b)
	if a == b {
		return true
	}
	return ev.equalForced(a, b, pos)
}

// equalForced compares two forced values without the cell-identity
// shortcut at this level.
func (ev *Evaluator) equalForced(a, b *Value, pos syntax.Pos) bool {
	if a.kind == KInt && b.kind == KFloat {
		return float64(a.n) == b.Float()
	}
	if a.kind == KFloat && b.kind == KInt {
		return a.Float() == float64(b.n)
	}
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case KNull:
		return true
	case KBool, KInt:
		return a.n == b.n
	case KFloat:
		return a.Float() == b.Float()
	case KString, KPath:
		return a.Str() == b.Str()
	case KList:
		if a.n != b.n {
			return false
		}
		la, lb := a.List(), b.List()
		for i := range la {
			if !ev.Equal(la[i], lb[i], pos) {
				return false
			}
		}
		return true
	case KAttrs:
		if ev.isDerivation(a) && ev.isDerivation(b) {
			oa, ok1 := a.Attrs().Get(ev.sOutPath)
			ob, ok2 := b.Attrs().Get(ev.sOutPath)
			if ok1 && ok2 {
				return ev.Equal(oa.Val, ob.Val, pos)
			}
		}
		la, lb := a.Attrs().list, b.Attrs().list
		if len(la) != len(lb) {
			return false
		}
		for i := range la {
			if la[i].Name != lb[i].Name {
				return false
			}
		}
		for i := range la {
			if !ev.Equal(la[i].Val, lb[i].Val, pos) {
				return false
			}
		}
		return true
	}
	return false
}

// isDerivation reports whether v is a set with type = "derivation".
func (ev *Evaluator) isDerivation(v *Value) bool {
	if v.kind != KAttrs {
		return false
	}
	t, ok := v.Attrs().Get(ev.sType)
	if !ok {
		return false
	}
	ev.force(t.Val)
	return t.Val.kind == KString && t.Val.Str() == "derivation"
}

// lessThan implements builtins.lessThan / sort's default order.
func (ev *Evaluator) lessThan(a, b *Value, pos syntax.Pos) bool {
	ev.force(a)
	ev.force(b)
	switch {
	case a.kind == KInt && b.kind == KInt:
		return a.n < b.n
	case a.kind == KInt && b.kind == KFloat:
		return float64(a.n) < b.Float()
	case a.kind == KFloat && b.kind == KInt:
		return a.Float() < float64(b.n)
	case a.kind == KFloat && b.kind == KFloat:
		return a.Float() < b.Float()
	case a.kind == KString && b.kind == KString, a.kind == KPath && b.kind == KPath:
		return a.Str() < b.Str()
	case a.kind == KList && b.kind == KList:
		la, lb := a.List(), b.List()
		for i := 0; ; i++ {
			if i == len(lb) {
				return false
			}
			if i == len(la) {
				return true
			}
			if !ev.Equal(la[i], lb[i], pos) {
				return ev.lessThan(la[i], lb[i], pos)
			}
		}
	}
	ev.errorAt(pos, "cannot compare %s with %s", a.TypeName(), b.TypeName())
	return false
}
