package eval

import (
	"context"
	"testing"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

// Hand-built trees, independent of the parser.
func v(n string) *syntax.Var                            { return &syntax.Var{Name: n} }
func i(n int64) *syntax.Int                             { return &syntax.Int{Val: n} }
func call(f syntax.Expr, a ...syntax.Expr) *syntax.Call { return &syntax.Call{Fn: f, Args: a} }

func TestASTFib(t *testing.T) {
	// let fib = n: if n < 2 then n else fib (n - 1) + fib (n - 2); in fib 20
	fib := &syntax.Lambda{Arg: "n", Name: "fib", Body: &syntax.If{
		Cond: call(v("__lessThan"), v("n"), i(2)),
		Then: v("n"),
		Else: &syntax.ConcatStrings{Parts: []syntax.Expr{
			call(v("fib"), call(v("__sub"), v("n"), i(1))),
			call(v("fib"), call(v("__sub"), v("n"), i(2))),
		}},
	}}
	e := &syntax.Let{Attrs: &syntax.AttrSet{Attrs: []*syntax.Binding{{Name: "fib", Value: fib}}}, Body: call(v("fib"), i(20))}
	ev := New(context.Background(), Options{})
	r, err := ev.EvalExpr(e)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := ev.PrintValue(r, true); s != "6765" {
		t.Fatalf("got %s", s)
	}
}

func TestASTAttrsAndErrors(t *testing.T) {
	ev := New(context.Background(), Options{})
	// rec { a = 1; b = a + 1; c = { x = b; }; } with printing
	e := &syntax.AttrSet{Rec: true, Attrs: []*syntax.Binding{
		{Name: "a", Value: i(1)},
		{Name: "b", Value: &syntax.ConcatStrings{Parts: []syntax.Expr{v("a"), i(1)}}},
		{Name: "c", Value: &syntax.AttrSet{Attrs: []*syntax.Binding{{Name: "x", Value: v("b")}}}},
		{Name: "s", Value: &syntax.String{Val: "a\n${"}},
		{Name: "l", Value: &syntax.List{Elems: []syntax.Expr{i(1), &syntax.Float{Val: 1.0 / 3}, v("null")}}},
	}}
	r, err := ev.EvalExpr(e)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ev.PrintValue(r, true)
	if err != nil || s != `{ a = 1; b = 2; c = { x = 2; }; l = [ 1 0.333333 null ]; s = "a\n\${"; }` {
		t.Fatalf("got %s %v", s, err)
	}
	// rec { a = a; }.a → infinite recursion
	e2 := &syntax.Select{E: &syntax.AttrSet{Rec: true, Attrs: []*syntax.Binding{{Name: "a", Value: v("a")}}}, Path: []syntax.AttrName{{Name: "a"}}}
	_, err = ev.EvalExpr(e2)
	if err == nil || err.Error() != "infinite recursion encountered" {
		t.Fatalf("got %v", err)
	}
	// missing attribute with suggestion
	e3 := &syntax.Select{E: &syntax.AttrSet{Attrs: []*syntax.Binding{{Name: "ab", Value: i(1)}}}, Path: []syntax.AttrName{{Name: "b"}}}
	_, err = ev.EvalExpr(e3)
	if ee, ok := err.(*Error); !ok || ee.Msg != "attribute 'b' missing" || ee.Hint != "Did you mean ab?" {
		t.Fatalf("got %#v", err)
	}
	// overflow
	_, err = ev.EvalExpr(&syntax.ConcatStrings{Parts: []syntax.Expr{i(9223372036854775807), i(1)}})
	if err == nil {
		t.Fatal("no overflow error")
	}
}

func TestASTDeepRecursion(t *testing.T) {
	// count = n: if n == 0 then 0 else 1 + count (n - 1); count 9000
	// (the default MaxCallDepth is Nix's max-call-depth, 10000)
	count := &syntax.Lambda{Arg: "n", Name: "count", Body: &syntax.If{
		Cond: &syntax.BinOp{Op: syntax.OpEq, L: v("n"), R: i(0)},
		Then: i(0),
		Else: &syntax.ConcatStrings{Parts: []syntax.Expr{i(1), call(v("count"), call(v("__sub"), v("n"), i(1)))}},
	}}
	mk := func(n int64) syntax.Expr {
		return &syntax.Let{Attrs: &syntax.AttrSet{Attrs: []*syntax.Binding{{Name: "count", Value: count}}}, Body: call(v("count"), i(n))}
	}
	ev := New(context.Background(), Options{})
	r, err := ev.EvalExpr(mk(9000))
	if err != nil || r.Int() != 9000 {
		t.Fatalf("%v %v", r, err)
	}
	ev = New(context.Background(), Options{MaxCallDepth: 50000})
	if r, err = ev.EvalExpr(mk(40000)); err != nil || r.Int() != 40000 {
		t.Fatalf("%v %v", r, err)
	}
	ev = New(context.Background(), Options{MaxCallDepth: 1000})
	_, err = ev.EvalExpr(mk(5000))
	if ee, ok := err.(*Error); !ok || ee.Kind != ErrStackOverflow {
		t.Fatalf("want stack overflow, got %v", err)
	}
}

func BenchmarkASTFib30(b *testing.B) {
	fib := &syntax.Lambda{Arg: "n", Name: "fib", Body: &syntax.If{
		Cond: call(v("__lessThan"), v("n"), i(2)),
		Then: v("n"),
		Else: &syntax.ConcatStrings{Parts: []syntax.Expr{
			call(v("fib"), call(v("__sub"), v("n"), i(1))),
			call(v("fib"), call(v("__sub"), v("n"), i(2))),
		}},
	}}
	e := &syntax.Let{Attrs: &syntax.AttrSet{Attrs: []*syntax.Binding{{Name: "fib", Value: fib}}}, Body: call(v("fib"), i(30))}
	for b.Loop() {
		ev := New(context.Background(), Options{})
		if r, err := ev.EvalExpr(e); err != nil || r.Int() != 832040 {
			b.Fatal(r, err)
		}
	}
}
