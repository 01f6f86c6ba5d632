package eval

import (
	"github.com/onix-dev/onix/internal/eval/syntax"
)

// code is a compiled expression: eval returns a value in weak head normal
// form (never a thunk).
type code interface {
	eval(ev *Evaluator, env *Env) *Value
	pos() syntax.Pos
}

// lazy produces a possibly unevaluated value for an expression without
// forcing it: constants are returned as is, variables share their cell,
// everything else becomes a thunk over the current env.
type lazy struct {
	c    code
	mode uint8 // lazyThunk, lazyConst, lazyVar, lazyLambda, lazySpec
	v    *Value
	vc   *varCode
	pb   *primBinCode // lazySpec
	sc   *selectCode  // lazySel
}

const (
	lazyThunk uint8 = iota
	lazyConst
	lazyVar
	lazyLambda // a closure is made at once: no thunk to force later
	// lazySpec: integer arithmetic or comparison on variables and
	// constants, computed at once when the operands are already ints and
	// the operation cannot fail (a thunk otherwise): nothing observable
	// can tell the difference, and no thunk keeps the env alive.
	lazySpec
	// lazySel: `x.a.b` with static names on a variable; when x and the
	// sets on the way are already evaluated and have the attributes, the
	// selected cell is shared (as for a variable) instead of a thunk.
	lazySel
)

func mkLazy(c code) *lazy {
	l := &lazy{c: c}
	switch c := c.(type) {
	case *constCode:
		l.mode, l.v = lazyConst, c.v
	case *varCode:
		l.mode, l.vc = lazyVar, c
	case *lambdaCode:
		l.mode = lazyLambda
	case *selectCode:
		if vc, ok := c.e.(*varCode); ok && c.def == nil && staticPath(c.path) {
			l.mode, l.vc, l.sc = lazySel, vc, c
		}
	case *primBinCode:
		if simpleOperand(c.l) && simpleOperand(c.r) {
			l.mode, l.pb = lazySpec, c
		}
	}
	return l
}

func staticPath(path []attrName) bool {
	for i := range path {
		if path[i].dyn != nil {
			return false
		}
	}
	return true
}

// sel is a lazySel's cell when it can be had without forcing anything (nil
// otherwise).
func (l *lazy) sel(env *Env) *Value {
	v := l.vc.cell(env)
	for i := range l.sc.path {
		if v == nil || v.kind != KAttrs {
			return nil
		}
		a, ok := v.Attrs().Get(l.sc.path[i].sym)
		if !ok {
			return nil
		}
		v = a.Val
	}
	return v
}

func simpleOperand(c code) bool {
	switch c.(type) {
	case *constCode, *varCode:
		return true
	}
	return false
}

// specOperand is a simple operand's value, nil when it is not an int yet.
func specOperand(c code, env *Env) *Value {
	var v *Value
	switch c := c.(type) {
	case *constCode:
		v = c.v
	case *varCode:
		v = c.cell(env)
	}
	if v == nil || v.kind != KInt {
		return nil
	}
	return v
}

// spec computes a lazySpec's value if it can without forcing anything or
// failing.
func (l *lazy) spec(env *Env) (Value, bool) {
	a := specOperand(l.pb.l, env)
	if a == nil {
		return Value{}, false
	}
	b := specOperand(l.pb.r, env)
	if b == nil {
		return Value{}, false
	}
	if l.pb.op == '<' {
		if a.n < b.n {
			return Value{kind: KBool, n: 1}, true
		}
		return Value{kind: KBool}, true
	}
	r, ok := intOp(l.pb.op, a.n, b.n)
	return Value{kind: KInt, n: r}, ok
}

// specCell is spec's value as a cell: a shared one for small ints and
// Booleans, else nil (the caller stores r into a new cell).
func specCell(r Value) *Value {
	if r.kind == KBool {
		return MkBool(r.n != 0)
	}
	if r.n >= -1 && r.n < 1024 {
		return &smallInts[r.n+1]
	}
	return nil
}

func (l *lazy) get(env *Env) *Value {
	switch l.mode {
	case lazyConst:
		return l.v
	case lazyVar:
		// a rec/let slot not filled yet (`rec { a = b; b = 1; }`) needs
		// a real thunk.
		if v := l.vc.cell(env); v != nil {
			return v
		}
	case lazyLambda:
		return &Value{kind: KLambda, p: unsafePtr(env), q: unsafePtr(l.c.(*lambdaCode))}
	case lazySpec:
		if r, ok := l.spec(env); ok {
			if v := specCell(r); v != nil {
				return v
			}
			return newIntCell(r.n)
		}
	case lazySel:
		if v := l.sel(env); v != nil {
			return v
		}
	}
	return &Value{kind: KThunk, p: unsafePtr(env), q: unsafePtr(l)}
}

// lazyArg is l.get(env) with a new int cell, when one is needed, taken
// from ev's slab.
func (ev *Evaluator) lazyArg(l *lazy, env *Env) *Value {
	if l.mode == lazySpec {
		if r, ok := l.spec(env); ok {
			if r.kind == KInt {
				return ev.newInt(r.n)
			}
			return MkBool(r.n != 0)
		}
	}
	return l.get(env)
}

// getFrom is get with a thunk, when one is needed, taken from the front of
// *block (preallocated by the caller, one allocation for several thunks).
func (l *lazy) getFrom(env *Env, block *[]Value) *Value {
	if !l.allocates() || len(*block) == 0 {
		return l.get(env)
	}
	if l.mode == lazySel {
		if v := l.sel(env); v != nil {
			return v
		}
	}
	if l.mode == lazySpec {
		if r, ok := l.spec(env); ok {
			if v := specCell(r); v != nil {
				return v
			}
			v := &(*block)[0]
			*block = (*block)[1:]
			*v = r
			return v
		}
	}
	v := &(*block)[0]
	*block = (*block)[1:]
	if l.mode == lazyLambda {
		v.kind, v.p, v.q = KLambda, unsafePtr(env), unsafePtr(l.c.(*lambdaCode))
	} else {
		v.kind, v.p, v.q = KThunk, unsafePtr(env), unsafePtr(l)
	}
	return v
}

// allocates reports whether get makes a new cell (a thunk or a closure).
func (l *lazy) allocates() bool {
	return l.mode == lazyThunk || l.mode == lazyLambda || l.mode == lazySpec || l.mode == lazySel
}

// thunkBlock returns room for the cells that n lazies of which `count`
// report allocates() will allocate (nil when there are fewer than two).
func thunkBlock(count int) []Value {
	if count < 2 {
		return nil
	}
	return make([]Value, count)
}

// scope is the compile-time mirror of an Env.
type scope struct {
	up   *scope
	vars map[string]int
	with bool
}

type compiler struct {
	ev *Evaluator
}

func (c *compiler) fail(pos syntax.Pos, format string, args ...any) {
	c.ev.errorAt(pos, format, args...)
}

func (c *compiler) compile(e syntax.Expr, s *scope) code {
	switch e := e.(type) {
	case *syntax.Int:
		return &constCode{v: MkInt(e.Val), p: e.P}
	case *syntax.Float:
		return &constCode{v: MkFloat(e.Val), p: e.P}
	case *syntax.String:
		c.lintString(e)
		return &constCode{v: MkString(e.Val), p: e.P}
	case *syntax.Path:
		c.lintPath(e)
		return &constCode{v: MkPath(e.Val), p: e.P}
	case *syntax.Var:
		return c.resolve(e.Name, s, e.P)
	case *syntax.Select:
		sc := &selectCode{e: c.compile(e.E, s), path: c.attrPath(e.Path, s), p: e.P}
		if e.Default != nil {
			sc.def = c.compile(e.Default, s)
		}
		return sc
	case *syntax.HasAttr:
		return &hasAttrCode{e: c.compile(e.E, s), path: c.attrPath(e.Path, s), p: e.P}
	case *syntax.AttrSet:
		return c.attrSet(e, s)
	case *syntax.List:
		lc := &listCode{p: e.P}
		for _, x := range e.Elems {
			lc.elems = append(lc.elems, mkLazy(c.compile(x, s)))
		}
		if len(lc.elems) == 0 {
			return &constCode{v: emptyLst, p: e.P}
		}
		return lc
	case *syntax.Lambda:
		return c.lambda(e, s)
	case *syntax.Call:
		if pc := c.primBin(e, s); pc != nil {
			return pc
		}
		cc := &callCode{fn: c.compile(e.Fn, s), p: e.P}
		for _, a := range e.Args {
			cc.args = append(cc.args, mkLazy(c.compile(a, s)))
		}
		return cc
	case *syntax.Let:
		if len(e.Attrs.Dynamic) > 0 {
			c.fail(e.Attrs.Dynamic[0].P, "dynamic attributes not allowed in let")
		}
		inner := &scope{up: s, vars: make(map[string]int, len(e.Attrs.Attrs))}
		for i, b := range e.Attrs.Attrs {
			inner.vars[b.Name] = i
		}
		lc := &letCode{p: e.P}
		inh := map[syntax.Expr]int{}
		for _, b := range e.Attrs.Attrs {
			if l := c.inheritFrom(b, inner, inh, &lc.inh); l != nil {
				lc.binds = append(lc.binds, letBind{inh: true, l: l})
			} else if b.Inherited {
				// evaluated in the enclosing scope: compile against s, but
				// at runtime the env is one level deeper.
				lc.binds = append(lc.binds, letBind{outer: true, l: mkLazy(c.compile(b.Value, s))})
			} else {
				lc.binds = append(lc.binds, letBind{l: mkLazy(c.compile(b.Value, inner))})
			}
		}
		lc.body = c.compile(e.Body, inner)
		return lc
	case *syntax.With:
		inner := &scope{up: s, with: true}
		return &withCode{attrs: mkLazy(c.compile(e.Env, s)), body: c.compile(e.Body, inner), p: e.P}
	case *syntax.If:
		return &ifCode{cond: c.compile(e.Cond, s), then: c.compile(e.Then, s), els: c.compile(e.Else, s), p: e.P}
	case *syntax.Assert:
		return &assertCode{cond: c.compile(e.Cond, s), body: c.compile(e.Body, s), p: e.P, src: e.Cond}
	case *syntax.Not:
		return &notCode{e: c.compile(e.E, s), p: e.P}
	case *syntax.BinOp:
		return &binCode{op: e.Op, l: c.compile(e.L, s), r: c.compile(e.R, s), p: e.P}
	case *syntax.ConcatStrings:
		cs := &concatCode{force: e.ForceString, p: e.P}
		for _, x := range e.Parts {
			if str, ok := x.(*syntax.String); ok {
				// a part of a quoted string, never a URL literal
				cs.parts = append(cs.parts, &constCode{v: MkString(str.Val), p: str.P})
				continue
			}
			cs.parts = append(cs.parts, c.compile(x, s))
		}
		return cs
	case *syntax.CurPos:
		return &curPosCode{p: e.P}
	}
	c.fail(e.Position(), "internal error: unknown expression %T", e)
	return nil
}

func (c *compiler) attrPath(p []syntax.AttrName, s *scope) []attrName {
	out := make([]attrName, len(p))
	for i, a := range p {
		out[i].p = a.P
		if a.Expr != nil {
			out[i].dyn = c.compile(a.Expr, s)
		} else {
			out[i].sym = c.ev.syms.Intern(a.Name)
			out[i].name = a.Name
		}
	}
	return out
}

func (c *compiler) resolve(name string, s *scope, pos syntax.Pos) code {
	depth := 0
	var withs []int
	for sc := s; sc != nil; sc = sc.up {
		if sc.with {
			withs = append(withs, depth)
		} else if slot, ok := sc.vars[name]; ok {
			return &varCode{depth: depth, slot: slot, p: pos, name: name}
		}
		depth++
	}
	if len(withs) == 0 {
		c.fail(pos, "undefined variable '%s'", name)
	}
	return &withVarCode{sym: c.ev.syms.Intern(name), name: name, withs: withs, p: pos}
}

func (c *compiler) attrSet(e *syntax.AttrSet, s *scope) code {
	ac := &attrsCode{rec: e.Rec, p: e.P}
	inner := s
	if e.Rec {
		inner = &scope{up: s, vars: make(map[string]int, len(e.Attrs))}
		for i, b := range e.Attrs {
			inner.vars[b.Name] = i
		}
	}
	inh := map[syntax.Expr]int{}
	for _, b := range e.Attrs {
		sb := staticBind{sym: c.ev.syms.Intern(b.Name), pos: &b.P}
		if l := c.inheritFrom(b, inner, inh, &ac.inh); l != nil {
			sb.inh = true
			sb.l = l
		} else if b.Inherited || !e.Rec {
			sb.outer = e.Rec
			sb.l = mkLazy(c.compile(b.Value, s))
		} else {
			sb.l = mkLazy(c.compile(b.Value, inner))
		}
		ac.static = append(ac.static, sb)
	}
	for _, d := range e.Dynamic {
		ac.dynamic = append(ac.dynamic, dynBind{name: c.compile(d.Name, inner), l: mkLazy(c.compile(d.Value, inner)), pos: &d.P})
	}
	if !e.Rec && len(e.Dynamic) == 0 {
		// the sorted order of the static part is fixed: precompute it.
		ac.sortStatic()
	}
	return ac
}

// inheritFrom compiles `inherit (e) name;`: every clause's e is compiled
// once (in scope s: the rec/let scope, or the enclosing one) into *from,
// and the attribute becomes a selection from that shared value, which at
// run time lives in an extra env frame (slot = index in *from).
func (c *compiler) inheritFrom(b *syntax.Binding, s *scope, idx map[syntax.Expr]int, from *[]*lazy) *lazy {
	if b.InheritFrom == nil {
		return nil
	}
	sel, ok := b.Value.(*syntax.Select)
	if !ok {
		return nil
	}
	j, ok := idx[b.InheritFrom]
	if !ok {
		j = len(*from)
		idx[b.InheritFrom] = j
		*from = append(*from, mkLazy(c.compile(b.InheritFrom, s)))
	}
	sc := &selectCode{e: &varCode{depth: 0, slot: j, p: b.InheritFrom.Position()}, path: c.attrPath(sel.Path, s), p: sel.P}
	return mkLazy(sc)
}

func (c *compiler) lambda(e *syntax.Lambda, s *scope) code {
	lc := &lambdaCode{p: e.P, name: e.Name, argName: e.Arg}
	inner := &scope{up: s, vars: map[string]int{}}
	if e.Formals == nil {
		inner.vars[e.Arg] = 0
		lc.nslots = 1
	} else {
		lc.formals = e.Formals
		lc.ellipsis = e.Formals.Ellipsis
		for i, f := range e.Formals.List {
			inner.vars[f.Name] = i
		}
		lc.nslots = len(e.Formals.List)
		if e.Arg != "" {
			inner.vars[e.Arg] = lc.nslots
			lc.argSlot = lc.nslots
			lc.nslots++
		}
		for i, f := range e.Formals.List {
			fc := formal{sym: c.ev.syms.Intern(f.Name), name: f.Name, pos: &e.Formals.List[i].P}
			if f.Default != nil {
				fc.def = mkLazy(c.compile(f.Default, inner))
			}
			lc.fs = append(lc.fs, fc)
		}
	}
	lc.body = c.compile(e.Body, inner)
	lc.noEscape = lc.nslots <= 3 && lambdaNoEscape(lc)
	return lc
}

// primBin compiles `__sub a b`, `__mul a b`, `__div a b`, `__add a b` and
// `__lessThan a b` (what the parser makes of -, *, /, <, <=, >, >=) into a
// direct operation when the name is the builtin (not shadowed by a let,
// argument or scopedImport scope): no thunks for the operands, no argument
// slice, no primop dispatch. Operands are forced in the primop's order.
func (c *compiler) primBin(e *syntax.Call, s *scope) code {
	v, ok := e.Fn.(*syntax.Var)
	if !ok || len(e.Args) != 2 {
		return nil
	}
	var op byte
	switch v.Name {
	case "__add":
		op = '+'
	case "__sub":
		op = '-'
	case "__mul":
		op = '*'
	case "__div":
		op = '/'
	case "__lessThan":
		op = '<'
	default:
		return nil
	}
	for sc := s; sc != nil; sc = sc.up {
		if sc.with {
			continue
		}
		if _, ok := sc.vars[v.Name]; ok {
			if sc != c.ev.base {
				return nil
			}
			break
		}
	}
	return &primBinCode{op: op, l: c.compile(e.Args[0], s), r: c.compile(e.Args[1], s), p: e.P}
}
