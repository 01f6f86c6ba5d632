package store

import (
	"fmt"
	"strings"
)

// parseDrvOutputs reads the output list at the start of a .drv ATerm
// (`Derive([("out","/nix/store/…","",""),…],…`) and returns output name ->
// path. Outputs with an empty path (floating CA) are omitted. It is a small
// private parser so that registration does not depend on the full
// derivation package; it rejects anything that is not a well-formed prefix.
func parseDrvOutputs(b []byte) (map[string]string, error) {
	p := atermParser{s: b}
	if !p.lit("Derive([") {
		return nil, fmt.Errorf("not a derivation: does not start with %q", "Derive([")
	}
	outs := map[string]string{}
	if p.lit("]") {
		return nil, fmt.Errorf("derivation has no outputs")
	}
	for {
		if !p.lit("(") {
			return nil, p.errorf("expected '('")
		}
		var fields [4]string
		for i := range fields {
			if i > 0 && !p.lit(",") {
				return nil, p.errorf("expected ','")
			}
			s, err := p.str()
			if err != nil {
				return nil, err
			}
			fields[i] = s
		}
		if !p.lit(")") {
			return nil, p.errorf("expected ')'")
		}
		if fields[0] == "" {
			return nil, p.errorf("empty output name")
		}
		if _, dup := outs[fields[0]]; dup {
			return nil, p.errorf("duplicate output %q", fields[0])
		}
		outs[fields[0]] = fields[1]
		if p.lit("]") {
			break
		}
		if !p.lit(",") {
			return nil, p.errorf("expected ',' or ']'")
		}
	}
	if !p.lit(",") {
		return nil, p.errorf("expected ',' after outputs")
	}
	for k, v := range outs {
		if v == "" {
			delete(outs, k)
		}
	}
	return outs, nil
}

type atermParser struct {
	s   []byte
	pos int
}

func (p *atermParser) errorf(format string, args ...any) error {
	return fmt.Errorf("derivation ATerm at byte %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *atermParser) lit(l string) bool {
	if len(p.s)-p.pos >= len(l) && string(p.s[p.pos:p.pos+len(l)]) == l {
		p.pos += len(l)
		return true
	}
	return false
}

func (p *atermParser) str() (string, error) {
	if !p.lit(`"`) {
		return "", p.errorf("expected string")
	}
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		p.pos++
		switch c {
		case '"':
			return b.String(), nil
		case '\\':
			if p.pos >= len(p.s) {
				return "", p.errorf("unterminated escape")
			}
			e := p.s[p.pos]
			p.pos++
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", p.errorf("unterminated string")
}

// drvOutputs parses a .drv's outputs and checks they are paths in this store.
func (s *Store) drvOutputs(b []byte) (map[string]string, error) {
	outs, err := parseDrvOutputs(b)
	if err != nil {
		return nil, err
	}
	for name, p := range outs {
		if _, err := s.storeDir.Parse(p); err != nil {
			return nil, fmt.Errorf("output %q: %w", name, err)
		}
	}
	return outs, nil
}
