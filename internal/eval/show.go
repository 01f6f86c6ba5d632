package eval

import (
	"strconv"
	"strings"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

// showExpr prints an expression the way Nix's Expr::show does (used in
// "assertion '...' failed").
func showExpr(e syntax.Expr) string {
	var b strings.Builder
	show(&b, e)
	return b.String()
}

func show(b *strings.Builder, e syntax.Expr) {
	switch e := e.(type) {
	case *syntax.Int:
		b.WriteString(strconv.FormatInt(e.Val, 10))
	case *syntax.Float:
		b.WriteString(formatFloatG(e.Val))
	case *syntax.String:
		quoteString(b, e.Val)
	case *syntax.Path:
		b.WriteString(e.Val)
	case *syntax.Var:
		b.WriteString(e.Name)
	case *syntax.Select:
		b.WriteString("(")
		show(b, e.E)
		b.WriteString(").")
		showPath(b, e.Path)
		if e.Default != nil {
			b.WriteString(" or (")
			show(b, e.Default)
			b.WriteString(")")
		}
	case *syntax.HasAttr:
		b.WriteString("((")
		show(b, e.E)
		b.WriteString(") ? ")
		showPath(b, e.Path)
		b.WriteString(")")
	case *syntax.Not:
		b.WriteString("(! ")
		show(b, e.E)
		b.WriteString(")")
	case *syntax.BinOp:
		b.WriteString("(")
		show(b, e.L)
		b.WriteString(" " + e.Op.String() + " ")
		show(b, e.R)
		b.WriteString(")")
	case *syntax.Call:
		b.WriteString("(")
		show(b, e.Fn)
		for _, a := range e.Args {
			b.WriteString(" ")
			show(b, a)
		}
		b.WriteString(")")
	case *syntax.List:
		b.WriteString("[ ")
		for _, x := range e.Elems {
			show(b, x)
			b.WriteString(" ")
		}
		b.WriteString("]")
	default:
		b.WriteString("...")
	}
}

func showPath(b *strings.Builder, p []syntax.AttrName) {
	for i, a := range p {
		if i > 0 {
			b.WriteString(".")
		}
		if a.Expr != nil {
			b.WriteString("\"${")
			show(b, a.Expr)
			b.WriteString("}\"")
		} else {
			b.WriteString(a.Name)
		}
	}
}
