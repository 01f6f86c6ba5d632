// Package syntax holds the Nix language's abstract syntax tree, its lexer and
// its parser.
//
// The tree is shaped after what real Nix builds, not after the surface
// grammar, because several observable behaviours depend on that shape:
//
//   - Arithmetic and comparison operators other than + are desugared to calls
//     of builtins looked up by name in scope (`a - b` is `__sub a b`, `-a` is
//     `__sub 0 a`, `a < b` is `__lessThan a b`, `a >= b` is
//     `!(__lessThan a b)`), so a `let __sub = ...;` shadows them, as in Nix.
//   - `+`, string interpolation and path interpolation are all
//     ConcatStrings. Only string interpolation sets ForceString, which makes
//     the result a string even when the first part is a path; `./a/${x}` is
//     ConcatStrings{ForceString: false, Parts: [Path ./a/, x]}, exactly like
//     `./a/ + x`, so its result is a path.
//   - `<p>` is `__findFile __nixPath "p"`.
//   - Nested attribute paths in one set (`a.b = 1; a.c = 2;`) are merged by
//     the parser into nested AttrSets, and duplicates are parse errors.
//
// The parser does not resolve variables; the evaluator's compiler does that,
// so that the tree stays a plain description of the source.
package syntax

// File is one source text: a file on disk, a -E string or stdin.
type File struct {
	// Name is what error messages print: an absolute path, or «string» /
	// «stdin» for text that has no file.
	Name string
	// Dir is the directory relative paths in the text resolve against.
	Dir string
	// Src is the full text, kept for error messages that quote a line.
	Src []byte
}

// Pos is a position in a File. Line and Col are 1-based; Col counts bytes.
// The zero Pos means "no position".
type Pos struct {
	File *File
	Line int32
	Col  int32
}

// IsValid reports whether p names a real position.
func (p Pos) IsValid() bool { return p.File != nil && p.Line > 0 }

// Expr is any expression node.
type Expr interface {
	Position() Pos
}

// Int is an integer literal.
type Int struct {
	P   Pos
	Val int64
}

// Float is a floating-point literal.
type Float struct {
	P   Pos
	Val float64
}

// String is a string literal without interpolation (also a URI literal, or
// an indented string whose parts are all literal).
type String struct {
	P   Pos
	Val string
}

// Path is a path literal without interpolation. Val is already absolute and
// cleaned: relative paths are resolved against File.Dir and `~/` against
// $HOME at parse time, as Nix does.
type Path struct {
	P   Pos
	Val string
}

// Var is a variable reference.
type Var struct {
	P    Pos
	Name string
}

// AttrName is one element of an attribute path: a static Name, or a
// dynamic Expr (`${e}` or an interpolated string) when Expr is non-nil.
type AttrName struct {
	P    Pos
	Name string
	Expr Expr
}

// Select is `E.a.b.c` or `E.a.b.c or Default`.
type Select struct {
	P       Pos
	E       Expr
	Path    []AttrName
	Default Expr // nil when there is no `or`
}

// HasAttr is `E ? a.b.c`.
type HasAttr struct {
	P    Pos
	E    Expr
	Path []AttrName
}

// Binding is one static attribute of an AttrSet.
type Binding struct {
	P    Pos // position of the attribute name
	Name string
	// Value is the attribute's expression. For `inherit x;` it is a Var;
	// for `inherit (e) x;` it is a Select of x on e, where every Select of
	// one inherit clause shares the same e node (InheritFrom).
	Value Expr
	// Inherited is true for attributes brought in by `inherit`; such
	// attributes are evaluated in the enclosing scope even in a rec set.
	Inherited bool
	// InheritFrom is the `e` of `inherit (e) ...`, nil otherwise.
	InheritFrom Expr
}

// DynamicBinding is `${name} = value;` (or `"${...}" = value;`).
type DynamicBinding struct {
	P     Pos
	Name  Expr
	Value Expr
}

// AttrSet is `{ ... }` or `rec { ... }`. Attrs is in source order of first
// definition, with nested paths already merged into nested AttrSets.
type AttrSet struct {
	P       Pos
	Rec     bool
	Attrs   []*Binding
	Dynamic []*DynamicBinding
}

// List is `[ a b c ]`.
type List struct {
	P     Pos
	Elems []Expr
}

// Formal is one `name` or `name ? default` of a pattern-matching lambda.
type Formal struct {
	P       Pos
	Name    string
	Default Expr // nil when there is no default
}

// Formals is the `{ a, b ? 1, ... }` part of a lambda, in source order.
type Formals struct {
	List     []Formal
	Ellipsis bool
}

// Lambda is `x: body`, `{ formals }: body` or `{ formals } @ x: body`.
type Lambda struct {
	P       Pos
	Arg     string   // the bound name, "" when there is none
	Formals *Formals // nil for a plain `x: body`
	Body    Expr
	// Name is the attribute or let binding the lambda is directly bound
	// to, for error messages and traces ("while calling 'foo'"); may be "".
	Name string
}

// Call applies Fn to one or more arguments: `f a b` is one Call with two
// Args. Desugared operators are Calls of a Var too.
type Call struct {
	P    Pos
	Fn   Expr
	Args []Expr
}

// Let is `let bindings in body`. Its bindings are recursive; inherit and
// nested paths behave as in a rec set.
type Let struct {
	P     Pos
	Attrs *AttrSet
	Body  Expr
}

// With is `with E; Body`.
type With struct {
	P    Pos
	Env  Expr
	Body Expr
}

// If is `if Cond then Then else Else`.
type If struct {
	P    Pos
	Cond Expr
	Then Expr
	Else Expr
}

// Assert is `assert Cond; Body`.
type Assert struct {
	P    Pos
	Cond Expr
	Body Expr
}

// Not is `!E`.
type Not struct {
	P Pos
	E Expr
}

// BinOp is one of the operators that Nix keeps as its own node.
type BinOp struct {
	P    Pos
	Op   Op
	L, R Expr
}

// Op names a BinOp operator.
type Op uint8

// The operators that are not desugared into calls or ConcatStrings.
const (
	OpEq          Op = iota + 1 // ==
	OpNEq                       // !=
	OpAnd                       // &&
	OpOr                        // ||
	OpImpl                      // ->
	OpUpdate                    // //
	OpConcatLists               // ++
)

// String returns the operator's source spelling.
func (o Op) String() string {
	switch o {
	case OpEq:
		return "=="
	case OpNEq:
		return "!="
	case OpAnd:
		return "&&"
	case OpOr:
		return "||"
	case OpImpl:
		return "->"
	case OpUpdate:
		return "//"
	case OpConcatLists:
		return "++"
	}
	return "?"
}

// ConcatStrings is `a + b` (ForceString false, exactly two Parts, left
// associative chains nest), an interpolated string (ForceString true, any
// number of Parts) or an interpolated path (ForceString false, any number of
// Parts, the first a Path), as in Nix's parser.
type ConcatStrings struct {
	P           Pos
	ForceString bool
	Parts       []Expr
}

// CurPos is `__curPos`.
type CurPos struct {
	P Pos
}

// Position implementations.

func (e *Int) Position() Pos           { return e.P }
func (e *Float) Position() Pos         { return e.P }
func (e *String) Position() Pos        { return e.P }
func (e *Path) Position() Pos          { return e.P }
func (e *Var) Position() Pos           { return e.P }
func (e *Select) Position() Pos        { return e.P }
func (e *HasAttr) Position() Pos       { return e.P }
func (e *AttrSet) Position() Pos       { return e.P }
func (e *List) Position() Pos          { return e.P }
func (e *Lambda) Position() Pos        { return e.P }
func (e *Call) Position() Pos          { return e.P }
func (e *Let) Position() Pos           { return e.P }
func (e *With) Position() Pos          { return e.P }
func (e *If) Position() Pos            { return e.P }
func (e *Assert) Position() Pos        { return e.P }
func (e *Not) Position() Pos           { return e.P }
func (e *BinOp) Position() Pos         { return e.P }
func (e *ConcatStrings) Position() Pos { return e.P }
func (e *CurPos) Position() Pos        { return e.P }
