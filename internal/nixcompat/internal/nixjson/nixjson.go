// Package nixjson writes JSON strings escaped exactly as Nix does, so that
// JSON files (show-derivation output, flake.lock, .ls listings) are
// byte-identical. Go's encoding/json differs: it escapes <, >, &, U+2028 and
// U+2029 and rewrites invalid UTF-8, none of which Nix does.
package nixjson

import "strings"

const hexDigits = "0123456789abcdef"

// Style selects the escaper: Nix's own JSON writer (json.cc, used by
// show-derivation) or nlohmann::json (flake.lock, listings).
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
