package eval

import (
	"strings"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

// registerContext adds the string-context builtins that need more than
// reading a context, and toXML.
func registerContext(r *registry) {
	r.Add("__unsafeDiscardOutputDependency", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		s, c := ev.CoerceToString(pos, a[0], false, false)
		if c.Empty() {
			return MkString(s)
		}
		out := make([]string, len(c.Elems))
		for i, e := range c.Elems {
			out[i] = strings.TrimPrefix(e, "=")
		}
		return MkStringCtx(s, NewContext(out...))
	})
	r.Add("__addDrvOutputDependencies", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		s, c := ev.CoerceToString(pos, a[0], false, false)
		n := 0
		if c != nil {
			n = len(c.Elems)
		}
		if n != 1 {
			ev.errorAt(syntax.Pos{}, "context of string '%s' must have exactly one element, but has %d", s, n)
		}
		e := c.Elems[0]
		switch {
		case strings.HasPrefix(e, "="):
		case strings.HasPrefix(e, "!"):
			out, _, _ := strings.Cut(e[1:], "!")
			ev.errorAt(syntax.Pos{}, "`addDrvOutputDependencies` can only act on derivations, not on a derivation output such as '%s'", out)
		default:
			if !strings.HasSuffix(e, ".drv") {
				ev.errorAt(syntax.Pos{}, "path '%s' is not a derivation", e)
			}
			e = "=" + e
		}
		return MkStringCtx(s, NewContext(e))
	})
	r.Add("__appendContext", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		s, c := ev.ForceString(pos, a[0])
		attrs := ev.ForceAttrs(pos, a[1])
		var elems []string
		if c != nil {
			elems = append(elems, c.Elems...)
		}
		sPath, sAll := ev.syms.Intern("path"), ev.syms.Intern("allOutputs")
		for _, at := range ev.sortedAttrs(attrs) {
			name := ev.syms.Name(at.Name)
			apos := derefPos(at.Pos)
			if !ev.isStorePath(name) {
				ev.errorAt(apos, "context key '%s' is not a store path", name)
			}
			ca := ev.ForceAttrs(apos, at.Val)
			if x, ok := ca.Get(sPath); ok && ev.ForceBool(derefPos(x.Pos), x.Val) {
				elems = append(elems, name)
			}
			if x, ok := ca.Get(sAll); ok && ev.ForceBool(derefPos(x.Pos), x.Val) {
				if !strings.HasSuffix(name, ".drv") {
					ev.errorAt(apos, "tried to add all-outputs context of %s, which is not a derivation, to a string", name)
				}
				elems = append(elems, "="+name)
			}
			if x, ok := ca.Get(ev.sOutputs); ok {
				l := ev.ForceList(derefPos(x.Pos), x.Val)
				if len(l) > 0 && !strings.HasSuffix(name, ".drv") {
					ev.errorAt(apos, "tried to add derivation output context of %s, which is not a derivation, to a string", name)
				}
				for _, o := range l {
					elems = append(elems, "!"+ev.ForceStringNoCtx(derefPos(x.Pos), o)+"!"+name)
				}
			}
		}
		return MkStringCtx(s, NewContext(elems...))
	})
	r.Add("__toXML", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		s, ctx := ev.toXML(a[0], true, false)
		return MkStringCtx(s, NewContext(ctx...))
	})
}

// isStorePath reports whether s names a store object directly under the
// store directory: STORE/<32 base-32 chars>-<name>.
func (ev *Evaluator) isStorePath(s string) bool {
	dir := ev.opts.StoreDir + "/"
	if !strings.HasPrefix(s, dir) {
		return false
	}
	base := s[len(dir):]
	if len(base) < 34 || base[32] != '-' || strings.Contains(base, "/") {
		return false
	}
	for i := 0; i < 32; i++ {
		if !strings.ContainsRune("0123456789abcdfghijklmnpqrsvwxyz", rune(base[i])) {
			return false
		}
	}
	return true
}
