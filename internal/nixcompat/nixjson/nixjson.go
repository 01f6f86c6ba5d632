// Package nixjson writes JSON strings escaped exactly as Nix does, so that
// JSON files (show-derivation output, flake.lock, .ls listings, a build's
// structured attributes) are byte-identical. Go's encoding/json differs: it
// escapes <, >, &, U+2028 and U+2029 and rewrites invalid UTF-8, none of
// which Nix does.
package nixjson

import "strings"

const hexDigits = "0123456789abcdef"

// Style selects the escaper: Nix's own JSON writer (json.cc, used by
// show-derivation) or nlohmann::json (flake.lock, listings, json.dump()).
type Style int

const (
	// NixWriter escapes ", \, \n, \r, \t and other bytes < 0x20 as \u00xx.
	NixWriter Style = iota
	// Nlohmann additionally uses the short escapes \b and \f.
	Nlohmann
)

// Quote returns s as a JSON string literal in the given style.
func Quote(s string, style Style) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	AppendQuoted(&b, s, style)
	return b.String()
}

// AppendQuoted writes s as a JSON string literal to b.
func AppendQuoted(b *strings.Builder, s string, style Style) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\b' && style == Nlohmann:
			b.WriteString(`\b`)
		case c == '\f' && style == Nlohmann:
			b.WriteString(`\f`)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// Writer pretty-prints JSON with the layout shared by Nix's JSONWriter and
// nlohmann::json::dump(2): each member on its own line, two-space indent,
// empty containers as {} / []. Strings are escaped in Writer's Style.
type Writer struct {
	Style Style
	b     strings.Builder
	count []int // members written per open container
}

func (w *Writer) indent() {
	w.b.WriteByte('\n')
	w.b.WriteString(strings.Repeat("  ", len(w.count)))
}

// Open starts a container: c is '{' or '['.
func (w *Writer) Open(c byte) {
	w.b.WriteByte(c)
	w.count = append(w.count, 0)
}

// Close ends the innermost container: c is '}' or ']'.
func (w *Writer) Close(c byte) {
	n := w.count[len(w.count)-1]
	w.count = w.count[:len(w.count)-1]
	if n > 0 {
		w.indent()
	}
	w.b.WriteByte(c)
}

// Elem starts the next member of the innermost container.
func (w *Writer) Elem() {
	if w.count[len(w.count)-1] > 0 {
		w.b.WriteByte(',')
	}
	w.count[len(w.count)-1]++
	w.indent()
}

// Key starts the next object member, named k.
func (w *Writer) Key(k string) {
	w.Elem()
	w.Str(k)
	w.b.WriteString(": ")
}

// Str writes s as a JSON string.
func (w *Writer) Str(s string) { AppendQuoted(&w.b, s, w.Style) }

// Raw writes s as is (numbers, booleans, null, a final newline).
func (w *Writer) Raw(s string) { w.b.WriteString(s) }

// Bytes returns what has been written.
func (w *Writer) Bytes() []byte { return []byte(w.b.String()) }
