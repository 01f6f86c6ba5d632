package eval

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

func registerString(r *registry) {
	r.Add("toString", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		s, c := ev.CoerceToString(pos, a[0], true, false)
		return MkStringCtx(s, c)
	})
	r.Add("__stringLength", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		s, _ := ev.CoerceToString(pos, a[0], false, true)
		return MkInt(int64(len(s)))
	})
	r.Add("__substring", 3, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		start := ev.ForceInt(pos, a[0])
		n := ev.ForceInt(pos, a[1])
		s, c := ev.CoerceToString(pos, a[2], false, true)
		if start < 0 {
			ev.errorAt(pos, "negative start position in 'substring'")
		}
		if start >= int64(len(s)) {
			return MkStringCtx("", c)
		}
		end := int64(len(s))
		if n >= 0 && start+n < end {
			end = start + n
		}
		return MkStringCtx(s[start:end], c)
	})
	r.Add("__concatStringsSep", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		sep, sc := ev.ForceString(pos, a[0])
		var sb strBuf
		if sc != nil {
			sb.ctx = append(sb.ctx, sc.Elems...)
		}
		for i, x := range ev.ForceList(pos, a[1]) {
			if i > 0 {
				sb.b = append(sb.b, sep...)
			}
			ev.coerce(pos, x, &sb, coerceOpts{copyToStore: true})
		}
		return MkStringCtx(string(sb.b), NewContext(sb.ctx...))
	})
	r.Add("__replaceStrings", 3, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		from := ev.ForceList(pos, a[0])
		to := ev.ForceList(pos, a[1])
		if len(from) != len(to) {
			ev.errorAt(pos, "'from' and 'to' arguments to 'replaceStrings' have different lengths")
		}
		fs := make([]string, len(from))
		for i, f := range from {
			fs[i] = ev.ForceStringNoCtx(pos, f)
		}
		ts := make([]string, len(to))
		tcs := make([]*Context, len(to))
		done := make([]bool, len(to))
		s, c := ev.ForceString(pos, a[2])
		var sb strBuf
		if c != nil {
			sb.ctx = append(sb.ctx, c.Elems...)
		}
		for p := 0; p <= len(s); {
			matched := false
			for i, f := range fs {
				if strings.HasPrefix(s[p:], f) {
					if !done[i] {
						ts[i], tcs[i] = ev.ForceString(pos, to[i])
						done[i] = true
					}
					sb.b = append(sb.b, ts[i]...)
					if tcs[i] != nil {
						sb.ctx = append(sb.ctx, tcs[i].Elems...)
					}
					matched = true
					if f == "" {
						if p < len(s) {
							sb.b = append(sb.b, s[p])
						}
						p++
					} else {
						p += len(f)
					}
					break
				}
			}
			if !matched {
				if p < len(s) {
					sb.b = append(sb.b, s[p])
				}
				p++
			}
		}
		return MkStringCtx(string(sb.b), NewContext(sb.ctx...))
	})
	r.Add("baseNameOf", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		s, c := ev.CoerceToString(pos, a[0], false, false)
		s = strings.TrimSuffix(s, "/")
		if i := strings.LastIndexByte(s, '/'); i >= 0 {
			s = s[i+1:]
		}
		return MkStringCtx(s, c)
	})
	r.Add("dirOf", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		ev.force(a[0])
		isPath := a[0].kind == KPath
		s, c := ev.CoerceToString(pos, a[0], false, false)
		i := strings.LastIndexByte(s, '/')
		var d string
		switch {
		case i < 0:
			d = "."
		case i == 0:
			d = "/"
		default:
			d = s[:i]
		}
		if isPath {
			return MkPath(d)
		}
		return MkStringCtx(d, c)
	})
	r.Add("__match", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		re := ev.compileRegex(pos, ev.ForceStringNoCtx(pos, a[0]), true)
		s, _ := ev.ForceString(pos, a[1])
		m := re.FindStringSubmatchIndex(s)
		if m == nil {
			return valNull
		}
		out := make([]*Value, 0, len(m)/2-1)
		for i := 2; i < len(m); i += 2 {
			if m[i] < 0 {
				out = append(out, valNull)
			} else {
				out = append(out, MkString(s[m[i]:m[i+1]]))
			}
		}
		return MkList(out)
	})
	r.Add("__split", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		re := ev.compileRegex(pos, ev.ForceStringNoCtx(pos, a[0]), false)
		s, _ := ev.ForceString(pos, a[1])
		var out []*Value
		prev := 0
		for _, m := range ev.splitMatches(pos, re, a[0].Str(), s) {
			out = append(out, MkString(s[prev:m[0]]))
			groups := make([]*Value, 0, len(m)/2-1)
			for i := 2; i < len(m); i += 2 {
				if m[i] < 0 {
					groups = append(groups, valNull)
				} else {
					groups = append(groups, MkString(s[m[i]:m[i+1]]))
				}
			}
			out = append(out, MkList(groups))
			prev = m[1]
		}
		out = append(out, MkString(s[prev:]))
		return MkList(out)
	})
	r.Add("__unsafeDiscardStringContext", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		s, _ := ev.CoerceToString(pos, a[0], false, false)
		return MkString(s)
	})
	r.Add("__hasContext", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		_, c := ev.ForceString(pos, a[0])
		return MkBool(!c.Empty())
	})
	r.Add("__getContext", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		_, c := ev.ForceString(pos, a[0])
		type info struct {
			path    bool
			all     bool
			outputs []*Value
		}
		m := map[string]*info{}
		var order []string
		get := func(p string) *info {
			if x, ok := m[p]; ok {
				return x
			}
			x := &info{}
			m[p] = x
			order = append(order, p)
			return x
		}
		if c != nil {
			for _, e := range c.Elems {
				switch {
				case strings.HasPrefix(e, "="):
					get(e[1:]).all = true
				case strings.HasPrefix(e, "!"):
					out, p, _ := strings.Cut(e[1:], "!")
					x := get(p)
					x.outputs = append(x.outputs, MkString(out))
				default:
					get(e).path = true
				}
			}
		}
		b := ev.NewAttrsBuilder(len(order))
		for _, p := range order {
			x := m[p]
			ib := ev.NewAttrsBuilder(3)
			if x.path {
				ib.Set("path", valTrue)
			}
			if x.all {
				ib.Set("allOutputs", valTrue)
			}
			if len(x.outputs) > 0 {
				ib.Set("outputs", MkList(x.outputs))
			}
			b.Set(p, ib.Value())
		}
		return b.Value()
	})
}

// splitMatches is FindAllStringSubmatchIndex with std::regex_iterator's
// rule: an empty match right after a non-empty one counts (Go skips it),
// so split "(.*)" "abc" has a second, empty match at the end.
func (ev *Evaluator) splitMatches(pos syntax.Pos, re *regexp.Regexp, src, s string) [][]int {
	ms := re.FindAllStringSubmatchIndex(s, -1)
	if strings.ContainsAny(src, "^\\") {
		return ms // context-dependent anchors: keep Go's answer
	}
	var pre *regexp.Regexp
	var out [][]int
	for i, m := range ms {
		out = append(out, m)
		e := m[1]
		if m[0] == e || i+1 < len(ms) && ms[i+1][0] == e {
			continue
		}
		if pre == nil {
			key := "\x00prefix:" + src
			if pre = ev.regexCache[key]; pre == nil {
				var err error
				if pre, err = regexp.Compile("(?s)^(?:" + posixToRE2(src) + ")"); err != nil {
					return ms
				}
				pre.Longest()
				ev.regexCache[key] = pre
			}
		}
		if em := pre.FindStringSubmatchIndex(s[e:]); em != nil && em[1] == 0 {
			for j := range em {
				if em[j] >= 0 {
					em[j] += e
				}
			}
			out = append(out, em)
		}
	}
	return out
}

// compileRegex translates a POSIX extended regular expression into RE2
// syntax (anchored for match). Cached per evaluator.
func (ev *Evaluator) compileRegex(pos syntax.Pos, re string, anchored bool) *regexp.Regexp {
	key := re
	if anchored {
		key = "^" + re
	}
	if ev.regexCache == nil {
		ev.regexCache = map[string]*regexp.Regexp{}
	}
	if r, ok := ev.regexCache[key]; ok {
		return r
	}
	t := posixToRE2(re)
	if anchored {
		t = "^(?:" + t + ")$"
	}
	// POSIX (std::regex::extended): `.` also matches a newline
	r, err := regexp.Compile("(?s)" + t)
	if err != nil {
		ev.errorAt(pos, "invalid regular expression '%s'", re)
	}
	r.Longest()
	ev.regexCache[key] = r
	return r
}

// posixToRE2 rewrites the ERE features RE2 spells differently: inside
// bracket expressions a backslash is literal in POSIX, and `]` first in a
// bracket is literal.
func posixToRE2(re string) string {
	var b strings.Builder
	for i := 0; i < len(re); i++ {
		c := re[i]
		if c == '\\' && i+1 < len(re) {
			b.WriteByte(c)
			b.WriteByte(re[i+1])
			i++
			continue
		}
		if c != '[' {
			b.WriteByte(c)
			continue
		}
		// bracket expression
		b.WriteByte('[')
		i++
		if i < len(re) && re[i] == '^' {
			b.WriteByte('^')
			i++
		}
		if i < len(re) && re[i] == ']' {
			b.WriteString(`\]`)
			i++
		}
		for ; i < len(re) && re[i] != ']'; i++ {
			switch {
			case re[i] == '[' && i+1 < len(re) && (re[i+1] == ':' || re[i+1] == '.' || re[i+1] == '='):
				end := strings.Index(re[i+2:], string(re[i+1])+"]")
				if end < 0 {
					b.WriteString(`\[`)
					continue
				}
				b.WriteString(re[i : i+2+end+2])
				i += 2 + end + 1
			case re[i] == '\\':
				b.WriteString(`\\`)
			case re[i] == '[':
				b.WriteString(`\[`)
			default:
				b.WriteByte(re[i])
			}
		}
		if i < len(re) {
			b.WriteByte(']')
		}
	}
	return b.String()
}
