package syntax

import (
	"bufio"
	"io"
	"sort"
	"strconv"
)

// Show writes e the way `nix-instantiate --parse` prints it (current Nix's
// Expr::show): every compound expression parenthesised, set attributes and
// lambda formals in byte order of their names, `inherit` clauses before
// the other attributes, strings escaped as Nix string literals.
func Show(w io.Writer, e Expr) error {
	bw, ok := w.(*bufio.Writer)
	if !ok {
		bw = bufio.NewWriter(w)
	}
	pr := printer{w: bw}
	pr.expr(e)
	return bw.Flush()
}

// ShowString returns what Show writes.
func ShowString(e Expr) string {
	var b []byte
	pr := printer{buf: &b}
	pr.expr(e)
	return string(b)
}

type printer struct {
	w   *bufio.Writer
	buf *[]byte
}

func (pr *printer) s(s string) {
	if pr.buf != nil {
		*pr.buf = append(*pr.buf, s...)
		return
	}
	pr.w.WriteString(s)
}

func (pr *printer) expr(e Expr) {
	switch e := e.(type) {
	case *Int:
		pr.s(strconv.FormatInt(e.Val, 10))
	case *Float:
		pr.s(FormatFloat(e.Val))
	case *String:
		pr.s(QuoteString(e.Val))
	case *Path:
		pr.s(e.Val)
	case *Var:
		pr.s(printIdentifier(e.Name))
	case *CurPos:
		pr.s("__curPos")
	case *Select:
		pr.s("(")
		pr.expr(e.E)
		pr.s(").")
		pr.attrPath(e.Path)
		if e.Default != nil {
			pr.s(" or (")
			pr.expr(e.Default)
			pr.s(")")
		}
	case *HasAttr:
		pr.s("((")
		pr.expr(e.E)
		pr.s(") ? ")
		pr.attrPath(e.Path)
		pr.s(")")
	case *AttrSet:
		if e.Rec {
			pr.s("rec ")
		}
		pr.s("{ ")
		pr.bindings(e)
		pr.s("}")
	case *List:
		pr.s("[ ")
		for _, x := range e.Elems {
			pr.s("(")
			pr.expr(x)
			pr.s(") ")
		}
		pr.s("]")
	case *Lambda:
		pr.s("(")
		if e.Formals != nil {
			pr.s("{ ")
			fs := append([]Formal(nil), e.Formals.List...)
			sort.SliceStable(fs, func(i, j int) bool { return fs[i].Name < fs[j].Name })
			for i, f := range fs {
				if i > 0 {
					pr.s(", ")
				}
				pr.s(printIdentifier(f.Name))
				if f.Default != nil {
					pr.s(" ? ")
					pr.expr(f.Default)
				}
			}
			if e.Formals.Ellipsis {
				if len(fs) > 0 {
					pr.s(", ")
				}
				pr.s("...")
			}
			pr.s(" }")
			if e.Arg != "" {
				pr.s(" @ ")
			}
		}
		if e.Arg != "" {
			pr.s(printIdentifier(e.Arg))
		}
		pr.s(": ")
		pr.expr(e.Body)
		pr.s(")")
	case *Call:
		pr.s("(")
		pr.expr(e.Fn)
		for _, a := range e.Args {
			pr.s(" ")
			pr.expr(a)
		}
		pr.s(")")
	case *Let:
		pr.s("(let ")
		pr.bindings(e.Attrs)
		pr.s("in ")
		pr.expr(e.Body)
		pr.s(")")
	case *With:
		pr.s("(with ")
		pr.expr(e.Env)
		pr.s("; ")
		pr.expr(e.Body)
		pr.s(")")
	case *If:
		pr.s("(if ")
		pr.expr(e.Cond)
		pr.s(" then ")
		pr.expr(e.Then)
		pr.s(" else ")
		pr.expr(e.Else)
		pr.s(")")
	case *Assert:
		pr.s("assert ")
		pr.expr(e.Cond)
		pr.s("; ")
		pr.expr(e.Body)
	case *Not:
		pr.s("(! ")
		pr.expr(e.E)
		pr.s(")")
	case *BinOp:
		pr.s("(")
		pr.expr(e.L)
		pr.s(" " + e.Op.String() + " ")
		pr.expr(e.R)
		pr.s(")")
	case *ConcatStrings:
		pr.s("(")
		for i, x := range e.Parts {
			if i > 0 {
				pr.s(" + ")
			}
			pr.expr(x)
		}
		pr.s(")")
	case nil:
		pr.s("«nil»")
	default:
		pr.s("«unknown»")
	}
}

func (pr *printer) attrPath(path []AttrName) {
	for i, a := range path {
		if i > 0 {
			pr.s(".")
		}
		if a.Expr == nil {
			pr.s(printIdentifier(a.Name))
		} else {
			pr.s("\"${")
			pr.expr(a.Expr)
			pr.s("}\"")
		}
	}
}

func showAttrPath(path []AttrName) string {
	var b []byte
	pr := printer{buf: &b}
	pr.attrPath(path)
	return string(b)
}

// bindings prints a set's attributes as ExprAttrs::showBindings does.
func (pr *printer) bindings(set *AttrSet) {
	sorted := append([]*Binding(nil), set.Attrs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	first := true
	for _, b := range sorted {
		if b.Inherited && b.InheritFrom == nil {
			if first {
				pr.s("inherit")
				first = false
			}
			pr.s(" " + printIdentifier(b.Name))
		}
	}
	if !first {
		pr.s("; ")
	}
	// inherit (e) clauses, in the order of the clauses.
	var froms []Expr
	seen := map[Expr]bool{}
	for _, b := range set.Attrs {
		if b.InheritFrom != nil && !seen[b.InheritFrom] {
			seen[b.InheritFrom] = true
			froms = append(froms, b.InheritFrom)
		}
	}
	for _, from := range froms {
		pr.s("inherit (")
		pr.expr(from)
		pr.s(")")
		for _, b := range sorted {
			if b.InheritFrom == from {
				pr.s(" " + printIdentifier(b.Name))
			}
		}
		pr.s("; ")
	}
	for _, b := range sorted {
		if !b.Inherited {
			pr.s(printIdentifier(b.Name) + " = ")
			pr.expr(b.Value)
			pr.s("; ")
		}
	}
	for _, d := range set.Dynamic {
		pr.s("\"${")
		pr.expr(d.Name)
		pr.s("}\" = ")
		pr.expr(d.Value)
		pr.s("; ")
	}
}

// FormatFloat formats a float as C++'s default ostream output does
// (printf's %g with 6 significant digits), which is how Nix shows float
// literals.
func FormatFloat(f float64) string {
	return strconv.FormatFloat(f, 'g', 6, 64)
}

// QuoteString renders s as a Nix string literal, as Nix's
// printLiteralString does: `"`, `\`, newline, CR and tab are escaped, and
// `$` only before `{`.
func QuoteString(s string) string {
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '$':
			if i+1 < len(s) && s[i+1] == '{' {
				b = append(b, '\\')
			}
			b = append(b, c)
		default:
			b = append(b, c)
		}
	}
	return string(append(b, '"'))
}

// isReservedKeyword reports the words that must be quoted as attribute
// names (`or` need not be).
func isReservedKeyword(s string) bool {
	switch s {
	case "if", "then", "else", "assert", "with", "let", "in", "rec", "inherit":
		return true
	}
	return false
}

// printIdentifier renders an attribute or variable name, quoted when it is
// not a plain identifier (Nix's printIdentifier).
func printIdentifier(s string) string {
	if s == "" {
		return `""`
	}
	if isReservedKeyword(s) {
		return `"` + s + `"`
	}
	if !isIDStart(s[0]) {
		return QuoteString(s)
	}
	for i := 0; i < len(s); i++ {
		if !isIDChar(s[i]) {
			return QuoteString(s)
		}
	}
	return s
}
