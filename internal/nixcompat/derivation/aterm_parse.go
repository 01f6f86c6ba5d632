package derivation

import (
	"fmt"
	"strings"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

// ParseError locates a syntax error in a .drv file.
type ParseError struct {
	File   string
	Offset int
	Msg    string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("parse derivation %s at offset %d: %s", e.File, e.Offset, e.Msg)
}

// Parse parses an ATerm .drv. file is used in errors and, when it is a
// store path or basename "<hash>-<name>.drv", to set Name (as Nix does);
// otherwise Name falls back to env "name". The parser is strict: it rejects
// anything Nix's writer could not have produced (unsorted or duplicate
// entries, trailing data, relative paths, malformed output hashes).
func Parse(file string, data []byte) (*Derivation, error) {
	p := &parser{file: file, s: data}
	d, err := p.derivation()
	if err != nil {
		return nil, err
	}
	d.Name = nameFromFile(file, d.Env["name"])
	return d, nil
}

func nameFromFile(file, fallback string) string {
	base := file
	if i := strings.LastIndexByte(base, '/'); i >= 0 {
		base = base[i+1:]
	}
	if sp, err := storepath.ParseBaseName(base); err == nil && sp.IsDerivation() {
		return strings.TrimSuffix(sp.Name, ".drv")
	}
	return fallback
}

type parser struct {
	file string
	s    []byte
	pos  int
}

func (p *parser) fail(format string, args ...any) error {
	return &ParseError{File: p.file, Offset: p.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) expect(tok string) error {
	if !strings.HasPrefix(string(p.s[p.pos:min(len(p.s), p.pos+len(tok))]), tok) {
		got := string(p.s[p.pos:min(len(p.s), p.pos+len(tok))])
		return p.fail("expected %q, got %q", tok, got)
	}
	p.pos += len(tok)
	return nil
}

func (p *parser) peek(c byte) bool { return p.pos < len(p.s) && p.s[p.pos] == c }

// str parses a quoted string, decoding \n, \r, \t and \X -> X.
func (p *parser) str() (string, error) {
	if err := p.expect(`"`); err != nil {
		return "", err
	}
	start := p.pos
	var b []byte
	for {
		if p.pos >= len(p.s) {
			p.pos = start
			return "", p.fail("unterminated string")
		}
		c := p.s[p.pos]
		p.pos++
		switch c {
		case '"':
			return string(b), nil
		case '\\':
			if p.pos >= len(p.s) {
				return "", p.fail("unterminated escape")
			}
			e := p.s[p.pos]
			p.pos++
			switch e {
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			default:
				b = append(b, e)
			}
		default:
			b = append(b, c)
		}
	}
}

func (p *parser) path() (string, error) {
	at := p.pos
	s, err := p.str()
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(s, "/") {
		p.pos = at
		return "", p.fail("bad path %q in derivation", s)
	}
	return s, nil
}

// list parses "[" item ("," item)* "]".
func (p *parser) list(item func() error) error {
	if err := p.expect("["); err != nil {
		return err
	}
	if p.peek(']') {
		p.pos++
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		if p.peek(',') {
			p.pos++
			continue
		}
		return p.expect("]")
	}
}

// sortedList parses a list whose items each begin with a key, read by key,
// and rejects keys that are duplicated or not sorted; rest parses the
// remainder of the item.
func (p *parser) sortedList(what string, key func() (string, error), rest func(k string) error) error {
	var prev string
	first := true
	return p.list(func() error {
		k, err := key()
		if err != nil {
			return err
		}
		if !first && k <= prev {
			return p.fail("%s %q is duplicated or not sorted (after %q)", what, k, prev)
		}
		prev, first = k, false
		return rest(k)
	})
}

// tupleKey reads "(" and then a key with key: the start of a tuple item.
func (p *parser) tupleKey(key func() (string, error)) func() (string, error) {
	return func() (string, error) {
		if err := p.expect("("); err != nil {
			return "", err
		}
		return key()
	}
}

func (p *parser) derivation() (*Derivation, error) {
	d := &Derivation{Outputs: map[string]Output{}, InputDrvs: map[string][]string{}, Env: map[string]string{}}
	if err := p.expect("Derive("); err != nil {
		return nil, err
	}
	var at int
	err := p.sortedList("output", p.tupleKey(func() (string, error) {
		at = p.pos
		return p.str()
	}), func(id string) error {
		if id == "" {
			p.pos = at
			return p.fail("empty output name")
		}
		var o Output
		if err := p.expect(","); err != nil {
			return err
		}
		var err error
		if p.peek('"') && p.pos+1 < len(p.s) && p.s[p.pos+1] == '"' {
			p.pos += 2 // empty path: deferred or floating output
		} else if o.Path, err = p.path(); err != nil {
			return err
		}
		if err := p.expect(","); err != nil {
			return err
		}
		at = p.pos
		if o.HashAlgo, err = p.str(); err != nil {
			return err
		}
		if err := p.expect(","); err != nil {
			return err
		}
		if o.Hash, err = p.str(); err != nil {
			return err
		}
		if err := validateOutput(o); err != nil {
			p.pos = at
			return p.fail("output %q: %v", id, err)
		}
		d.Outputs[id] = o
		return p.expect(")")
	})
	if err != nil {
		return nil, err
	}
	if err := p.expect(","); err != nil {
		return nil, err
	}
	err = p.sortedList("input derivation", p.tupleKey(p.path), func(drv string) error {
		if err := p.expect(","); err != nil {
			return err
		}
		var outs []string
		err := p.sortedList("input output", p.str, func(o string) error {
			outs = append(outs, o)
			return nil
		})
		if err != nil {
			return err
		}
		d.InputDrvs[drv] = outs
		return p.expect(")")
	})
	if err != nil {
		return nil, err
	}
	if err := p.expect(","); err != nil {
		return nil, err
	}
	err = p.sortedList("input source", p.path, func(s string) error {
		d.InputSrcs = append(d.InputSrcs, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := p.expect(","); err != nil {
		return nil, err
	}
	if d.Platform, err = p.str(); err != nil {
		return nil, err
	}
	if err := p.expect(","); err != nil {
		return nil, err
	}
	if d.Builder, err = p.str(); err != nil {
		return nil, err
	}
	if err := p.expect(","); err != nil {
		return nil, err
	}
	d.Args = []string{}
	err = p.list(func() error {
		a, err := p.str()
		d.Args = append(d.Args, a)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := p.expect(","); err != nil {
		return nil, err
	}
	err = p.sortedList("env var", p.tupleKey(p.str), func(k string) error {
		if err := p.expect(","); err != nil {
			return err
		}
		var err error
		if d.Env[k], err = p.str(); err != nil {
			return err
		}
		return p.expect(")")
	})
	if err != nil {
		return nil, err
	}
	if err := p.expect(")"); err != nil {
		return nil, err
	}
	if p.pos != len(p.s) {
		return nil, p.fail("trailing data after derivation")
	}
	return d, nil
}

// validateOutput checks the output forms Nix 2.8 accepts (spec §3.1).
func validateOutput(o Output) error {
	if o.HashAlgo == "" {
		if o.Hash != "" {
			return fmt.Errorf("hash %q without hash algorithm", o.Hash)
		}
		return nil // input-addressed, or deferred when Path is empty
	}
	_, a, err := ParseHashAlgo(o.HashAlgo)
	if err != nil {
		return err
	}
	switch o.Hash {
	case "", "impure":
		if o.Path != "" {
			return fmt.Errorf("floating or impure output must not have a path")
		}
		return nil
	}
	if o.Path == "" {
		return fmt.Errorf("fixed output has no path")
	}
	if _, err := hash.ParseNonSRIUnprefixed(o.Hash, a); err != nil {
		return err
	}
	return nil
}
