package syntax

import (
	"strings"
	"testing"
)

// A NUL byte cannot be part of a Nix string: current Nix's lexer rejects it
// (official tests eval-fail-string-nul-1 and -2), naming the string with the
// NUL shown as U+2400 and pointing at the start of the string piece.
func TestNulInStringIsAnError(t *testing.T) {
	for _, tc := range []struct {
		src       string
		line, col int32
	}{
		{"\"foo\x00bar\"", 1, 2},
		{"''\n  foo\n  \x00\n  bar\n''\n", 2, 1},
		{"x: \"a${x}b\x00\"", 1, 10},
	} {
		_, err := Parse(&File{Name: "t.nix", Dir: "/", Src: []byte(tc.src)})
		e, ok := err.(*Error)
		if !ok {
			t.Errorf("%q: got %v, want a parse error", tc.src, err)
			continue
		}
		if !strings.Contains(e.Msg, "cannot be represented as Nix string because it contains null bytes") || !strings.Contains(e.Msg, "\u2400") {
			t.Errorf("%q: message %q", tc.src, e.Msg)
		}
		if e.Pos.Line != tc.line || e.Pos.Col != tc.col {
			t.Errorf("%q: at %d:%d, want %d:%d", tc.src, e.Pos.Line, e.Pos.Col, tc.line, tc.col)
		}
	}
}
