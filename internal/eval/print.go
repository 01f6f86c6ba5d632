package eval

import (
	"github.com/onix-dev/onix/internal/eval/syntax"
	"strconv"
	"strings"
	"unsafe"
)

// formatFloatG prints a float like C++'s default ostream (%g, precision 6).
func formatFloatG(f float64) string {
	return strconv.FormatFloat(f, 'g', 6, 64)
}

var keywords = map[string]bool{"if": true, "then": true, "else": true, "assert": true, "with": true, "let": true, "in": true, "rec": true, "inherit": true}

func isVarName(s string) bool {
	if s == "" || keywords[s] {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' {
			continue
		}
		if i > 0 && (c >= '0' && c <= '9' || c == '\'' || c == '-') {
			continue
		}
		return false
	}
	return true
}

func quoteString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '$' && i+1 < len(s) && s[i+1] == '{':
			b.WriteString(`\$`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// PrintValue renders v as nix-instantiate --eval prints it. With strict,
// everything is forced first (raising errors); otherwise unevaluated parts
// print as <CODE>.
func (ev *Evaluator) PrintValue(v *Value, strict bool) (s string, err error) {
	err = ev.catch(func() {
		if strict {
			ev.forceDeep(v, syntax.Pos{})
		} else {
			ev.force(v)
		}
		// Nix prints a copy of the result cell: a list is tracked by cell
		// address, so `let x = [ x ]; in x` prints as [ [ «repeated» ] ].
		cp := *v
		s = ev.printValue(&cp, false)
	})
	return
}

func (ev *Evaluator) printValue(v *Value, _ bool) string {
	var b strings.Builder
	seen := map[unsafe.Pointer]bool{}
	ev.printTo(&b, v, seen)
	return b.String()
}

func (ev *Evaluator) printTo(b *strings.Builder, v *Value, seen map[unsafe.Pointer]bool) {
	switch v.kind {
	case KNull:
		b.WriteString("null")
	case KBool:
		if v.n != 0 {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case KInt:
		b.WriteString(strconv.FormatInt(v.n, 10))
	case KFloat:
		b.WriteString(formatFloatG(v.Float()))
	case KString:
		quoteString(b, v.Str())
	case KPath:
		b.WriteString(v.Str())
	case KAttrs:
		l := ev.sortedAttrs(v.Attrs())
		if len(l) > 0 {
			seen[v.p] = true
		}
		b.WriteString("{ ")
		for _, a := range l {
			n := ev.syms.Name(a.Name)
			if isVarName(n) {
				b.WriteString(n)
			} else {
				quoteString(b, n)
			}
			b.WriteString(" = ")
			ev.printElem(b, a.Val, seen)
			b.WriteString("; ")
		}
		b.WriteString("}")
	case KList:
		if v.n > 0 {
			seen[unsafe.Pointer(v)] = true
		}
		b.WriteString("[ ")
		for _, e := range v.List() {
			ev.printElem(b, e, seen)
			b.WriteString(" ")
		}
		b.WriteString("]")
	case KThunk, KApp, KBlackhole:
		b.WriteString("<CODE>")
	case KLambda:
		b.WriteString("<LAMBDA>")
	case KPrimOp:
		b.WriteString("<PRIMOP>")
	case KPrimOpApp:
		b.WriteString("<PRIMOP-APP>")
	}
}

func (ev *Evaluator) printElem(b *strings.Builder, v *Value, seen map[unsafe.Pointer]bool) {
	if v.kind == KAttrs && v.Attrs().Len() > 0 && seen[v.p] || v.kind == KList && v.n > 0 && seen[unsafe.Pointer(v)] {
		b.WriteString("«repeated»")
		return
	}
	ev.printTo(b, v, seen)
}
