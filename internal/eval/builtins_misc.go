package eval

import (
	"strings"
	"unicode"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

func registerMisc(r *registry) {
	r.Add("__seq", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		ev.force(a[0])
		return a[1]
	})
	r.Add("__deepSeq", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		ev.forceDeep(a[0], pos)
		return a[1]
	})
	r.Add("__tryEval", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) (res *Value) {
		depth := ev.depth
		defer func() {
			if rec := recover(); rec != nil {
				if e, ok := rec.(*Error); ok && (e.Kind == ErrThrown || e.Kind == ErrAssertion) {
					ev.depth = depth
					b := ev.NewAttrsBuilder(2)
					b.Set("success", valFalse)
					b.Set("value", valFalse)
					res = b.Value()
					return
				}
				panic(rec)
			}
		}()
		ev.force(a[0])
		b := ev.NewAttrsBuilder(2)
		b.Set("success", valTrue)
		b.Set("value", a[0])
		return b.Value()
	})
	r.Add("__addErrorContext", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		defer func() {
			if rec := recover(); rec != nil {
				if e, ok := rec.(*Error); ok {
					s, _ := ev.CoerceToString(pos, a[0], false, false)
					e.Trace = append(e.Trace, Frame{Msg: s})
				}
				panic(rec)
			}
		}()
		ev.force(a[1])
		return a[1]
	})
	r.Add("__compareVersions", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		return MkInt(int64(compareVersions(ev.ForceStringNoCtx(pos, a[0]), ev.ForceStringNoCtx(pos, a[1]))))
	})
	r.Add("__splitVersion", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		s := ev.ForceStringNoCtx(pos, a[0])
		var out []*Value
		for p := 0; ; {
			c, np := nextVersionComponent(s, p)
			p = np
			if c == "" {
				break
			}
			out = append(out, MkString(c))
		}
		return MkList(out)
	})
	r.Add("__parseDrvName", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		s := ev.ForceStringNoCtx(pos, a[0])
		name, version := s, ""
		for i := 0; i+1 < len(s); i++ {
			if s[i] == '-' && !unicode.IsLetter(rune(s[i+1])) {
				name, version = s[:i], s[i+1:]
				break
			}
		}
		b := ev.NewAttrsBuilder(2)
		b.Set("name", MkString(name))
		b.Set("version", MkString(version))
		return b.Value()
	})
}

// nextVersionComponent mirrors Nix's: runs of digits, or runs of
// non-digit non-separators; '.' and '-' separate.
func nextVersionComponent(s string, p int) (string, int) {
	for p < len(s) && (s[p] == '.' || s[p] == '-') {
		p++
	}
	if p >= len(s) {
		return "", p
	}
	start := p
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	if isDigit(s[p]) {
		for p < len(s) && isDigit(s[p]) {
			p++
		}
	} else {
		for p < len(s) && !isDigit(s[p]) && s[p] != '.' && s[p] != '-' {
			p++
		}
	}
	return s[start:p], p
}

func componentsLT(c1, c2 string) bool {
	isNum := func(s string) bool {
		if s == "" {
			return false
		}
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	n1, n2 := isNum(c1), isNum(c2)
	if n1 && n2 {
		a := strings.TrimLeft(c1, "0")
		b := strings.TrimLeft(c2, "0")
		if len(a) != len(b) {
			return len(a) < len(b)
		}
		return a < b
	}
	if c1 == "" && n2 {
		return true
	}
	if c1 == "pre" && c2 != "pre" {
		return true
	}
	if c2 == "pre" {
		return false
	}
	if n1 {
		return false
	}
	if n2 {
		return true
	}
	return c1 < c2
}

func compareVersions(v1, v2 string) int {
	p1, p2 := 0, 0
	for p1 < len(v1) || p2 < len(v2) {
		var c1, c2 string
		c1, p1 = nextVersionComponent(v1, p1)
		c2, p2 = nextVersionComponent(v2, p2)
		if componentsLT(c1, c2) {
			return -1
		}
		if componentsLT(c2, c1) {
			return 1
		}
	}
	return 0
}
