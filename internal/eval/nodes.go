package eval

import (
	"math"
	"sort"
	"strings"
	"unsafe"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

func unsafePtr[T any](p *T) unsafe.Pointer { return unsafe.Pointer(p) }

type constCode struct {
	v *Value
	p syntax.Pos
}

func (c *constCode) eval(*Evaluator, *Env) *Value { return c.v }
func (c *constCode) pos() syntax.Pos              { return c.p }

type varCode struct {
	depth, slot int
	name        string
	p           syntax.Pos
}

func (c *varCode) cell(env *Env) *Value {
	for i := c.depth; i > 0; i-- {
		env = env.up
	}
	return env.get(c.slot)
}

func (c *varCode) eval(ev *Evaluator, env *Env) *Value {
	v := c.cell(env)
	if v.kind >= KThunk {
		ev.forceSlow(v, c.p)
	}
	return v
}
func (c *varCode) pos() syntax.Pos { return c.p }

// primBinCode is a call of the builtin __add/__sub/__mul/__div/__lessThan
// with two arguments (see compiler.primBin).
type primBinCode struct {
	op   byte // '+', '-', '*', '/' or '<'
	l, r code
	p    syntax.Pos
}

func (c *primBinCode) pos() syntax.Pos { return c.p }

// operand evaluates an argument the way the primop would force it: a
// variable's cell is forced without a position of its own (as a forced
// argument thunk is), anything else is evaluated in place of its thunk.
func operand(ev *Evaluator, c code, env *Env) *Value {
	if vc, ok := c.(*varCode); ok {
		v := vc.cell(env)
		if v.kind >= KThunk {
			ev.forceSlow(v, syntax.Pos{})
		}
		return v
	}
	return c.eval(ev, env)
}

func (c *primBinCode) eval(ev *Evaluator, env *Env) *Value {
	ev.tick(c.p)
	a := operand(ev, c.l, env)
	b := operand(ev, c.r, env)
	if c.op == '<' {
		if a.kind == KInt && b.kind == KInt {
			return MkBool(a.n < b.n)
		}
		return MkBool(ev.lessThan(a, b, c.p))
	}
	if a.kind == KInt && b.kind == KInt {
		if r, ok := intOp(c.op, a.n, b.n); ok {
			return MkInt(r)
		}
	}
	return ev.arithPrim(c.op, a, b, c.p)
}

// value is eval returning the value itself rather than a cell (for a thunk
// being forced: no intermediate allocation for an int result).
func (c *primBinCode) value(ev *Evaluator, env *Env) Value {
	ev.tick(c.p)
	a := operand(ev, c.l, env)
	b := operand(ev, c.r, env)
	if a.kind == KInt && b.kind == KInt {
		if c.op == '<' {
			return *MkBool(a.n < b.n)
		}
		if r, ok := intOp(c.op, a.n, b.n); ok {
			return Value{kind: KInt, n: r}
		}
	}
	if c.op == '<' {
		return *MkBool(ev.lessThan(a, b, c.p))
	}
	return *ev.arithPrim(c.op, a, b, c.p)
}

// intOp is + - * / on ints when no overflow or division by zero happens
// (ok false: leave it to arith, which raises the error).
func intOp(op byte, x, y int64) (int64, bool) {
	switch op {
	case '+':
		r := x + y
		return r, (r > x) == (y > 0)
	case '-':
		r := x - y
		return r, (r < x) == (y > 0)
	case '*':
		if x == 0 || y == 0 {
			return 0, true
		}
		r := x * y
		if r/y != x || (x == -1 && y == math.MinInt64) || (y == -1 && x == math.MinInt64) {
			return 0, false
		}
		return r, true
	case '/':
		if y == 0 || (y == -1 && x == math.MinInt64) {
			return 0, false
		}
		return x / y, true
	}
	return 0, false
}

type withVarCode struct {
	sym   Symbol
	name  string
	withs []int // env depths of enclosing with scopes, innermost first
	p     syntax.Pos
}

func (c *withVarCode) eval(ev *Evaluator, env *Env) *Value {
	e := env
	d := 0
	for _, w := range c.withs {
		for ; d < w; d++ {
			e = e.up
		}
		attrs := e.get(0)
		ev.force(attrs)
		if attrs.kind != KAttrs {
			ev.errorAt(c.p, "value is %s while a set was expected", attrs.TypeName())
		}
		if a, ok := attrs.Attrs().Get(c.sym); ok {
			ev.force(a.Val)
			return a.Val
		}
	}
	ev.errorAt(c.p, "undefined variable '%s'", c.name)
	return nil
}
func (c *withVarCode) pos() syntax.Pos { return c.p }

type attrName struct {
	sym  Symbol
	name string
	dyn  code
	p    syntax.Pos
}

func (ev *Evaluator) attrNameSym(a *attrName, env *Env) Symbol {
	if a.dyn == nil {
		return a.sym
	}
	v := a.dyn.eval(ev, env)
	if v.kind != KString {
		ev.errorAt(a.p, "value is %s while a string was expected", v.TypeName())
	}
	return ev.syms.Intern(v.Str())
}

func (ev *Evaluator) showAttrPath(path []attrName, env *Env) string {
	var parts []string
	for i := range path {
		if path[i].dyn == nil {
			parts = append(parts, path[i].name)
		} else {
			parts = append(parts, "\"${...}\"")
		}
	}
	return strings.Join(parts, ".")
}

type selectCode struct {
	e    code
	path []attrName
	def  code
	p    syntax.Pos
}

func (c *selectCode) pos() syntax.Pos { return c.p }

func (c *selectCode) eval(ev *Evaluator, env *Env) *Value {
	v := c.e.eval(ev, env)
	// Fast path without a deferred trace handler: static names through
	// values that are already forced. Anything else (a thunk to force, a
	// dynamic name, a missing attribute, a non-set) continues in evalFrom,
	// which adds the trace frame of the attribute being evaluated.
	var pos2 *syntax.Pos
	for i := range c.path {
		a := &c.path[i]
		if a.dyn != nil || v.kind != KAttrs {
			return c.evalFrom(ev, env, v, i, pos2)
		}
		at, ok := v.Attrs().Get(a.sym)
		if !ok {
			return c.evalFrom(ev, env, v, i, pos2)
		}
		v = at.Val
		pos2 = at.Pos
		if pos2 == nil {
			pos2 = &c.p
		}
	}
	if v.kind >= KThunk {
		return c.evalFrom(ev, env, v, len(c.path), pos2)
	}
	return v
}

// evalFrom continues a selection at path component i with v (pos2: the
// position of the attribute v was selected from, nil at the start).
func (c *selectCode) evalFrom(ev *Evaluator, env *Env, v *Value, i int, pos2 *syntax.Pos) *Value {
	defer func() {
		if pos2 != nil {
			if r := recover(); r != nil {
				p := *pos2
				addTrace(r, p, "while evaluating the attribute '"+ev.showAttrPath(c.path, env)+"'")
			}
		}
	}()
	for ; i < len(c.path); i++ {
		sym := ev.attrNameSym(&c.path[i], env)
		ev.force(v)
		if v.kind != KAttrs {
			if c.def != nil {
				pos2 = nil
				return c.def.eval(ev, env)
			}
			ev.errorAt(c.p, "value is %s while a set was expected", v.TypeName())
		}
		a, ok := v.Attrs().Get(sym)
		if !ok {
			if c.def != nil {
				pos2 = nil
				return c.def.eval(ev, env)
			}
			ev.missingAttr(c.p, sym, v.Attrs())
		}
		v = a.Val
		pos2 = a.Pos
		if pos2 == nil {
			pos2 = &c.p
		}
	}
	ev.force(v)
	return v
}

func (ev *Evaluator) missingAttr(pos syntax.Pos, sym Symbol, a *Attrs) {
	var names []string
	for _, x := range a.list {
		names = append(names, ev.syms.Name(x.Name))
	}
	panic(&Error{Msg: "attribute '" + ev.syms.Name(sym) + "' missing", Pos: pos, Hint: suggest(ev.syms.Name(sym), names)})
}

type hasAttrCode struct {
	e    code
	path []attrName
	p    syntax.Pos
}

func (c *hasAttrCode) pos() syntax.Pos { return c.p }
func (c *hasAttrCode) eval(ev *Evaluator, env *Env) *Value {
	v := c.e.eval(ev, env)
	for i := range c.path {
		sym := ev.attrNameSym(&c.path[i], env)
		ev.force(v)
		if v.kind != KAttrs {
			return valFalse
		}
		a, ok := v.Attrs().Get(sym)
		if !ok {
			return valFalse
		}
		v = a.Val
	}
	return valTrue
}

type staticBind struct {
	sym   Symbol
	pos   *syntax.Pos
	l     *lazy
	outer bool
	inh   bool // inherit (e): l runs in the inherit-from frame
}

type dynBind struct {
	name code
	l    *lazy
	pos  *syntax.Pos
}

type attrsCode struct {
	inh     []*lazy // the e of each inherit (e) clause
	rec     bool
	static  []staticBind
	dynamic []dynBind
	sorted  bool
	p       syntax.Pos
}

func (c *attrsCode) pos() syntax.Pos { return c.p }

func (c *attrsCode) sortStatic() {
	sort.SliceStable(c.static, func(i, j int) bool { return c.static[i].sym < c.static[j].sym })
	c.sorted = true
}

func (c *attrsCode) eval(ev *Evaluator, env *Env) *Value {
	inner := env
	if c.rec {
		inner = newEnv(env, len(c.static))
	}
	var inhEnv *Env
	if len(c.inh) > 0 {
		inhEnv = newEnv(inner, len(c.inh))
		for j, l := range c.inh {
			inhEnv.set(j, l.get(inner))
		}
	}
	l := make([]Attr, len(c.static), len(c.static)+len(c.dynamic))
	nThunks := 0
	for i := range c.static {
		if c.static[i].l.allocates() {
			nThunks++
		}
	}
	block := thunkBlock(nThunks)
	for i := range c.static {
		b := &c.static[i]
		var v *Value
		if b.inh {
			v = b.l.getFrom(inhEnv, &block)
		} else if c.rec && !b.outer {
			v = b.l.getFrom(inner, &block)
		} else {
			v = b.l.getFrom(env, &block)
		}
		if c.rec {
			inner.set(i, v)
		}
		l[i] = Attr{Name: b.sym, Val: v, Pos: b.pos}
	}
	if c.sorted {
		return mkAttrsList(l)
	}
	if c.rec {
		l = ev.applyOverrides(c, inner, l)
	}
	for i := range c.dynamic {
		d := &c.dynamic[i]
		nv := d.name.eval(ev, inner)
		if nv.kind == KNull {
			continue
		}
		if nv.kind != KString {
			ev.errorAt(*d.pos, "value is %s while a string was expected", nv.TypeName())
		}
		sym := ev.syms.Intern(nv.Str())
		for j := range l {
			if l[j].Name == sym {
				ev.errorAt(*d.pos, "dynamic attribute '%s' already defined at %s", nv.Str(), posString(*l[j].Pos))
			}
		}
		l = append(l, Attr{Name: sym, Val: d.l.get(inner), Pos: d.pos})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].Name < l[j].Name })
	return mkAttrsList(l)
}

// applyOverrides implements the `__overrides` attribute of rec sets: its
// attributes replace (also for the recursive scope) or extend the set.
func (ev *Evaluator) applyOverrides(c *attrsCode, inner *Env, l []Attr) []Attr {
	sOv := ev.syms.Intern("__overrides")
	idx := -1
	for i := range c.static {
		if c.static[i].sym == sOv {
			idx = i
		}
	}
	if idx < 0 {
		return l
	}
	ov := l[idx].Val
	func() {
		defer func() {
			if r := recover(); r != nil {
				addTrace(r, derefPos(l[idx].Pos), "while evaluating the `__overrides` attribute")
			}
		}()
		ev.force(ov)
		if ov.kind != KAttrs {
			ev.errorAt(derefPos(l[idx].Pos), "expected a set but found %s", ov.TypeName())
		}
	}()
	for _, a := range ov.Attrs().list {
		found := false
		for i := range c.static {
			if c.static[i].sym == a.Name {
				l[i] = a
				inner.set(i, a.Val)
				found = true
			}
		}
		if !found {
			l = append(l, a)
		}
	}
	return l
}

type listCode struct {
	elems []*lazy
	p     syntax.Pos
}

func (c *listCode) pos() syntax.Pos { return c.p }
func (c *listCode) eval(ev *Evaluator, env *Env) *Value {
	out := make([]*Value, len(c.elems))
	for i, l := range c.elems {
		out[i] = l.get(env)
	}
	return MkList(out)
}

type formal struct {
	sym  Symbol
	name string
	def  *lazy
	pos  *syntax.Pos
}

type lambdaCode struct {
	p        syntax.Pos
	name     string
	argName  string
	formals  *syntax.Formals
	fs       []formal
	ellipsis bool
	argSlot  int
	nslots   int
	body     code
	// noEscape: a call's environment is not referenced once the call has
	// returned (see lambdaNoEscape); it comes from and goes back to the
	// evaluator's free list.
	noEscape bool
}

func (c *lambdaCode) pos() syntax.Pos { return c.p }
func (c *lambdaCode) eval(ev *Evaluator, env *Env) *Value {
	return &Value{kind: KLambda, p: unsafe.Pointer(env), q: unsafe.Pointer(c)}
}

type callCode struct {
	fn   code
	args []*lazy
	p    syntax.Pos
}

func (c *callCode) pos() syntax.Pos { return c.p }
func (c *callCode) eval(ev *Evaluator, env *Env) *Value {
	f := c.fn.eval(ev, env)
	switch len(c.args) {
	case 1:
		if f.kind == KLambda {
			// call1's fast path, inlined: one frame less per call
			return ev.callLambdaIn(f.lambda(), f.env(), ev.lazyArg(c.args[0], env), c.p)
		}
		return ev.call1(f, c.args[0].get(env), c.p)
	case 2:
		return ev.call2(f, c.args[0].get(env), c.args[1].get(env), c.p)
	}
	return c.callMany(ev, env, f)
}

func (c *callCode) callMany(ev *Evaluator, env *Env, f *Value) *Value {
	var buf [4]*Value
	args := buf[:0]
	nThunks := 0
	for _, a := range c.args {
		if a.allocates() {
			nThunks++
		}
	}
	block := thunkBlock(nThunks)
	for _, a := range c.args {
		args = append(args, a.getFrom(env, &block))
	}
	return ev.callN(f, args, c.p)
}

type letBind struct {
	outer bool
	inh   bool
	l     *lazy
}

type letCode struct {
	inh   []*lazy
	binds []letBind
	body  code
	p     syntax.Pos
}

func (c *letCode) pos() syntax.Pos { return c.p }
func (c *letCode) eval(ev *Evaluator, env *Env) *Value {
	inner := newEnv(env, len(c.binds))
	var inhEnv *Env
	if len(c.inh) > 0 {
		inhEnv = newEnv(inner, len(c.inh))
		for j, l := range c.inh {
			inhEnv.set(j, l.get(inner))
		}
	}
	nThunks := 0
	for i := range c.binds {
		if c.binds[i].l.allocates() {
			nThunks++
		}
	}
	block := thunkBlock(nThunks)
	for i := range c.binds {
		if c.binds[i].inh {
			inner.set(i, c.binds[i].l.getFrom(inhEnv, &block))
		} else if c.binds[i].outer {
			inner.set(i, c.binds[i].l.getFrom(env, &block))
		} else {
			inner.set(i, c.binds[i].l.getFrom(inner, &block))
		}
	}
	return c.body.eval(ev, inner)
}

type withCode struct {
	attrs *lazy
	body  code
	p     syntax.Pos
}

func (c *withCode) pos() syntax.Pos { return c.p }
func (c *withCode) eval(ev *Evaluator, env *Env) *Value {
	inner := newEnv(env, 1)
	inner.set(0, c.attrs.get(env))
	return c.body.eval(ev, inner)
}

type ifCode struct {
	cond, then, els code
	p               syntax.Pos
}

func (c *ifCode) pos() syntax.Pos { return c.p }
func (c *ifCode) eval(ev *Evaluator, env *Env) *Value {
	v := c.cond.eval(ev, env)
	if v.kind != KBool {
		ev.notBool(c.cond.pos(), v)
	}
	if v.n != 0 {
		return c.then.eval(ev, env)
	}
	return c.els.eval(ev, env)
}

type assertCode struct {
	cond, body code
	src        syntax.Expr
	p          syntax.Pos
}

func (c *assertCode) pos() syntax.Pos { return c.p }
func (c *assertCode) eval(ev *Evaluator, env *Env) *Value {
	v := c.cond.eval(ev, env)
	if v.kind != KBool {
		ev.errorAt(c.cond.pos(), "value is %s while a Boolean was expected", v.TypeName())
	}
	if v.n == 0 {
		panic(&Error{Kind: ErrAssertion, Msg: "assertion '" + showExpr(c.src) + "' failed", Pos: c.p})
	}
	return c.body.eval(ev, env)
}

type notCode struct {
	e code
	p syntax.Pos
}

func (c *notCode) pos() syntax.Pos { return c.p }
func (c *notCode) eval(ev *Evaluator, env *Env) *Value {
	v := c.e.eval(ev, env)
	if v.kind != KBool {
		ev.errorAt(c.e.pos(), "value is %s while a Boolean was expected", v.TypeName())
	}
	return MkBool(v.n == 0)
}

type binCode struct {
	op   syntax.Op
	l, r code
	p    syntax.Pos
}

func (c *binCode) pos() syntax.Pos { return c.p }
func (c *binCode) eval(ev *Evaluator, env *Env) *Value {
	switch c.op {
	case syntax.OpEq:
		return MkBool(ev.equalTop(c.l.eval(ev, env), c.r.eval(ev, env), c.p))
	case syntax.OpNEq:
		return MkBool(!ev.equalTop(c.l.eval(ev, env), c.r.eval(ev, env), c.p))
	case syntax.OpAnd, syntax.OpOr, syntax.OpImpl:
		return c.logic(ev, env)
	case syntax.OpUpdate:
		return c.update(ev, env)
	case syntax.OpConcatLists:
		return c.concatLists(ev, env)
	}
	ev.errorAt(c.p, "internal error: bad operator")
	return nil
}

func (c *binCode) logic(ev *Evaluator, env *Env) *Value {
	l := c.l.eval(ev, env)
	if l.kind != KBool {
		ev.errorAt(c.l.pos(), "value is %s while a Boolean was expected", l.TypeName())
	}
	switch {
	case c.op == syntax.OpAnd && l.n == 0:
		return valFalse
	case c.op == syntax.OpOr && l.n != 0:
		return valTrue
	case c.op == syntax.OpImpl && l.n == 0:
		return valTrue
	}
	r := c.r.eval(ev, env)
	if r.kind != KBool {
		ev.errorAt(c.r.pos(), "value is %s while a Boolean was expected", r.TypeName())
	}
	return r
}

func (c *binCode) update(ev *Evaluator, env *Env) *Value {
	l := c.l.eval(ev, env)
	if l.kind != KAttrs {
		ev.errorAt(c.l.pos(), "value is %s while a set was expected", l.TypeName())
	}
	r := c.r.eval(ev, env)
	if r.kind != KAttrs {
		ev.errorAt(c.r.pos(), "value is %s while a set was expected", r.TypeName())
	}
	return updateAttrs(l, r)
}

func (c *binCode) concatLists(ev *Evaluator, env *Env) *Value {
	l := c.l.eval(ev, env)
	if l.kind != KList {
		ev.errorAt(c.l.pos(), "value is %s while a list was expected", l.TypeName())
	}
	r := c.r.eval(ev, env)
	if r.kind != KList {
		ev.errorAt(c.r.pos(), "value is %s while a list was expected", r.TypeName())
	}
	if l.n == 0 {
		return r
	}
	if r.n == 0 {
		return l
	}
	out := make([]*Value, 0, l.n+r.n)
	out = append(append(out, l.List()...), r.List()...)
	return MkList(out)
}

// equalTop is == on two operands: Nix evaluates them into fresh cells, so
// the cell-identity shortcut of Equal (which makes `[ f ] == [ f ]` true)
// does not apply and a function never equals itself.
func (ev *Evaluator) equalTop(a, b *Value, pos syntax.Pos) bool {
	ev.force(a)
	ev.force(b)
	return ev.equalForced(a, b, pos)
}

// updateAttrs implements a // b.
func updateAttrs(a, b *Value) *Value {
	la, lb := a.Attrs().list, b.Attrs().list
	if len(lb) == 0 {
		return a
	}
	if len(la) == 0 {
		return b
	}
	if len(lb)*8 < len(la) {
		return mkAttrsList(mergeFew(la, lb))
	}
	out := make([]Attr, 0, len(la)+len(lb))
	i, j := 0, 0
	for i < len(la) && j < len(lb) {
		switch {
		case la[i].Name < lb[j].Name:
			out = append(out, la[i])
			i++
		case la[i].Name > lb[j].Name:
			out = append(out, lb[j])
			j++
		default:
			out = append(out, lb[j])
			i++
			j++
		}
	}
	out = append(out, la[i:]...)
	out = append(out, lb[j:]...)
	return mkAttrsList(out)
}

// mergeFew is the merge of updateAttrs for a few right-hand attributes:
// each is placed by binary search and the runs of la between them are
// copied in bulk.
func mergeFew(la, lb []Attr) []Attr {
	out := make([]Attr, 0, len(la)+len(lb))
	i := 0
	for _, y := range lb {
		lo, hi := i, len(la)
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if la[m].Name < y.Name {
				lo = m + 1
			} else {
				hi = m
			}
		}
		out = append(out, la[i:lo]...)
		out = append(out, y)
		if lo < len(la) && la[lo].Name == y.Name {
			lo++
		}
		i = lo
	}
	return append(out, la[i:]...)
}

type curPosCode struct{ p syntax.Pos }

func (c *curPosCode) pos() syntax.Pos                     { return c.p }
func (c *curPosCode) eval(ev *Evaluator, env *Env) *Value { return ev.posValue(c.p) }

// posValue returns { file, line, column } for p (null if invalid).
func (ev *Evaluator) posValue(p syntax.Pos) *Value {
	if !p.IsValid() {
		return valNull
	}
	return ev.mkAttrsFromMap(map[string]*Value{
		"file":   MkString(p.File.Name),
		"line":   MkInt(int64(p.Line)),
		"column": MkInt(int64(p.Col)),
	})
}

// mkAttrsFromMap builds a set from names to values.
func (ev *Evaluator) mkAttrsFromMap(m map[string]*Value) *Value {
	l := make([]Attr, 0, len(m))
	for k, v := range m {
		l = append(l, Attr{Name: ev.syms.Intern(k), Val: v})
	}
	return MkAttrs(newAttrs(l))
}

// notBool raises the error for a condition that is not a Boolean (out of
// line: the hot callers keep small stack frames).
//
//go:noinline
func (ev *Evaluator) notBool(pos syntax.Pos, v *Value) {
	ev.errorAt(pos, "value is %s while a Boolean was expected", v.TypeName())
}
