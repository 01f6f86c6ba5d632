// Package eval is onix's Nix language evaluator.
//
// Values are *Value cells (32 bytes) updated in place when a thunk is forced.
// Errors inside the evaluator are raised with panic(*Error) and recovered at
// the public entry points (Evaluator.Eval*, tryEval); builtins raise them with
// ev.errorf / ev.errorAt and never need to recover themselves.
package eval

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"unsafe"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

// Kind is a value's type tag.
type Kind uint8

// Value kinds. Everything from KThunk on is not yet in normal form.
const (
	KNull Kind = iota
	KBool
	KInt
	KFloat
	KString
	KPath
	KAttrs
	KList
	KLambda
	KPrimOp
	KPrimOpApp
	KThunk     // p = *Env, q = *thunkCode
	KApp       // deferred application: p = fn *Value, q = arg *Value
	KBlackhole // being forced; q = *thunkCode for the position
)

// Value is one Nix value. The zero Value is null.
//
// Field use by kind:
//
//	KBool, KInt:  n
//	KFloat:       n = math.Float64bits
//	KString:      p = string data, n = length, q = *Context (nil: none)
//	KPath:        p = string data, n = length
//	KAttrs:       p = *Attrs
//	KList:        p = &elems[0], n = length
//	KLambda:      p = *Env, q = *lambdaCode
//	KPrimOp:      p = *PrimOp
//	KPrimOpApp:   p = *primOpApp
type Value struct {
	kind Kind
	n    int64
	p    unsafe.Pointer
	q    unsafe.Pointer
}

// Kind returns the value's kind (a thunk's kind until forced).
func (v *Value) Kind() Kind { return v.kind }

// Int returns an int value's number.
func (v *Value) Int() int64 { return v.n }

// Bool returns a bool value's truth.
func (v *Value) Bool() bool { return v.n != 0 }

// Float returns a float value's number.
func (v *Value) Float() float64 { return math.Float64frombits(uint64(v.n)) }

// Str returns a string or path value's text.
func (v *Value) Str() string {
	if v.n == 0 {
		return ""
	}
	return unsafe.String((*byte)(v.p), int(v.n))
}

// Context returns a string value's context, nil when it has none.
func (v *Value) Context() *Context {
	if v.kind != KString {
		return nil
	}
	return (*Context)(v.q)
}

// Attrs returns an attribute set value's bindings.
func (v *Value) Attrs() *Attrs { return (*Attrs)(v.p) }

// List returns a list value's elements (not to be modified).
func (v *Value) List() []*Value {
	if v.n == 0 {
		return nil
	}
	return unsafe.Slice((**Value)(v.p), int(v.n))
}

// PrimOp returns a primop value's definition.
func (v *Value) PrimOp() *PrimOp { return (*PrimOp)(v.p) }

func (v *Value) lambda() *lambdaCode { return (*lambdaCode)(v.q) }
func (v *Value) env() *Env           { return (*Env)(v.p) }
func (v *Value) primOpApp() *primOpApp {
	return (*primOpApp)(v.p)
}

// Shared immutable constants. They are never updated in place because only
// thunk cells are.
var (
	valTrue  = &Value{kind: KBool, n: 1}
	valFalse = &Value{kind: KBool}
	valNull  = &Value{kind: KNull}
	emptyStr = &Value{kind: KString}
	emptyLst = &Value{kind: KList}
)

// small ints are preallocated; read-only after init.
var smallInts = func() []Value {
	s := make([]Value, 1024+1)
	for i := range s {
		s[i] = Value{kind: KInt, n: int64(i - 1)}
	}
	return s
}()

// MkInt returns an int value.
func MkInt(i int64) *Value {
	if i >= -1 && i < 1024 {
		return &smallInts[i+1]
	}
	return newIntCell(i)
}

// scalarCell has Value's layout without pointer words: the garbage
// collector neither scans it nor needs heap bits to allocate it.
type scalarCell struct {
	kind Kind
	n    int64
	p, q uintptr // always zero
}

// newIntCell allocates an int cell that holds no pointers. Like the shared
// small ints it is never updated in place (only thunk cells are), so its
// p and q words stay nil and the collector may ignore them.
func newIntCell(i int64) *Value {
	c := &scalarCell{kind: KInt, n: i}
	return (*Value)(unsafe.Pointer(c))
}

// MkBool returns a bool value.
func MkBool(b bool) *Value {
	if b {
		return valTrue
	}
	return valFalse
}

// MkNull returns null.
func MkNull() *Value { return valNull }

// MkFloat returns a float value.
func MkFloat(f float64) *Value { return &Value{kind: KFloat, n: int64(math.Float64bits(f))} }

// MkString returns a string without context.
func MkString(s string) *Value {
	if len(s) == 0 {
		return emptyStr
	}
	return &Value{kind: KString, n: int64(len(s)), p: unsafe.Pointer(unsafe.StringData(s))}
}

// MkStringCtx returns a string with context c (nil or empty: none).
func MkStringCtx(s string, c *Context) *Value {
	if c.Empty() {
		return MkString(s)
	}
	v := &Value{kind: KString, n: int64(len(s)), q: unsafe.Pointer(c)}
	if len(s) > 0 {
		v.p = unsafe.Pointer(unsafe.StringData(s))
	}
	return v
}

// MkPath returns a path value; s must be absolute and clean.
func MkPath(s string) *Value {
	v := &Value{kind: KPath, n: int64(len(s))}
	if len(s) > 0 {
		v.p = unsafe.Pointer(unsafe.StringData(s))
	}
	return v
}

// MkList returns a list value owning elems.
func MkList(elems []*Value) *Value {
	if len(elems) == 0 {
		return emptyLst
	}
	return &Value{kind: KList, n: int64(len(elems)), p: unsafe.Pointer(&elems[0])}
}

// MkAttrs returns an attribute set value.
func MkAttrs(a *Attrs) *Value { return &Value{kind: KAttrs, p: unsafe.Pointer(a)} }

// attrsBox holds an attribute set value and its Attrs in one allocation.
type attrsBox struct {
	v Value
	a Attrs
}

// mkAttrsList returns an attribute set value owning l (sorted by symbol,
// no duplicates).
func mkAttrsList(l []Attr) *Value {
	b := &attrsBox{a: Attrs{list: l}}
	b.v.kind, b.v.p = KAttrs, unsafe.Pointer(&b.a)
	return &b.v
}

// MkPrimOp returns a primop value.
func MkPrimOp(p *PrimOp) *Value { return &Value{kind: KPrimOp, p: unsafe.Pointer(p)} }

// setApp makes v the lazily applied call f a.
func setApp(v, f, a *Value) {
	v.kind, v.p, v.q = KApp, unsafe.Pointer(f), unsafe.Pointer(a)
}

// mkApp returns a lazily applied call f a.
func mkApp(f, a *Value) *Value {
	return &Value{kind: KApp, p: unsafe.Pointer(f), q: unsafe.Pointer(a)}
}

// Context is a string's context: the store paths it refers to, as Nix's
// encoded strings ("/nix/store/…", "=/nix/store/….drv" for all outputs,
// "!out!/nix/store/….drv" for one output). Sorted, no duplicates.
type Context struct {
	Elems []string
}

// Empty reports whether c holds nothing.
func (c *Context) Empty() bool { return c == nil || len(c.Elems) == 0 }

// NewContext returns a context of the given elements.
func NewContext(elems ...string) *Context {
	if len(elems) == 0 {
		return nil
	}
	e := append([]string(nil), elems...)
	sort.Strings(e)
	out := e[:1]
	for _, s := range e[1:] {
		if s != out[len(out)-1] {
			out = append(out, s)
		}
	}
	return &Context{Elems: out}
}

// mergeContext returns the union of a and b.
func mergeContext(a, b *Context) *Context {
	if b.Empty() {
		return a
	}
	if a.Empty() {
		return b
	}
	return NewContext(append(append([]string(nil), a.Elems...), b.Elems...)...)
}

// Attr is one attribute: name symbol, value, position of its definition.
type Attr struct {
	Name Symbol
	Val  *Value
	Pos  *syntax.Pos
}

// Attrs is an attribute set: bindings sorted by symbol id (not by name; use
// Sorted for name order).
type Attrs struct {
	list []Attr
}

// Len returns the number of attributes.
func (a *Attrs) Len() int { return len(a.list) }

// All returns the bindings in symbol order (not to be modified).
func (a *Attrs) All() []Attr { return a.list }

// Get looks up a symbol.
func (a *Attrs) Get(s Symbol) (*Attr, bool) {
	l := a.list
	lo, hi := 0, len(l)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if l[m].Name < s {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(l) && l[lo].Name == s {
		return &l[lo], true
	}
	return nil, false
}

// newAttrs builds a set from unsorted bindings; on duplicate names the last
// wins unless first is true (then the first wins).
func newAttrs(l []Attr) *Attrs {
	slices.SortStableFunc(l, func(x, y Attr) int { return cmp.Compare(x.Name, y.Name) })
	// dedupe: keep last of equal runs
	if len(l) > 1 {
		out := l[:0]
		for i := 0; i < len(l); i++ {
			if i+1 < len(l) && l[i+1].Name == l[i].Name {
				continue
			}
			out = append(out, l[i])
		}
		l = out
	}
	return &Attrs{list: l}
}

// newAttrsFirstWins is newAttrs where the first of duplicate names wins.
func newAttrsFirstWins(l []Attr) *Attrs {
	slices.SortStableFunc(l, func(x, y Attr) int { return cmp.Compare(x.Name, y.Name) })
	if len(l) > 1 {
		out := l[:1]
		for i := 1; i < len(l); i++ {
			if l[i].Name == out[len(out)-1].Name {
				continue
			}
			out = append(out, l[i])
		}
		l = out
	}
	return &Attrs{list: l}
}

// Env is one lexical environment frame: the enclosing frame and the slots.
// Only the first slot is declared; an Env of n slots is allocated with room
// for n (env2, env3, or a []*Value whose first word holds up), and slots
// are reached with get/set. A one-slot Env is 16 bytes.
type Env struct {
	up *Env
	v0 *Value
}

type env2 struct {
	Env
	v1 *Value
}

type env3 struct {
	Env
	v [2]*Value
}

// get returns slot i (i < the Env's size, guaranteed by the compiler).
func (e *Env) get(i int) *Value {
	return *(**Value)(unsafe.Add(unsafe.Pointer(&e.v0), uintptr(i)*unsafe.Sizeof(e.v0)))
}

// set stores slot i.
func (e *Env) set(i int, v *Value) {
	*(**Value)(unsafe.Add(unsafe.Pointer(&e.v0), uintptr(i)*unsafe.Sizeof(e.v0))) = v
}

func newEnv(up *Env, n int) *Env {
	switch n {
	case 0, 1:
		return &Env{up: up}
	case 2:
		e := &env2{}
		e.up = up
		return &e.Env
	case 3:
		e := &env3{}
		e.up = up
		return &e.Env
	}
	// all words are pointers: up followed by n slots
	w := make([]*Value, n+1)
	e := (*Env)(unsafe.Pointer(&w[0]))
	e.up = up
	return e
}

// PrimOp is a builtin function of Arity arguments (0 for constants, which
// are stored as values instead).
type PrimOp struct {
	Name  string
	Arity int
	Fn    func(ev *Evaluator, pos syntax.Pos, args []*Value) *Value
}

type primOpApp struct {
	op   *PrimOp
	args []*Value
}

// TypeName returns Nix's name of the kind as used in error messages.
func (v *Value) TypeName() string {
	switch v.kind {
	case KNull:
		return "null"
	case KBool:
		return "a Boolean"
	case KInt:
		return "an integer"
	case KFloat:
		return "a float"
	case KString:
		return "a string"
	case KPath:
		return "a path"
	case KAttrs:
		return "a set"
	case KList:
		return "a list"
	case KLambda:
		return "a function"
	case KPrimOp:
		return "a built-in function"
	case KPrimOpApp:
		return "a partially applied built-in function"
	case KThunk, KApp:
		return "a thunk"
	}
	return "an internal value"
}

// TypeOf returns builtins.typeOf's answer.
func (v *Value) TypeOf() string {
	switch v.kind {
	case KNull:
		return "null"
	case KBool:
		return "bool"
	case KInt:
		return "int"
	case KFloat:
		return "float"
	case KString:
		return "string"
	case KPath:
		return "path"
	case KAttrs:
		return "set"
	case KList:
		return "list"
	case KLambda, KPrimOp, KPrimOpApp:
		return "lambda"
	}
	return "thunk"
}
