package syntax

import (
	"os"
	"path"
	"path/filepath"
	"sort"
)

// The parser is recursive descent with precedence climbing for the binary
// operators. It follows Nix's bison grammar (src/libexpr/parser.y of
// current Nix) production by production, so that the trees, the positions
// and the syntax errors are the ones Nix produces; comments name the
// productions where the correspondence is not obvious.

// Options configure a parse.
type Options struct {
	// Home is the directory `~/` paths resolve against. When it is
	// empty, a `~/` path is a parse error.
	Home string
	// Pure makes `~/` paths an error, as in Nix's pure evaluation mode.
	Pure bool
	// PathLiterals, when set, receives every whole path literal of the
	// text (no interpolation), resolved as the evaluator will resolve
	// it: the evaluator parses the files they name ahead of time.
	PathLiterals *[]string
}

// Parse parses f.Src as one Nix expression, with no home directory (so
// `~/` paths are errors; use ParseWith to give one). The error, if any, is
// an *Error.
func Parse(f *File) (Expr, error) { return ParseWith(f, Options{}) }

// ParseWith parses f.Src as one Nix expression.
func ParseWith(f *File, opts Options) (e Expr, err error) {
	p := newParser(f, opts)
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bailout)
			if !ok {
				panic(r)
			}
			e, err = nil, b.err
		}
	}()
	e = p.parseExpr()
	if t := p.peek(); t.kind != tEOF {
		p.unexpected(t, tEOF)
	}
	return e, nil
}

// ParseFile reads and parses the file at path; `~/` paths resolve against
// the user's home directory.
func ParseFile(name string) (*File, Expr, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return nil, nil, err
	}
	src, err := os.ReadFile(abs)
	if err != nil {
		return nil, nil, err
	}
	f := &File{Name: abs, Dir: filepath.Dir(abs), Src: src}
	home, _ := os.UserHomeDir()
	e, err := ParseWith(f, Options{Home: home})
	return f, e, err
}

// bailout carries a parse error up the recursion; ParseWith recovers it,
// so it never escapes the package.
type bailout struct{ err *Error }

// maxDepth bounds the nesting of expressions, so that hostile input cannot
// exhaust the stack.
const maxDepth = 20000

type parser struct {
	file  *File
	opts  Options
	lx    lexer
	la    [4]token // lookahead tokens la[0:nla]
	nla   int
	depth int

	// syms interns names and numbers them in order of first sight, which
	// is Nix's symbol order (it decides which duplicate is reported when
	// attribute sets are merged).
	syms map[string]symbol

	// Line starts seen so far, for turning offsets into positions.
	lines   []int
	scanned int

	// index speeds up attribute lookup in large sets.
	index map[*AttrSet]map[string]*Binding
}

type symbol struct {
	name string
	id   int32
}

// staticSymbols are the symbols current Nix creates before anything is
// parsed, in its order (StaticEvalSymbols in eval.hh).
var staticSymbols = [...]string{
	"<with>", "outPath", "drvPath", "type", "meta", "name", "value", "system",
	"__overrides", "outputs", "outputName", "__ignoreNulls", "file", "line",
	"column", "__functor", "__toString", "right", "wrong", "__structuredAttrs",
	"__json", "allowedReferences", "allowedRequisites", "disallowedReferences",
	"disallowedRequisites", "maxSize", "maxClosureSize", "builder", "args",
	"__contentAddressed", "__impure", "outputHash", "outputHashAlgo",
	"outputHashMode", "recurseForDerivations", "description", "self", "",
	"startSet", "operator", "key", "path", "prefix", "outputSpecified",
	"requiredSystemFeatures", "__sub", "__lessThan", "__mul", "__div", "or",
	"__findFile", "__nixPath", "body",
}

func newParser(f *File, opts Options) *parser {
	p := &parser{
		file:  f,
		opts:  opts,
		lx:    lexer{src: f.Src, stack: make([]lexState, 1, 16)},
		syms:  make(map[string]symbol, 64+len(f.Src)/64),
		lines: make([]int, 1, 64+len(f.Src)/32),
	}
	for _, s := range staticSymbols {
		p.internString(s)
	}
	return p
}

// intern returns the canonical copy of the name b.
func (p *parser) intern(b []byte) string {
	if s, ok := p.syms[string(b)]; ok {
		return s.name
	}
	return p.internString(string(b))
}

func (p *parser) internString(s string) string {
	if sym, ok := p.syms[s]; ok {
		return sym.name
	}
	p.syms[s] = symbol{name: s, id: int32(len(p.syms))}
	return s
}

func (p *parser) symID(s string) int32 {
	if sym, ok := p.syms[s]; ok {
		return sym.id
	}
	p.internString(s)
	return p.syms[s].id
}

// pos turns a byte offset into a Pos. Lines end at LF, CR LF or a lone CR,
// as Nix counts them.
func (p *parser) pos(off int) Pos {
	src := p.file.Src
	if off > len(src) {
		off = len(src)
	}
	for ; p.scanned < off; p.scanned++ {
		switch src[p.scanned] {
		case '\n':
			p.lines = append(p.lines, p.scanned+1)
		case '\r':
			if p.scanned+1 >= len(src) || src[p.scanned+1] != '\n' {
				p.lines = append(p.lines, p.scanned+1)
			}
		}
	}
	var l int
	if last := len(p.lines) - 1; p.lines[last] <= off {
		l = last
	} else {
		l = sort.Search(len(p.lines), func(i int) bool { return p.lines[i] > off }) - 1
	}
	return Pos{File: p.file, Line: int32(l + 1), Col: int32(off - p.lines[l] + 1)}
}

// Token access.

func (p *parser) peekN(k int) token {
	for p.nla <= k {
		t := p.lx.next()
		if t.kind == tLexError {
			p.errorAt(t.off, t.text)
		}
		p.la[p.nla] = t
		p.nla++
	}
	return p.la[k]
}

func (p *parser) peek() token { return p.peekN(0) }

// peekKind is peek().kind without copying the token.
func (p *parser) peekKind() tokKind {
	if p.nla == 0 {
		p.peekN(0)
	}
	return p.la[0].kind
}

// peekKindN is peekN(k).kind without copying the token.
func (p *parser) peekKindN(k int) tokKind {
	if p.nla <= k {
		p.peekN(k)
	}
	return p.la[k].kind
}

func (p *parser) next() token {
	t := p.peekN(0)
	copy(p.la[:], p.la[1:p.nla])
	p.nla--
	return t
}

// expect consumes a token of kind k or fails with "expecting" followed by
// the given kinds (k alone when none are given).
func (p *parser) expect(k tokKind, expecting ...tokKind) token {
	t := p.peek()
	if t.kind != k {
		if len(expecting) == 0 {
			expecting = []tokKind{k}
		}
		p.unexpected(t, expecting...)
	}
	return p.next()
}

func (p *parser) errorAt(off int, msg string) {
	panic(bailout{&Error{Pos: p.pos(off), Msg: msg}})
}

func (p *parser) errorAtPos(pos Pos, msg string) {
	panic(bailout{&Error{Pos: pos, Msg: msg}})
}

// unexpected reports a syntax error at t, in bison's words: the expected
// tokens are listed only when there are at most four of them.
func (p *parser) unexpected(t token, expecting ...tokKind) {
	msg := "syntax error, unexpected " + t.kind.String()
	if len(expecting) > 0 && len(expecting) <= 4 {
		sort.Slice(expecting, func(i, j int) bool { return bisonOrder(expecting[i]) < bisonOrder(expecting[j]) })
		for i, k := range expecting {
			if i == 0 {
				msg += ", expecting "
			} else {
				msg += " or "
			}
			msg += k.String()
		}
	}
	off := t.off
	if t.kind == tEOF {
		off = len(p.file.Src)
	}
	p.errorAt(off, msg)
}

// bisonOrder is the order in which bison lists expected tokens: the
// symbol numbers of parser.y, where the %token declarations come first and
// character literals follow in order of first use.
func bisonOrder(k tokKind) int {
	switch k {
	case tEOF:
		return 0
	case tID:
		return 1
	case tStr:
		return 2
	case tIndStr:
		return 3
	case tInt:
		return 4
	case tFloat:
		return 5
	case tPath:
		return 6
	case tHPath:
		return 7
	case tSPath:
		return 8
	case tPathEnd:
		return 9
	case tURI:
		return 10
	case tIf, tThen, tElse, tAssert, tWith, tLet, tIn, tRec, tInherit:
		return 11 + int(k-tIf)
	case tEq, tNEq, tLeq, tGeq:
		return 20 + int(k-tEq)
	case tUpdate:
		return 24
	case tConcat:
		return 25
	case tAnd:
		return 26
	case tOr:
		return 27
	case tImpl:
		return 28
	case tOrKw:
		return 29
	case tDollarCurly:
		return 32
	case tIndOpen:
		return 33
	case tIndClose:
		return 34
	case tEllipsis:
		return 35
	case tLt:
		return 40
	case tGt:
		return 41
	case tPlus:
		return 42
	case tMinus:
		return 43
	case tStar:
		return 44
	case tSlash:
		return 45
	case tQuestion:
		return 46
	case tColon:
		return 50
	case tAt:
		return 51
	case tSemi:
		return 52
	case tBang:
		return 53
	case tDot:
		return 54
	case tQuote:
		return 55
	case tLParen:
		return 56
	case tRParen:
		return 57
	case tLBrace:
		return 58
	case tRBrace:
		return 59
	case tLBrack:
		return 60
	case tRBrack:
		return 61
	case tAssign:
		return 62
	case tComma:
		return 63
	}
	return 100
}

func (p *parser) enter(t token) {
	p.depth++
	if p.depth > maxDepth {
		p.errorAt(t.off, "expression is nested too deeply")
	}
}

func (p *parser) leave() { p.depth-- }

// parseGroup parses an expression between the opening token open, which is
// the next token, and a closing token of kind closer: ( ... ) or ${ ... }.
func (p *parser) parseGroup(open token, closer tokKind) Expr {
	p.next()
	p.enter(open)
	e := p.parseExpr()
	p.leave()
	p.expect(closer)
	return e
}

// parseExpr parses expr_function: lambdas, assert, with, let, and below
// them if and the operators.
func (p *parser) parseExpr() Expr {
	t := p.peek()
	p.enter(t)
	defer p.leave()
	switch t.kind {
	case tID:
		switch p.peekKindN(1) {
		case tColon: // ID ':' expr_function
			p.next()
			p.next()
			name := p.intern(p.lx.src[t.off:t.end])
			return &Lambda{P: p.pos(t.off), Arg: name, Body: p.parseExpr()}
		case tAt: // ID '@' formal_set ':' expr_function
			p.next()
			p.next()
			name := p.intern(p.lx.src[t.off:t.end])
			p.expect(tLBrace)
			fs := p.parseFormals()
			p.expect(tColon)
			lam := &Lambda{P: p.pos(t.off), Arg: name, Formals: fs}
			p.validateFormals(lam)
			lam.Body = p.parseExpr()
			return lam
		}
	case tLBrace:
		if p.isFormals() { // formal_set [ '@' ID ] ':' expr_function
			p.next()
			fs := p.parseFormals()
			lam := &Lambda{P: p.pos(t.off), Formals: fs}
			if p.peekKind() == tAt {
				p.next()
				id := p.expect(tID)
				lam.Arg = p.intern(p.lx.src[id.off:id.end])
				p.expect(tColon)
			} else {
				p.expect(tColon, tColon, tAt)
			}
			p.validateFormals(lam)
			lam.Body = p.parseExpr()
			return lam
		}
	case tAssert:
		p.next()
		cond := p.parseExpr()
		p.expect(tSemi)
		return &Assert{P: p.pos(t.off), Cond: cond, Body: p.parseExpr()}
	case tWith:
		p.next()
		env := p.parseExpr()
		p.expect(tSemi)
		return &With{P: p.pos(t.off), Env: env, Body: p.parseExpr()}
	case tLet:
		if p.peekKindN(1) != tLBrace { // LET binds IN_KW expr_function
			p.next()
			set := &AttrSet{P: p.pos(t.off), Rec: true}
			p.parseBinds(set, tIn)
			p.next()
			if len(set.Dynamic) > 0 {
				p.errorAt(t.off, "dynamic attributes not allowed in let")
			}
			return &Let{P: p.pos(t.off), Attrs: set, Body: p.parseExpr()}
		}
	case tIf:
		p.next()
		cond := p.parseExpr()
		p.expect(tThen)
		then := p.parseExpr()
		p.expect(tElse)
		return &If{P: p.pos(t.off), Cond: cond, Then: then, Else: p.parseExpr()}
	}
	return p.parseOp(0)
}

// isFormals decides, at a `{` where a lambda may start, whether it opens
// a formal_set rather than an attribute set, as bison's lookahead does.
func (p *parser) isFormals() bool {
	switch p.peekKindN(1) {
	case tEllipsis:
		return true
	case tRBrace:
		k := p.peekKindN(2)
		return k == tColon || k == tAt
	case tID:
		switch p.peekKindN(2) {
		case tComma, tQuestion, tRBrace:
			return true
		}
	}
	return false
}

// parseFormals parses the rest of a formal_set after its `{`.
func (p *parser) parseFormals() *Formals {
	fs := &Formals{}
	if p.peekKind() == tRBrace {
		p.next()
		return fs
	}
	for {
		t := p.peek()
		switch t.kind {
		case tEllipsis:
			p.next()
			fs.Ellipsis = true
			p.expect(tRBrace)
			return fs
		case tID:
			p.next()
			f := Formal{P: p.pos(t.off), Name: p.intern(p.lx.src[t.off:t.end])}
			if p.peekKind() == tQuestion {
				p.next()
				f.Default = p.parseExpr()
			}
			fs.List = append(fs.List, f)
		default:
			p.unexpected(t, tID, tEllipsis, tRBrace)
		}
		switch t := p.peek(); t.kind {
		case tRBrace:
			p.next()
			return fs
		case tComma:
			p.next()
			if p.peekKind() == tRBrace { // trailing comma
				p.next()
				return fs
			}
		default:
			p.unexpected(t, tRBrace, tComma)
		}
	}
}

// validateFormals reports duplicate formals as current Nix does: of all
// duplicates, the one whose name was seen first (symbol order), at the
// position of its second occurrence; then a clash with the @-name.
func (p *parser) validateFormals(lam *Lambda) {
	list := lam.Formals.List
	if len(list) > 1 {
		type ent struct {
			id  int32
			off int
			pos Pos
			i   int
		}
		es := make([]ent, len(list))
		for i, f := range list {
			es[i] = ent{id: p.symID(f.Name), pos: f.P, i: i}
		}
		sort.Slice(es, func(a, b int) bool {
			if es[a].id != es[b].id {
				return es[a].id < es[b].id
			}
			return es[a].i < es[b].i
		})
		for i := 0; i+1 < len(es); i++ {
			if es[i].id == es[i+1].id {
				p.errorAtPos(es[i+1].pos, "duplicate formal function argument '"+list[es[i].i].Name+"'")
			}
		}
	}
	if lam.Arg != "" {
		for _, f := range list {
			if f.Name == lam.Arg {
				p.errorAtPos(lam.P, "duplicate formal function argument '"+lam.Arg+"'")
			}
		}
	}
}

// Binary operator precedences, lowest first (parser.y's %left/%right
// lines). Prefix ! and - have their own levels between them.
const (
	precImpl = 1 + iota
	precOr
	precAnd
	precEq
	precCmp
	precUpdate
	precNot
	precAdd
	precMul
	precConcat
	precHasAttr
	precNegate
)

func binPrec(k tokKind) (prec int, right, nonassoc bool) {
	switch k {
	case tImpl:
		return precImpl, true, false
	case tOr:
		return precOr, false, false
	case tAnd:
		return precAnd, false, false
	case tEq, tNEq:
		return precEq, false, true
	case tLt, tGt, tLeq, tGeq:
		return precCmp, false, true
	case tUpdate:
		return precUpdate, true, false
	case tPlus, tMinus:
		return precAdd, false, false
	case tStar, tSlash:
		return precMul, false, false
	case tConcat:
		return precConcat, true, false
	case tQuestion:
		return precHasAttr, false, false
	}
	return 0, false, false
}

// parseOp parses expr_op with operators of precedence >= minPrec.
func (p *parser) parseOp(minPrec int) Expr {
	lhs := p.parseUnary()
	for {
		t := p.peek()
		prec, right, nonassoc := binPrec(t.kind)
		if prec == 0 || prec < minPrec {
			return lhs
		}
		p.next()
		if t.kind == tQuestion {
			lhs = &HasAttr{P: p.pos(t.off), E: lhs, Path: p.parseAttrPath()}
			continue
		}
		next := prec + 1
		if right {
			next = prec
		}
		p.enter(t)
		rhs := p.parseOp(next)
		p.leave()
		lhs = p.binary(t, lhs, rhs)
		if nonassoc {
			if t2 := p.peek(); t2.kind != tEOF {
				if prec2, _, _ := binPrec(t2.kind); prec2 == prec {
					p.unexpected(t2)
				}
			}
		}
	}
}

func (p *parser) callVar(pos Pos, name string, args ...Expr) *Call {
	return &Call{P: pos, Fn: &Var{P: pos, Name: name}, Args: args}
}

// binary builds the node of a binary operator, desugared as Nix does.
func (p *parser) binary(op token, l, r Expr) Expr {
	pos := p.pos(op.off)
	switch op.kind {
	case tEq:
		return &BinOp{P: pos, Op: OpEq, L: l, R: r}
	case tNEq:
		return &BinOp{P: pos, Op: OpNEq, L: l, R: r}
	case tAnd:
		return &BinOp{P: pos, Op: OpAnd, L: l, R: r}
	case tOr:
		return &BinOp{P: pos, Op: OpOr, L: l, R: r}
	case tImpl:
		return &BinOp{P: pos, Op: OpImpl, L: l, R: r}
	case tUpdate:
		return &BinOp{P: pos, Op: OpUpdate, L: l, R: r}
	case tConcat:
		return &BinOp{P: pos, Op: OpConcatLists, L: l, R: r}
	case tLt:
		return p.callVar(pos, "__lessThan", l, r)
	case tGt:
		return p.callVar(pos, "__lessThan", r, l)
	case tLeq:
		return &Not{P: pos, E: p.callVar(pos, "__lessThan", r, l)}
	case tGeq:
		return &Not{P: pos, E: p.callVar(pos, "__lessThan", l, r)}
	case tPlus:
		return &ConcatStrings{P: pos, Parts: []Expr{l, r}}
	case tMinus:
		return p.callVar(pos, "__sub", l, r)
	case tStar:
		return p.callVar(pos, "__mul", l, r)
	case tSlash:
		return p.callVar(pos, "__div", l, r)
	}
	return nil
}

// parseUnary parses the prefix operators. Their operand extends over the
// binary operators that bind tighter than they do, as %prec makes bison
// do: `!a + b` is `!(a + b)`, `-a + b` is `(-a) + b`.
func (p *parser) parseUnary() Expr {
	t := p.peek()
	switch t.kind {
	case tBang:
		p.next()
		p.enter(t)
		e := p.parseOp(precNot + 1)
		p.leave()
		return &Not{P: p.pos(t.off), E: e}
	case tMinus:
		p.next()
		p.enter(t)
		e := p.parseOp(precNegate + 1)
		p.leave()
		pos := p.pos(t.off)
		return p.callVar(pos, "__sub", &Int{P: pos, Val: 0}, e)
	}
	return p.parseApp()
}

// startsSimple reports whether a token can begin an expr_simple.
func startsSimple(k tokKind) bool {
	switch k {
	case tID, tInt, tFloat, tQuote, tIndOpen, tPath, tHPath, tSPath, tURI,
		tLParen, tLet, tRec, tLBrace, tLBrack:
		return true
	}
	return false
}

// parseApp parses expr_app: an expr_select applied to any number of
// expr_selects. Like Nix's makeCall, applying a Call (even a parenthesised
// one, or a desugared operator) adds to its arguments.
func (p *parser) parseApp() Expr {
	start := p.peek()
	fn := p.parseSelect()
	for startsSimple(p.peekKind()) {
		arg := p.parseSelect()
		if c, ok := fn.(*Call); ok {
			c.Args = append(c.Args, arg)
		} else {
			fn = &Call{P: p.pos(start.off), Fn: fn, Args: []Expr{arg}}
		}
	}
	return fn
}

// parseSelect parses expr_select.
func (p *parser) parseSelect() Expr {
	start := p.peek()
	e := p.parseSimple()
	switch p.peekKind() {
	case tDot:
		p.next()
		sel := &Select{P: p.pos(start.off), E: e, Path: p.parseAttrPath()}
		if p.peekKind() == tOrKw {
			p.next()
			p.enter(start)
			sel.Default = p.parseSelect()
			p.leave()
		}
		return sel
	case tOrKw:
		// expr_simple OR_KW: `f or` applies f to a variable named
		// `or`, for compatibility with old Nixpkgs.
		p.next()
		pos := p.pos(start.off)
		return &Call{P: pos, Fn: e, Args: []Expr{&Var{P: pos, Name: "or"}}}
	}
	return e
}

// parseAttrPath parses attrpath: attr ('.' attr)*.
func (p *parser) parseAttrPath() []AttrName {
	// most paths have one or two names: collect them on the stack and
	// allocate the exact size once
	var buf [4]AttrName
	path := buf[:0]
	for {
		path = append(path, p.parseAttr())
		if p.peekKind() != tDot {
			return append([]AttrName(nil), path...)
		}
		p.next()
	}
}

// parseAttr parses one attr or string_attr. A string without interpolation
// and `${"..."}` of a plain string are static names.
func (p *parser) parseAttr() AttrName {
	t := p.peek()
	switch t.kind {
	case tID:
		p.next()
		return AttrName{P: p.pos(t.off), Name: p.intern(p.lx.src[t.off:t.end])}
	case tOrKw:
		p.next()
		return AttrName{P: p.pos(t.off), Name: "or"}
	case tQuote:
		p.next()
		e := p.parseStringRest(t)
		if s, ok := e.(*String); ok {
			return AttrName{P: p.pos(t.off), Name: p.internString(s.Val)}
		}
		return AttrName{P: p.pos(t.off), Expr: e}
	case tDollarCurly:
		e := p.parseGroup(t, tRBrace)
		if s, ok := e.(*String); ok {
			return AttrName{P: p.pos(t.off), Name: p.internString(s.Val)}
		}
		return AttrName{P: p.pos(t.off), Expr: e}
	}
	p.unexpected(t, tID, tOrKw, tDollarCurly, tQuote)
	return AttrName{}
}

// parseSimple parses expr_simple.
func (p *parser) parseSimple() Expr {
	t := p.peek()
	switch t.kind {
	case tID:
		p.next()
		name := p.intern(p.lx.src[t.off:t.end])
		if name == "__curPos" {
			return &CurPos{P: p.pos(t.off)}
		}
		return &Var{P: p.pos(t.off), Name: name}
	case tInt:
		p.next()
		return &Int{P: p.pos(t.off), Val: t.ival}
	case tFloat:
		p.next()
		return &Float{P: p.pos(t.off), Val: t.fval}
	case tQuote:
		p.next()
		return p.parseStringRest(t)
	case tIndOpen:
		p.next()
		return p.parseIndStringRest(t)
	case tPath, tHPath:
		p.next()
		return p.parsePathRest(t)
	case tSPath:
		p.next()
		pos := p.pos(t.off)
		s := t.text[1 : len(t.text)-1]
		return &Call{P: pos, Fn: &Var{P: pos, Name: "__findFile"},
			Args: []Expr{&Var{P: pos, Name: "__nixPath"}, &String{P: pos, Val: s}}}
	case tURI:
		p.next()
		return &String{P: p.pos(t.off), Val: t.text}
	case tLParen:
		return p.parseGroup(t, tRParen)
	case tLet: // LET '{' binds '}': (rec { ... }).body
		p.next()
		p.expect(tLBrace)
		pos := p.pos(t.off)
		set := &AttrSet{P: pos, Rec: true}
		p.enter(t)
		p.parseBinds(set, tRBrace)
		p.leave()
		p.next()
		return &Select{P: pos, E: set, Path: []AttrName{{P: pos, Name: "body"}}}
	case tRec:
		p.next()
		p.expect(tLBrace)
		set := &AttrSet{P: p.pos(t.off), Rec: true}
		p.enter(t)
		p.parseBinds(set, tRBrace)
		p.leave()
		p.next()
		return set
	case tLBrace:
		p.next()
		set := &AttrSet{P: p.pos(t.off)}
		p.enter(t)
		p.parseBinds(set, tRBrace)
		p.leave()
		p.next()
		return set
	case tLBrack:
		p.next()
		l := &List{P: p.pos(t.off)}
		p.enter(t)
		for startsSimple(p.peekKind()) {
			l.Elems = append(l.Elems, p.parseSelect())
		}
		p.leave()
		p.expect(tRBrack, tRBrack) // more than four tokens fit; bison lists none
		return l
	}
	p.unexpected(t)
	return nil
}

// parseStringRest parses a "..." string after its opening quote.
func (p *parser) parseStringRest(open token) Expr {
	var parts []Expr
	interpolated := false
	for {
		t := p.peek()
		switch t.kind {
		case tStr:
			p.next()
			parts = append(parts, &String{P: p.pos(t.off), Val: t.text})
		case tDollarCurly:
			parts = append(parts, p.parseGroup(t, tRBrace))
			interpolated = true
		case tQuote:
			p.next()
			if !interpolated {
				if len(parts) == 0 {
					return &String{P: p.pos(open.off), Val: ""}
				}
				s := parts[0].(*String) // the lexer never splits a literal
				s.P = p.pos(open.off)
				return s
			}
			return &ConcatStrings{P: parts[0].Position(), ForceString: true, Parts: parts}
		default:
			p.unexpected(t, tQuote)
		}
	}
}

// parsePathRest parses a path literal after its first token: either the
// whole path, or its first piece followed by interpolations and pieces
// until PATH_END.
func (p *parser) parsePathRest(t token) Expr {
	pos := p.pos(t.off)
	var first *Path
	lit := t.text
	if t.kind == tHPath {
		if p.opts.Pure {
			p.errorAtPos(pos, "the path '"+lit+"' can not be resolved in pure mode")
		}
		if p.opts.Home == "" {
			p.errorAtPos(pos, "cannot resolve the path '"+lit+"': no home directory is known")
		}
		first = &Path{P: pos, Val: p.opts.Home + lit[1:]}
	} else {
		var v string
		if lit[0] == '/' {
			v = path.Clean(lit)
		} else {
			dir := p.file.Dir
			if dir == "" || dir[0] != '/' {
				dir = "/" + dir
			}
			v = path.Clean(dir + "/" + lit)
		}
		if len(lit) > 1 && lit[len(lit)-1] == '/' {
			v += "/"
		}
		first = &Path{P: pos, Val: v}
	}
	parts := []Expr{first}
	interp := false
	for {
		t := p.peek()
		// string_parts_interpolated starts with `${` or with one STR
		// and then `${`.
		if len(parts) == 2 && !interp && t.kind != tDollarCurly {
			p.unexpected(t, tDollarCurly)
		}
		switch t.kind {
		case tPathEnd:
			p.next()
			if len(parts) == 1 {
				if p.opts.PathLiterals != nil {
					*p.opts.PathLiterals = append(*p.opts.PathLiterals, first.Val)
				}
				return first
			}
			// A path with interpolation is a ConcatStrings whose
			// first part is a Path and ForceString is false, so
			// that it evaluates to a path (Nix's forceString
			// would make it a string).
			return &ConcatStrings{P: pos, Parts: parts}
		case tStr:
			p.next()
			parts = append(parts, &String{P: p.pos(t.off), Val: t.text})
		case tDollarCurly:
			parts = append(parts, p.parseGroup(t, tRBrace))
			interp = true
		default:
			p.unexpected(t)
		}
	}
}
