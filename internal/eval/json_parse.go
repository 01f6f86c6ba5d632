package eval

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// jsonParser is builtins.fromJSON's fast path: it builds values straight
// from the text. It handles well-formed input whose strings are valid UTF-8
// and free of NUL bytes and lone surrogates; on anything else it gives up
// (ok false) and the encoding/json path, which produces the error messages
// and replacement-character behaviour, runs instead.
type jsonParser struct {
	ev    *Evaluator
	s     string
	i     int
	depth int
	stack []*Value // elements of the lists being parsed
	attrs []Attr   // attributes of the sets being parsed
	slab  []Value
}

type jsonFail struct{}

func (ev *Evaluator) fromJSONFast(s string) (v *Value, ok bool) {
	p := &jsonParser{ev: ev, s: s}
	defer func() {
		if r := recover(); r != nil {
			if _, is := r.(jsonFail); !is {
				panic(r)
			}
			v, ok = nil, false
		}
	}()
	p.ws()
	v = p.value()
	p.ws()
	if p.i != len(p.s) {
		return nil, false
	}
	return v, true
}

func (p *jsonParser) fail() { panic(jsonFail{}) }

func (p *jsonParser) cell() *Value {
	if len(p.slab) == 0 {
		p.slab = make([]Value, 128)
	}
	v := &p.slab[0]
	p.slab = p.slab[1:]
	return v
}

func (p *jsonParser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) lit(word string, v *Value) *Value {
	if !strings.HasPrefix(p.s[p.i:], word) {
		p.fail()
	}
	p.i += len(word)
	return v
}

func (p *jsonParser) value() *Value {
	if p.i >= len(p.s) {
		p.fail()
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s := p.str()
		if s == "" {
			return emptyStr
		}
		v := p.cell()
		*v = Value{kind: KString, n: int64(len(s)), p: unsafePtrString(s)}
		return v
	case c == 't':
		return p.lit("true", valTrue)
	case c == 'f':
		return p.lit("false", valFalse)
	case c == 'n':
		return p.lit("null", valNull)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	p.fail()
	return nil
}

func (p *jsonParser) enter() {
	p.depth++
	if p.depth > 10000 {
		p.fail()
	}
}

func (p *jsonParser) array() *Value {
	p.enter()
	p.i++
	base := len(p.stack)
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		p.depth--
		return emptyLst
	}
	for {
		p.ws()
		p.stack = append(p.stack, p.value())
		if !p.more(']') {
			break
		}
	}
	out := make([]*Value, len(p.stack)-base)
	copy(out, p.stack[base:])
	clear(p.stack[base:])
	p.stack = p.stack[:base]
	p.depth--
	return MkList(out)
}

// more consumes what follows an array element or object member: a comma
// (more follow: true) or the closing byte (false); anything else fails.
func (p *jsonParser) more(closing byte) bool {
	p.ws()
	if p.i >= len(p.s) {
		p.fail()
	}
	switch p.s[p.i] {
	case ',':
		p.i++
		return true
	case closing:
		p.i++
		return false
	}
	p.fail()
	return false
}

func (p *jsonParser) object() *Value {
	p.enter()
	p.i++
	base := len(p.attrs)
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		p.depth--
		return MkAttrs(&Attrs{})
	}
	for {
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			p.fail()
		}
		k := p.str()
		sym, ok := p.ev.syms.Lookup(k)
		if !ok {
			sym = p.ev.syms.Intern(strings.Clone(k))
		}
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			p.fail()
		}
		p.i++
		p.ws()
		v := p.value()
		p.attrs = append(p.attrs, Attr{Name: sym, Val: v})
		if !p.more('}') {
			break
		}
	}
	l := make([]Attr, len(p.attrs)-base)
	copy(l, p.attrs[base:])
	clear(p.attrs[base:])
	p.attrs = p.attrs[:base]
	p.depth--
	return MkAttrs(newAttrs(l))
}

// str parses a string literal at p.i (a '"').
func (p *jsonParser) str() string {
	p.i++
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			s := p.s[start:p.i]
			p.i++
			return s
		case c == '\\':
			return p.strEscaped(start)
		case c < 0x20:
			p.fail()
		case c >= 0x80:
			r, n := utf8.DecodeRuneInString(p.s[p.i:])
			if r == utf8.RuneError && n <= 1 {
				p.fail()
			}
			p.i += n
			continue
		}
		p.i++
	}
	p.fail()
	return ""
}

func (p *jsonParser) strEscaped(start int) string {
	b := []byte(p.s[start:p.i])
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			if len(b) == 0 {
				return ""
			}
			return unsafeString(b)
		case c == '\\':
			if p.i+1 >= len(p.s) {
				p.fail()
			}
			e := p.s[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r := p.hex4()
				if utf16.IsSurrogate(r) {
					if !strings.HasPrefix(p.s[p.i:], `\u`) {
						p.fail()
					}
					p.i += 2
					r = utf16.DecodeRune(r, p.hex4())
					if r == utf8.RuneError {
						p.fail()
					}
				}
				if r == 0 {
					p.fail()
				}
				b = utf8.AppendRune(b, r)
			default:
				p.fail()
			}
			continue
		case c < 0x20:
			p.fail()
		case c >= 0x80:
			r, n := utf8.DecodeRuneInString(p.s[p.i:])
			if r == utf8.RuneError && n <= 1 {
				p.fail()
			}
			b = append(b, p.s[p.i:p.i+n]...)
			p.i += n
			continue
		}
		b = append(b, c)
		p.i++
	}
	p.fail()
	return ""
}

func (p *jsonParser) hex4() rune {
	if p.i+4 > len(p.s) {
		p.fail()
	}
	n, err := strconv.ParseUint(p.s[p.i:p.i+4], 16, 32)
	if err != nil {
		p.fail()
	}
	p.i += 4
	return rune(n)
}

func (p *jsonParser) number() *Value {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.s) && p.s[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		p.fail()
	}
	isInt := true
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		isInt = false
		if digits() == 0 {
			p.fail()
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		isInt = false
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			p.fail()
		}
	}
	t := p.s[start:p.i]
	if isInt {
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			p.fail() // out of range: the slow path reports it
		}
		if n >= -1 && n < 1024 {
			return MkInt(n)
		}
		v := p.cell()
		*v = Value{kind: KInt, n: n}
		return v
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		p.fail()
	}
	return MkFloat(f)
}

// unsafeString views b (which must not change afterwards) as a string.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// unsafePtrString is a string's data pointer, for a KString Value.
func unsafePtrString(s string) unsafe.Pointer { return unsafe.Pointer(unsafe.StringData(s)) }
