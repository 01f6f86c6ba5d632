package eval

import (
	"context"
	"io"
	"strings"
	"testing"
)

// Error messages: text, position and caret, "did you mean" hints and
// --show-trace frames.
func TestErrorMessages(t *testing.T) {
	tests := []struct {
		expr      string
		showTrace bool
		want      []string // substrings of Format's output, in order
		not       []string
	}{
		{expr: `{ abc = 1; }.abd`, want: []string{"error: attribute 'abd' missing", "at «string»:1:1:", "1| { abc = 1; }.abd", "| ^", "Did you mean abc?"}},
		{expr: `{ abc = 1; abd = 2; abx = 3; zzz = 4; }.ab`, want: []string{"attribute 'ab' missing", "Did you mean one of abc, abd or abx?"}},
		{expr: `let f = { x }: x; in f { y = 1; }`, want: []string{"called without required argument 'x'", "at «string»:1:22:"}},
		{expr: `let f = { x, ... }: x; in f { }`, want: []string{"called without required argument 'x'"}},
		{expr: `({ x }: x) { x = 1; xx = 2; }`, want: []string{"called with unexpected argument 'xx'", "Did you mean x?"}},
		{expr: `undefinedThing`, want: []string{"undefined variable 'undefinedThing'", "at «string»:1:1:"}},
		{expr: "let\n  a = 1;\nin\n  a + \"x\"", want: []string{"cannot add a string to an integer", "at «string»:4:7:", "3| in", "4|   a + \"x\"", "|       ^"}},
		{expr: `1 + "a"`, want: []string{"cannot add a string to an integer", "at «string»:1:5:"}},
		{expr: `if 1 then 2 else 3`, want: []string{"value is an integer while a Boolean was expected", "at «string»:1:4:"}},
		{expr: `assert 1 == 2; 3`, want: []string{"assertion '(1 == 2)' failed", "at «string»:1:1:"}},
		{expr: `throw "my message"`, want: []string{"error: my message"}},
		{expr: `abort "stop"`, want: []string{"evaluation aborted with the following error message: 'stop'"}},
		{expr: `let x = x; in x`, want: []string{"infinite recursion encountered"}},
		{expr: `builtins.head []`, want: []string{"error:"}},
		{expr: `let f = x: x.a; in f 1`, want: []string{"value is an integer while a set was expected"}, not: []string{"… while evaluating"}},
		{expr: `let f = x: x.a; in f 1`, showTrace: true, want: []string{"value is an integer while a set was expected", "… while evaluating 'f'", "at «string»:1:9:", "… from call site", "at «string»:1:20:"}},
		{expr: `{ a = { b = throw "deep"; }; }.a.b`, showTrace: true, want: []string{"error: deep", "… while evaluating the attribute 'a.b'"}},
		{expr: `let g = n: if n == 0 then throw "bottom" else g (n - 1); in g 3`, showTrace: true, want: []string{"bottom", "… while evaluating 'g'", "… from call site"}},
	}
	for _, tc := range tests {
		ev := New(context.Background(), Options{Stderr: io.Discard, ShowTrace: tc.showTrace})
		v, err := ev.EvalString(tc.expr, "«string»", "/")
		if err == nil {
			_, err = ev.PrintValue(v, true)
		}
		if err == nil {
			t.Errorf("%q: no error", tc.expr)
			continue
		}
		e, ok := err.(*Error)
		if !ok {
			t.Errorf("%q: error %T %v", tc.expr, err, err)
			continue
		}
		got := e.Format(tc.showTrace)
		rest := got
		for _, w := range tc.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Errorf("%q: want %q (in order) in:\n%s", tc.expr, w, got)
				break
			}
			rest = rest[i+len(w):]
		}
		for _, n := range tc.not {
			if strings.Contains(got, n) {
				t.Errorf("%q: unwanted %q in:\n%s", tc.expr, n, got)
			}
		}
	}
}

// Error kinds decide what tryEval catches.
func TestTryEvalKinds(t *testing.T) {
	for expr, want := range map[string]string{
		`(builtins.tryEval (throw "x")).success`:             "false",
		`(builtins.tryEval (assert false; 1)).success`:       "false",
		`(builtins.tryEval <nonexistent-onix-path>).success`: "false",
		`(builtins.tryEval 1).value`:                         "1",
	} {
		ev := New(context.Background(), Options{Stderr: io.Discard})
		v, err := ev.EvalString(expr, "«string»", "/")
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		if s, err := ev.PrintValue(v, true); err != nil || s != want {
			t.Errorf("%s = %q, %v; want %s", expr, s, err, want)
		}
	}
	ev := New(context.Background(), Options{Stderr: io.Discard})
	if _, err := ev.EvalString(`builtins.tryEval (abort "x")`, "«string»", "/"); err == nil {
		t.Errorf("tryEval caught abort")
	}
}
