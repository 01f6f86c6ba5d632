package eval

import (
	"sort"
	"strconv"
	"strings"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

// xmlWriter mirrors Nix's XMLWriter with indentation: attributes sorted by
// name, "&quot; &lt; &gt; &amp; &#xA;" escapes.
type xmlWriter struct {
	b     strings.Builder
	stack []string
}

type xmlAttr struct{ k, v string }

func (w *xmlWriter) indent() {
	for range w.stack {
		w.b.WriteString("  ")
	}
}

func (w *xmlWriter) attrs(as []xmlAttr) {
	sort.Slice(as, func(i, j int) bool { return as[i].k < as[j].k })
	for _, a := range as {
		w.b.WriteString(" ")
		w.b.WriteString(a.k)
		w.b.WriteString(`="`)
		for i := 0; i < len(a.v); i++ {
			switch c := a.v[i]; c {
			case '"':
				w.b.WriteString("&quot;")
			case '<':
				w.b.WriteString("&lt;")
			case '>':
				w.b.WriteString("&gt;")
			case '&':
				w.b.WriteString("&amp;")
			case '\n':
				w.b.WriteString("&#xA;")
			default:
				w.b.WriteByte(c)
			}
		}
		w.b.WriteString(`"`)
	}
}

func (w *xmlWriter) open(name string, as ...xmlAttr) {
	w.indent()
	w.b.WriteString("<" + name)
	w.attrs(as)
	w.b.WriteString(">\n")
	w.stack = append(w.stack, name)
}

func (w *xmlWriter) close() {
	name := w.stack[len(w.stack)-1]
	w.stack = w.stack[:len(w.stack)-1]
	w.indent()
	w.b.WriteString("</" + name + ">\n")
}

func (w *xmlWriter) empty(name string, as ...xmlAttr) {
	w.indent()
	w.b.WriteString("<" + name)
	w.attrs(as)
	w.b.WriteString(" />\n")
}

type xmlPrinter struct {
	ev       *Evaluator
	strict   bool
	location bool
	w        xmlWriter
	ctx      []string
	drvsSeen map[string]bool
}

// ToXML renders v as nix-instantiate --xml does (strict forces values on
// the way; location adds source positions). The result ends in a newline.
func (ev *Evaluator) ToXML(v *Value, strict, location bool) (s string, err error) {
	err = ev.catch(func() {
		s, _ = ev.toXML(v, strict, location)
	})
	return
}

func (ev *Evaluator) toXML(v *Value, strict, location bool) (string, []string) {
	p := &xmlPrinter{ev: ev, strict: strict, location: location, drvsSeen: map[string]bool{}}
	p.w.b.WriteString("<?xml version='1.0' encoding='utf-8'?>\n")
	p.w.open("expr")
	p.value(v, 0)
	p.w.close()
	return p.w.b.String(), p.ctx
}

func xmlPos(as []xmlAttr, p syntax.Pos) []xmlAttr {
	if !p.IsValid() {
		return as
	}
	if p.File != nil && strings.HasPrefix(p.File.Name, "/") {
		as = append(as, xmlAttr{"path", p.File.Name})
	}
	return append(as, xmlAttr{"line", strconv.Itoa(int(p.Line))}, xmlAttr{"column", strconv.Itoa(int(p.Col))})
}

func (p *xmlPrinter) value(v *Value, depth int) {
	ev := p.ev
	if depth > p.ev.opts.MaxNestingDepth || depth > p.ev.opts.MaxCallDepth { // Nix's addCallDepth
		panic(&Error{Kind: ErrStackOverflow, Msg: "stack overflow; max-call-depth exceeded"})
	}
	if p.strict {
		ev.force(v)
	}
	w := &p.w
	switch v.kind {
	case KInt:
		w.empty("int", xmlAttr{"value", strconv.FormatInt(v.n, 10)})
	case KBool:
		b := "false"
		if v.n != 0 {
			b = "true"
		}
		w.empty("bool", xmlAttr{"value", b})
	case KString:
		if c := v.Context(); c != nil {
			p.ctx = append(p.ctx, c.Elems...)
		}
		w.empty("string", xmlAttr{"value", v.Str()})
	case KPath:
		w.empty("path", xmlAttr{"value", v.Str()})
	case KNull:
		w.empty("null")
	case KAttrs:
		if ev.isDerivation(v) {
			var as []xmlAttr
			drvPath := ""
			if a, ok := v.Attrs().Get(ev.sDrvPath); ok {
				if p.strict {
					ev.force(a.Val)
				}
				if a.Val.kind == KString {
					drvPath = a.Val.Str()
					as = append(as, xmlAttr{"drvPath", drvPath})
				}
			}
			if a, ok := v.Attrs().Get(ev.sOutPath); ok {
				if p.strict {
					ev.force(a.Val)
				}
				if a.Val.kind == KString {
					as = append(as, xmlAttr{"outPath", a.Val.Str()})
				}
			}
			w.open("derivation", as...)
			if drvPath != "" && !p.drvsSeen[drvPath] {
				p.drvsSeen[drvPath] = true
				p.attrs(v.Attrs(), depth)
			} else {
				w.empty("repeated")
			}
			w.close()
		} else {
			w.open("attrs")
			p.attrs(v.Attrs(), depth)
			w.close()
		}
	case KList:
		w.open("list")
		for _, e := range v.List() {
			p.value(e, depth+1)
		}
		w.close()
	case KLambda:
		lc := v.lambda()
		var as []xmlAttr
		if p.location {
			as = xmlPos(as, lc.p)
		}
		w.open("function", as...)
		if lc.formals != nil {
			var pa []xmlAttr
			if lc.argName != "" {
				pa = append(pa, xmlAttr{"name", lc.argName})
			}
			if lc.ellipsis {
				pa = append(pa, xmlAttr{"ellipsis", "1"})
			}
			w.open("attrspat", pa...)
			names := make([]string, len(lc.fs))
			for i, f := range lc.fs {
				names[i] = f.name
			}
			sort.Strings(names)
			for _, n := range names {
				w.empty("attr", xmlAttr{"name", n})
			}
			w.close()
		} else {
			w.empty("varpat", xmlAttr{"name", lc.argName})
		}
		w.close()
	case KFloat:
		w.empty("float", xmlAttr{"value", formatFloatG(v.Float())})
	default:
		w.empty("unevaluated")
	}
}

func (p *xmlPrinter) attrs(a *Attrs, depth int) {
	for _, at := range p.ev.sortedAttrs(a) {
		as := []xmlAttr{{"name", p.ev.syms.Name(at.Name)}}
		if p.location && at.Pos != nil {
			as = xmlPos(as, *at.Pos)
		}
		p.w.open("attr", as...)
		p.value(at.Val, depth+1)
		p.w.close()
	}
}
