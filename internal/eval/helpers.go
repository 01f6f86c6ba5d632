package eval

import (
	"os"
	"slices"
	"strings"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

// ForceList forces v to a list.
func (ev *Evaluator) ForceList(pos syntax.Pos, v *Value) []*Value {
	ev.force(v)
	if v.kind != KList {
		ev.errorAt(pos, "value is %s while a list was expected", v.TypeName())
	}
	return v.List()
}

// ForceAttrs forces v to a set.
func (ev *Evaluator) ForceAttrs(pos syntax.Pos, v *Value) *Attrs {
	ev.force(v)
	if v.kind != KAttrs {
		ev.errorAt(pos, "value is %s while a set was expected", v.TypeName())
	}
	return v.Attrs()
}

// ForceInt forces v to an int.
func (ev *Evaluator) ForceInt(pos syntax.Pos, v *Value) int64 {
	ev.force(v)
	if v.kind != KInt {
		ev.errorAt(pos, "value is %s while an integer was expected", v.TypeName())
	}
	return v.n
}

// ForceBool forces v to a Boolean.
func (ev *Evaluator) ForceBool(pos syntax.Pos, v *Value) bool {
	ev.force(v)
	if v.kind != KBool {
		ev.errorAt(pos, "value is %s while a Boolean was expected", v.TypeName())
	}
	return v.n != 0
}

// ForceFunction forces v to something callable.
func (ev *Evaluator) ForceFunction(pos syntax.Pos, v *Value) *Value {
	ev.force(v)
	switch v.kind {
	case KLambda, KPrimOp, KPrimOpApp:
		return v
	case KAttrs:
		if _, ok := v.Attrs().Get(ev.sFunctor); ok {
			return v
		}
	}
	ev.errorAt(pos, "value is %s while a function was expected", v.TypeName())
	return nil
}

// GetAttr returns attribute name of a (nil if absent).
func (ev *Evaluator) GetAttr(a *Attrs, name string) *Value {
	if x, ok := a.Get(ev.syms.Intern(name)); ok {
		return x.Val
	}
	return nil
}

// AttrsBuilder collects attributes for a new set.
type AttrsBuilder struct {
	ev *Evaluator
	l  []Attr
}

// NewAttrsBuilder starts a set of about n attributes.
func (ev *Evaluator) NewAttrsBuilder(n int) *AttrsBuilder {
	return &AttrsBuilder{ev: ev, l: make([]Attr, 0, n)}
}

// Set adds name = v (the last Set of a name wins).
func (b *AttrsBuilder) Set(name string, v *Value) {
	b.l = append(b.l, Attr{Name: b.ev.syms.Intern(name), Val: v})
}

// SetSym adds a symbol-named attribute.
func (b *AttrsBuilder) SetSym(s Symbol, v *Value, pos *syntax.Pos) {
	b.l = append(b.l, Attr{Name: s, Val: v, Pos: pos})
}

// Value finishes the set.
func (b *AttrsBuilder) Value() *Value { return MkAttrs(newAttrs(b.l)) }

// sortedAttrs returns a's bindings in name order.
func (ev *Evaluator) sortedAttrs(a *Attrs) []Attr {
	l := append([]Attr(nil), a.list...)
	sortAttrsByName(ev, l)
	return l
}

func sortAttrsByName(ev *Evaluator, l []Attr) {
	names := ev.syms.names
	// names in a set are distinct: no ties, stability is moot
	slices.SortFunc(l, func(x, y Attr) int { return strings.Compare(names[x.Name], names[y.Name]) })
}

func osGetwd() (string, error) { return os.Getwd() }

// CoerceString coerces a value like "${v}" for callers outside evaluation
// (nix eval --raw).
func (ev *Evaluator) CoerceString(v *Value) (s string, err error) {
	err = ev.catch(func() { s, _ = ev.CoerceToString(syntax.Pos{}, v, false, true) })
	return
}
