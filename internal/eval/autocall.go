package eval

import (
	"strconv"
	"strings"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

// AutoArg is one --arg / --argstr of nix-instantiate.
type AutoArg struct {
	Name  string
	Expr  string // for --arg
	Str   string // for --argstr
	IsStr bool
}

// AutoCall calls v with the automatic arguments the way nix-instantiate
// does: a function with formals receives the matching args; other values
// are returned as is.
func (ev *Evaluator) AutoCall(v *Value, args []AutoArg) (r *Value, err error) {
	err = ev.catch(func() {
		ev.force(v)
		if v.kind == KAttrs {
			if f, ok := v.Attrs().Get(ev.sFunctor); ok {
				g := ev.call1(f.Val, v, syntax.Pos{})
				if g.kind == KLambda && g.lambda().formals != nil {
					r = ev.call1(g, ev.autoArgs(g.lambda(), args), syntax.Pos{})
					return
				}
			}
		}
		if v.kind != KLambda || v.lambda().formals == nil {
			r = v
			return
		}
		r = ev.call1(v, ev.autoArgs(v.lambda(), args), syntax.Pos{})
	})
	return
}

func (ev *Evaluator) autoArgs(lc *lambdaCode, args []AutoArg) *Value {
	b := ev.NewAttrsBuilder(len(args))
	for _, a := range args {
		if !lc.ellipsis {
			found := false
			for _, f := range lc.fs {
				if f.name == a.Name {
					found = true
				}
			}
			if !found {
				continue
			}
		}
		if a.IsStr {
			b.Set(a.Name, MkString(a.Str))
			continue
		}
		f := &syntax.File{Name: "«string»", Dir: ".", Src: []byte(a.Expr)}
		if wd, err := osGetwd(); err == nil {
			f.Dir = wd
		}
		e := ev.parse(f)
		c := (&compiler{ev: ev}).compile(e, ev.base)
		b.Set(a.Name, &Value{kind: KThunk, p: unsafePtr(ev.baseEnv), q: unsafePtr(&lazy{c: c})})
	}
	return b.Value()
}

// SelectAttrPath follows an -A attribute path ("a.b.0.c"; numbers index
// lists), auto-calling functions along the way like nix-instantiate.
func (ev *Evaluator) SelectAttrPath(v *Value, path string, args []AutoArg) (r *Value, err error) {
	err = ev.catch(func() {
		r = v
		if path == "" {
			return
		}
		for _, comp := range splitAttrPath(path) {
			var e error
			r, e = ev.AutoCall(r, args)
			if e != nil {
				panic(e)
			}
			if n, err := strconv.Atoi(comp); err == nil {
				ev.force(r)
				if r.kind != KList {
					ev.errorAt(syntax.Pos{}, "the expression selected by the selection path '%s' should be a list but is %s", path, r.TypeName())
				}
				l := r.List()
				if n < 0 || n >= len(l) {
					ev.errorAt(syntax.Pos{}, "list index %d in selection path '%s' is out of range", n, path)
				}
				r = l[n]
				continue
			}
			ev.force(r)
			if r.kind != KAttrs {
				ev.errorAt(syntax.Pos{}, "the expression selected by the selection path '%s' should be a set but is %s", path, r.TypeName())
			}
			a, ok := r.Attrs().Get(ev.syms.Intern(comp))
			if !ok {
				ev.errorAt(syntax.Pos{}, "attribute '%s' in selection path '%s' not found", comp, path)
			}
			r = a.Val
		}
		ev.force(r)
	})
	return
}

func splitAttrPath(p string) []string {
	var out []string
	var cur strings.Builder
	inQuote := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '"':
			inQuote = !inQuote
		case c == '.' && !inQuote:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String())
}
