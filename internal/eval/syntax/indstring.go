package syntax

import "strings"

// indPart is one piece of an indented string before indentation is
// stripped: a literal token, or an interpolated expression.
type indPart struct {
	off    int
	expr   Expr // nil for a literal
	text   string
	indent bool // the literal takes part in indentation (not an escape)
}

// parseIndStringRest parses a ”...” string after its opening token.
func (p *parser) parseIndStringRest(open token) Expr {
	var parts []indPart
	for {
		t := p.peek()
		switch t.kind {
		case tIndStr:
			p.next()
			parts = append(parts, indPart{off: t.off, text: t.text, indent: t.indent})
		case tDollarCurly:
			e := p.parseGroup(t, tRBrace)
			parts = append(parts, indPart{off: t.off, expr: e})
		case tIndClose:
			p.next()
			return p.stripIndentation(open, parts)
		default:
			p.unexpected(t, tIndStr, tDollarCurly, tIndClose)
		}
	}
}

// stripIndentation removes the common indentation of an indented string,
// exactly as Nix's ParserState::stripIndentation does:
//   - the minimum indentation counts spaces only (a tab is text), over the
//     lines that have something other than spaces; an interpolation or an
//     escape ends a line's indentation;
//   - lines of spaces only do not count, and a final line of spaces only
//     is removed;
//   - each literal token becomes its own String part (empty ones dropped);
//     a result that is one String is that String, nothing at all is "".
func (p *parser) stripIndentation(open token, es []indPart) Expr {
	pos := p.pos(open.off)
	if len(es) == 0 {
		return &String{P: pos, Val: ""}
	}
	atStartOfLine := true
	minIndent := 1000000
	curIndent := 0
	for _, part := range es {
		if part.expr != nil || !part.indent {
			if atStartOfLine {
				atStartOfLine = false
				if curIndent < minIndent {
					minIndent = curIndent
				}
			}
			continue
		}
		s := part.text
		for j := 0; j < len(s); j++ {
			if atStartOfLine {
				switch s[j] {
				case ' ':
					curIndent++
				case '\n':
					curIndent = 0
				default:
					atStartOfLine = false
					if curIndent < minIndent {
						minIndent = curIndent
					}
				}
			} else if s[j] == '\n' {
				atStartOfLine = true
				curIndent = 0
			}
		}
	}

	out := make([]Expr, 0, len(es))
	atStartOfLine = true
	curDropped := 0
	var b strings.Builder
	for i, part := range es {
		if part.expr != nil {
			atStartOfLine = false
			curDropped = 0
			out = append(out, part.expr)
			continue
		}
		b.Reset()
		s := part.text
		for j := 0; j < len(s); j++ {
			c := s[j]
			if atStartOfLine {
				switch c {
				case ' ':
					if curDropped >= minIndent {
						b.WriteByte(c)
					}
					curDropped++
				case '\n':
					curDropped = 0
					b.WriteByte(c)
				default:
					atStartOfLine = false
					curDropped = 0
					b.WriteByte(c)
				}
			} else {
				b.WriteByte(c)
				if c == '\n' {
					atStartOfLine = true
				}
			}
		}
		s2 := b.String()
		if i == len(es)-1 {
			// Remove the last line if it consists only of spaces.
			if k := strings.LastIndexByte(s2, '\n'); k >= 0 && strings.Trim(s2[k+1:], " ") == "" {
				s2 = s2[:k+1]
			}
		}
		if s2 != "" {
			out = append(out, &String{P: p.pos(part.off), Val: s2})
		}
	}
	switch len(out) {
	case 0:
		return &String{P: pos, Val: ""}
	case 1:
		if s, ok := out[0].(*String); ok {
			s.P = pos
			return s
		}
	}
	return &ConcatStrings{P: pos, ForceString: true, Parts: out}
}
