package eval

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// FuzzEval evaluates arbitrary text. Errors are fine; panics escaping the
// evaluator, hangs and runaway memory are not. Limits: 1 s per input, a
// step budget, a small call depth, and inputs that could allocate huge
// values directly (big numeric literals) are skipped.
func FuzzEval(f *testing.F) {
	for _, s := range []string{
		`1 + 2`, `let x = 1; in x`, `rec { a = b; b = 1; }.a`, `{ a.b = 1; a.c = 2; }`,
		`builtins.map (x: x * 2) [ 1 2 3 ]`, `"${toString 1}x"`, `''a${"b"}''`,
		`with builtins; foldl' add 0 (genList (x: x) 10)`, `({ a ? 1, ... }@s: a) { }`,
		`builtins.toJSON { a = [ null true 1.5 "s" ]; }`, `builtins.fromJSON "[1,{\"a\":2}]"`,
		`builtins.match "a(b*)c" "abbc"`, `builtins.split "(,)" "a,b"`, `let f = x: f x; in f 1`,
		`builtins.tryEval (throw "x")`, `builtins.genericClosure { startSet = [ { key = 1; } ]; operator = x: [ ]; }`,
		`rec { __overrides = { a = 2; }; a = 1; }`, `let inherit ({ a = 1; }) a; in a`,
		`builtins.toXML { f = { x, ... }: x; }`, `assert 1 == 1; ./a/${"b"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 2000 || hasBigNumber(src) {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		ev := New(ctx, Options{Stderr: io.Discard, MaxCallDepth: 500, MaxSteps: 1 << 20,
			Getenv: func(string) string { return "" }, SearchPath: []string{}})
		v, err := ev.EvalString(src, "«string»", "/nonexistent-onix-fuzz")
		if err != nil {
			checkNotInternal(t, src, err)
			return
		}
		if _, err := ev.PrintValue(v, true); err != nil {
			checkNotInternal(t, src, err)
		}
		_, _ = ev.ToJSON(v, false)
		_, _ = ev.ToXML(v, true, true)
	})
}

// hasBigNumber reports an integer literal of 5 or more digits.
func hasBigNumber(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			run++
			if run >= 5 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

func checkNotInternal(t *testing.T, src string, err error) {
	if e, ok := err.(*Error); ok && strings.HasPrefix(e.Msg, "internal error") {
		t.Fatalf("%q: %v", src, err)
	}
}
