package eval

import (
	"context"
	"io"
	"strings"
	"testing"
)

func TestFromTOML(t *testing.T) {
	got := evalJSON(t, Options{}, `builtins.fromTOML ''
	  a = 1
	  b.c = "x"
	  h = 0xff
	  f = 1.5
	  arr = [ 1, [ "s" ] ]
	  [t]
	  k = true
	  [[p]]
	  n = 1
	  [[p]]
	''`, "/")
	want := `{"a":1,"arr":[1,["s"]],"b":{"c":"x"},"f":1.5,"h":255,"p":[{"n":1},{}],"t":{"k":true}}`
	if !jsonEqual(t, got, want) {
		t.Errorf("got %s want %s", got, want)
	}
}

func TestFromTOMLTimestamps(t *testing.T) {
	expr := `map (x: x.value) (builtins.attrValues (builtins.fromTOML ''
	  a = 1979-05-27T07:32:00Z
	  b = 1979-05-27 00:32:00.1234-07:00
	  c = 1979-05-27T07:32:00.1
	  d = 1979-05-27
	  e = 00:32:00.1234567
	''))`
	got := evalJSON(t, Options{Features: []string{"parse-toml-timestamps"}}, expr, "/")
	want := `["1979-05-27T07:32:00Z","1979-05-27T00:32:00.123400-07:00","1979-05-27T07:32:00.100","1979-05-27","00:32:00.123456700"]`
	if !jsonEqual(t, got, want) {
		t.Errorf("got %s want %s", got, want)
	}
	ev := New(context.Background(), Options{Stderr: io.Discard})
	_, err := ev.EvalString(`builtins.fromTOML "a = 1979-05-27"`, "«test»", "/")
	if err == nil || !strings.Contains(err.Error(), "Dates and times are not supported") {
		t.Errorf("without feature: %v", err)
	}
}

func TestFromTOMLErrors(t *testing.T) {
	for _, s := range []string{`a = 9223372036854775808`, `a = -9223372036854775809`, `"a\u0000b" = 1`, `k = "a\u0000b"`, `a = `, "[a]\n[a]", "a = 1\na = 2"} {
		ev := New(context.Background(), Options{Stderr: io.Discard})
		_, err := ev.EvalString("builtins.fromTOML ''"+s+"''", "«test»", "/")
		if err == nil || !strings.Contains(err.Error(), "while parsing TOML") {
			t.Errorf("%q: error %v", s, err)
		}
	}
}

// FuzzFromTOML checks that no input makes fromTOML panic or hang.
func FuzzFromTOML(f *testing.F) {
	for _, s := range []string{"a = 1", "[t]\nk = [1, 2]", "x = 1979-05-27T07:32:00Z", "[[a]]\n[[a.b]]", `s = """x\ny"""`, "a.b.c = {d = 1}"} {
		f.Add(s)
	}
	ev := New(context.Background(), Options{Stderr: io.Discard, Features: []string{"parse-toml-timestamps"}})
	fn := ev.Builtin("fromTOML")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ev.Call(fn, MkString(s))
		if err == nil {
			_ = ev.ForceDeep(v)
		}
	})
}

// Radix integers beyond int64 clamp to the largest int64, as in Nix 2.8;
// nixpkgs lib's fromHexString (and lib/tests/misc.nix) depends on it.
// Decimal overflow stays an error (current Nix; TestFromTOMLErrors).
func TestFromTOMLRadixClamp(t *testing.T) {
	got := evalJSON(t, Options{}, `builtins.fromTOML ''
	  h = 0x9f86d081884c7d65
	  o = 0o7777777777777777777777
	  b = 0b11111111111111111111111111111111111111111111111111111111111111111
	  s = "0x9f86d081884c7d659f86"
	  ok = 0x10
	''`, "/")
	want := `{"b":9223372036854775807,"h":9223372036854775807,"o":9223372036854775807,"ok":16,"s":"0x9f86d081884c7d659f86"}`
	if !jsonEqual(t, got, want) {
		t.Errorf("got %s want %s", got, want)
	}
}
