package syntax

import (
	"strings"
	"testing"
)

func parseString(t *testing.T, src string) (Expr, error) {
	t.Helper()
	f := &File{Name: "«string»", Dir: "/d", Src: []byte(src)}
	return ParseWith(f, Options{Home: "/home/u"})
}

// TestShow covers every construct, with current Nix's --parse output where
// it differs from Nix 2.8's (formals and inherits are sorted and grouped,
// `$` is escaped only before `{`, indented strings drop empty parts).
func TestShow(t *testing.T) {
	tests := []struct{ src, want string }{
		{`1`, `1`},
		{`1.5e3`, `1500`},
		{`123456789.5`, `1.23457e+08`},
		{`.5`, `0.5`},
		{`1.`, `1`},
		{`"a\nb\$c${"d"}"`, `("a\nb$c" + "d")`},
		{`"\${x}"`, `"\${x}"`},
		{`"$${x}"`, `"$\${x}"`},
		{`''a''$b''`, `("a" + "$" + "b")`},
		{"''\n  a\n    b\n  ''", `"a\n  b\n"`},
		{"''\n  ${x}\n''", `(x + "\n")`}, // current Nix drops the empty part; 2.8 printed ("" + x + "\n")
		{"''\n  ''${x}''", `("$" + "{x}")`},
		{"''\n\ta\n  b''", `"\ta\n  b"`}, // a tab is not indentation
		{"''  \n  a''", `"a"`},
		{"''''", `""`},
		{"''\n  ''", `""`},
		{"''a'''b''", `("a" + "''" + "b")`},
		{"''a''\\nb''", `("a" + "\n" + "b")`},
		{`./a/../b`, `/d/b`},
		{`/a/./b/`, ``}, // trailing slash: error (tested below)
		{`~/x`, `/home/u/x`},
		{`./a/${x}`, `(/d/a/ + x)`},
		{`./${x}.nix`, `(/d/ + x + ".nix")`},
		{`<nixpkgs/lib>`, `(__findFile __nixPath "nixpkgs/lib")`},
		{`http://a.b/c`, `"http://a.b/c"`},
		{`x:x`, `"x:x"`},
		{`{x, y, z}: x`, `({ x, y, z }: x)`},
		{`{z, y ? 1, x, ...}@a: x`, `({ x, y ? 1, z, ... } @ a: x)`},
		{`{}: 1`, `({  }: 1)`},
		{`{a,}: a`, `({ a }: a)`},
		{`let c = {}; b = 2; in { a = 1; inherit b; inherit (c) d e; f = 3; inherit (c) g; }`,
			`(let b = 2; c = { }; in { inherit b; inherit (c) d e; inherit (c) g; a = 1; f = 3; })`},
		{`{ b = 1; a = 2; "a b" = 3; "if" = 4; or = 5; }`, `{ a = 2; "a b" = 3; b = 1; "if" = 4; or = 5; }`},
		{`{ a.b = 1; a.c = 2; }`, `{ a = { b = 1; c = 2; }; }`},
		{`{ a = { b = 1; }; a.c = 2; }`, `{ a = { b = 1; c = 2; }; }`},
		{`{ a.c = 2; a = rec { b = 1; }; }`, `{ a = { b = 1; c = 2; }; }`},
		{`{ a = rec { b = 1; }; a.c = 2; }`, `{ a = rec { b = 1; c = 2; }; }`},
		{`{ ${x} = 1; "a${x}" = 2; ${"s"} = 3; "${"d"}" = 4; }`, `{ s = 3; "${x}" = 1; "${("a" + x)}" = 2; "${("d")}" = 4; }`},
		{`x.a.${"b"}."c d".${y} or 1`, `(x).a.b."c d"."${y}" or (1)`},
		{`x ? a.b`, `((x) ? a.b)`},
		{`a - b - c`, `(__sub (__sub a b) c)`},
		{`-a * b`, `(__mul (__sub 0 a) b)`},
		{`!a + b`, `(! (a + b))`},
		{`!a // b`, `((! a) // b)`},
		{`a + b + c`, `((a + b) + c)`},
		{`a ++ b ++ c`, `(a ++ (b ++ c))`},
		{`a // b // c`, `(a // (b // c))`},
		{`a -> b -> c`, `(a -> (b -> c))`},
		{`a <= b`, `(! (__lessThan b a))`},
		{`a >= b`, `(! (__lessThan a b))`},
		{`a > b`, `(__lessThan b a)`},
		{`a || b && c == d`, `(a || (b && (c == d)))`},
		{`f a b`, `(f a b)`},
		{`(f a) b`, `(f a b)`},
		{`(a - b) c`, `(__sub a b c)`},
		{`f or`, `(f or)`},
		{`f x or`, `(f (x or))`},
		{`x.or`, `(x).or`},
		{`[ a b.c (d e) ]`, `[ (a) ((b).c) ((d e)) ]`},
		{`let { a = 1; body = a; }`, `(rec { a = 1; body = a; }).body`},
		{`let in 1`, `(let in 1)`},
		{`with a; assert b; c`, `(with a; assert b; c)`},
		{`if a then b else c`, `(if a then b else c)`},
		{`__curPos`, `__curPos`},
		{`rec {}`, `rec { }`},
		{`x: y: x`, `(x: (y: x))`},
		{"# c\r\n/* d */ 1", `1`},
		{"\"a\r\nb\rc\"", `"a\nb\nc"`},
	}
	for _, tt := range tests {
		e, err := parseString(t, tt.src)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%q: want an error, got %s", tt.src, ShowString(e))
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.src, err)
			continue
		}
		if got := ShowString(e); got != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.src, got, tt.want)
		}
	}
}

// TestErrors checks messages and positions (line:col) of parse errors.
func TestErrors(t *testing.T) {
	tests := []struct{ src, msg, at string }{
		{"1 +", "syntax error, unexpected end of file", "1:4"},
		{"(\n# no content\n", "syntax error, unexpected end of file", "3:1"},
		{`a 1"$`, `syntax error, unexpected end of file, expecting '"'`, "1:6"},
		{"a.assert", `syntax error, unexpected 'assert', expecting identifier or 'or' or '${' or '"'`, "1:3"},
		{"{ 1 = x; }", "syntax error, unexpected integer, expecting 'inherit'", "1:3"},
		{"{ a ... }", "syntax error, unexpected '...', expecting '.' or '='", "1:5"},
		{"if 1 else", "syntax error, unexpected 'else', expecting 'then'", "1:6"},
		{"{x, y : 1}: x", "syntax error, unexpected ':', expecting '}' or ','", "1:7"},
		{"123 é 4", "syntax error, unexpected invalid token, expecting end of file", "1:5"},
		{"1 == 2 == 3", "syntax error, unexpected '=='", "1:8"},
		{"{ x = 1;\n  x = 2; }", "attribute 'x' already defined at «string»:1:3", "2:3"},
		{"{ a.b = 1; a.b = 2; }", "attribute 'a.b' already defined at «string»:1:3", "1:12"},
		{"{ a = 1; a.b = 2; }", "attribute 'a' already defined at «string»:1:3", "1:10"}, // 2.8: 'a.b'
		{"{ x.z = 3; x = { y = 3; z = 3; }; }", "attribute 'x.z' already defined at «string»:1:3", "1:25"},
		{"{ inherit x; inherit x; }", "attribute 'x' already defined at «string»:1:11", "1:22"},
		{"{x, y, x}: x", "duplicate formal function argument 'x'", "1:8"},
		{"args@{args, x}: x", "duplicate formal function argument 'args'", "1:1"},
		{"let ${a} = 1; in 1", "dynamic attributes not allowed in let", "1:1"},
		{"{ inherit ${a}; }", "dynamic attributes not allowed in inherit", "1:11"},
		{"9223372036854775808", "invalid integer '9223372036854775808'", "1:1"},
		{"1.0e400", "invalid float '1.0e400'", "1:1"},
		{"./a/ ", "path has a trailing slash", "1:5"},
		{"./a//b", "syntax error, unexpected end of path, expecting '${'", "1:5"},
		{"1 |> 2", "experimental Nix feature 'pipe-operators' is disabled; add '--extra-experimental-features pipe-operators' to enable it", "1:3"},
	}
	for _, tt := range tests {
		_, err := parseString(t, tt.src)
		if err == nil {
			t.Errorf("%q: no error", tt.src)
			continue
		}
		pe := err.(*Error)
		at := strings.TrimPrefix(ShowPos(pe.Pos), "«string»:")
		if pe.Msg != tt.msg || at != tt.at {
			t.Errorf("%q:\n got %s at %s\nwant %s at %s", tt.src, pe.Msg, at, tt.msg, tt.at)
		}
	}
}

func TestFormat(t *testing.T) {
	_, err := parseString(t, "1 +")
	want := "error: syntax error, unexpected end of file\n\n       at «string»:1:4:\n\n            1| 1 +\n             |    ^"
	if got := err.(*Error).Format(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	_, err = parseString(t, "{\n  a = 1;\n  a = 2;\n}")
	want = "error: attribute 'a' already defined at «string»:2:3\n\n       at «string»:3:3:\n\n            2|   a = 1;\n            3|   a = 2;\n             |   ^\n            4| }"
	if got := err.(*Error).Format(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestLambdaNames(t *testing.T) {
	e, err := parseString(t, "let f = x: x; s = { g = y: y; a.h = z: z; }; in f")
	if err != nil {
		t.Fatal(err)
	}
	l := e.(*Let)
	var names []string
	var walk func(Expr)
	walk = func(e Expr) {
		switch e := e.(type) {
		case *Lambda:
			names = append(names, e.Name)
		case *AttrSet:
			for _, b := range e.Attrs {
				walk(b.Value)
			}
		}
	}
	walk(l.Attrs)
	if got := strings.Join(names, ","); got != "f,g,h" {
		t.Errorf("lambda names %s, want f,g,h", got)
	}
}

func TestPositions(t *testing.T) {
	e, err := parseString(t, "let\n  a = 1;\nin a  +\n  b")
	if err != nil {
		t.Fatal(err)
	}
	c := e.(*Let).Body.(*ConcatStrings)
	if c.P.Line != 3 || c.P.Col != 7 {
		t.Errorf("+ at %d:%d, want 3:7", c.P.Line, c.P.Col)
	}
	if v := c.Parts[1].(*Var); v.P.Line != 4 || v.P.Col != 3 {
		t.Errorf("b at %d:%d, want 4:3", v.P.Line, v.P.Col)
	}
	if b := e.(*Let).Attrs.Attrs[0]; b.P.Line != 2 || b.P.Col != 3 {
		t.Errorf("a at %d:%d, want 2:3", b.P.Line, b.P.Col)
	}
}

func TestHomePath(t *testing.T) {
	f := &File{Name: "«string»", Dir: "/d", Src: []byte("~/a")}
	if _, err := Parse(f); err == nil {
		t.Error("~/ path without a home directory: no error")
	}
	if _, err := ParseWith(f, Options{Home: "/h", Pure: true}); err == nil {
		t.Error("~/ path in pure mode: no error")
	}
}
