package eval

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Differential tests: the same expressions through `nix-instantiate`
// (Nix 2.8, the oracle) and through onix in process. Stdout must match
// exactly, and either both succeed or both fail.

type diffMode int

const (
	modePlain diffMode = iota // --eval --strict
	modeJSON                  // --eval --strict --json
	modeXML                   // --eval --strict --xml --no-location
)

func (m diffMode) String() string { return [...]string{"plain", "json", "xml"}[m] }

func (m diffMode) flags() []string {
	switch m {
	case modeJSON:
		return []string{"--eval", "--strict", "--json"}
	case modeXML:
		return []string{"--eval", "--strict", "--xml", "--no-location"}
	}
	return []string{"--eval", "--strict"}
}

type diffResult struct {
	out string
	ok  bool
}

func diffOracle(t testing.TB) string {
	p, err := exec.LookPath("nix-instantiate")
	if err != nil {
		t.Skip("nix-instantiate not on PATH: differential tests need it as the oracle")
	}
	return p
}

// runNix evaluates expr with nix-instantiate in dir.
func runNix(nix, dir, expr string, m diffMode) diffResult {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// a leading space keeps `-5` from being read as a flag
	cmd := exec.CommandContext(ctx, nix, append(m.flags(), "-E", " "+expr)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NIX_PATH=")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = io.Discard
	err := cmd.Run()
	s := out.String()
	if m == modeJSON && err == nil {
		// Nix 2.8 ends --json output without a newline; current Nix (and
		// onix) print one.
		s += "\n"
	}
	return diffResult{out: s, ok: err == nil}
}

// runOnix evaluates expr in process the way `onix instantiate` does.
func runOnix(dir, expr string, m diffMode) (res diffResult) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ev := New(ctx, Options{Stderr: io.Discard, Paths: ReadOnlyPaths{}, Getenv: func(string) string { return "" }})
	v, err := ev.EvalString(expr, "«string»", dir)
	if err != nil {
		return diffResult{}
	}
	var s string
	switch m {
	case modeJSON:
		s, err = ev.ToJSON(v, true)
		s += "\n"
	case modeXML:
		s, err = ev.ToXML(v, true, false)
	default:
		s, err = ev.PrintValue(v, true)
		s += "\n"
	}
	if err != nil {
		return diffResult{}
	}
	return diffResult{out: s, ok: true}
}

func readDiffExprs(t *testing.T) []string {
	f, err := os.Open(filepath.Join("testdata", "diff-exprs.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	// multi-line indented strings are written on one line with \n escapes
	// of their own; nothing to join.
	return out
}

type diffCase struct {
	expr string
	mode diffMode
}

// runDiff compares all cases, nix-instantiate runs in parallel (its
// start-up dominates).
func runDiff(t *testing.T, nix, dir string, cases []diffCase) {
	type answer struct {
		c   diffCase
		nix diffResult
	}
	answers := make([]answer, len(cases))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			answers[i] = answer{c, runNix(nix, dir, c.expr, c.mode)}
		}()
	}
	wg.Wait()
	for _, a := range answers {
		got := runOnix(dir, a.c.expr, a.c.mode)
		switch {
		case got.ok != a.nix.ok:
			t.Errorf("%s %q: nix ok=%v (%q), onix ok=%v (%q)", a.c.mode, a.c.expr, a.nix.ok, a.nix.out, got.ok, got.out)
		case got.ok && got.out != a.nix.out:
			t.Errorf("%s %q:\nnix:  %q\nonix: %q", a.c.mode, a.c.expr, a.nix.out, got.out)
		}
	}
}

func TestDiffHandWritten(t *testing.T) {
	nix := diffOracle(t)
	dir := t.TempDir()
	var cases []diffCase
	for i, e := range readDiffExprs(t) {
		cases = append(cases, diffCase{e, modePlain})
		// JSON and XML for a share of them keeps the run short.
		switch i % 3 {
		case 0:
			cases = append(cases, diffCase{e, modeJSON})
		case 1:
			cases = append(cases, diffCase{e, modeXML})
		}
	}
	runDiff(t, nix, dir, cases)
}

// exprGen generates random well-typed expressions.
type exprGen struct {
	r     *rand.Rand
	depth int
}

func (g *exprGen) intExpr(d int) string {
	if d <= 0 {
		return fmt.Sprint(g.r.Intn(200) - 100)
	}
	switch g.r.Intn(9) {
	case 0:
		return fmt.Sprintf("(%s + %s)", g.intExpr(d-1), g.intExpr(d-1))
	case 1:
		return fmt.Sprintf("(%s - %s)", g.intExpr(d-1), g.intExpr(d-1))
	case 2:
		return fmt.Sprintf("(%s * %s)", g.intExpr(d-1), g.intExpr(d-1))
	case 3:
		return fmt.Sprintf("(builtins.div %s %d)", g.intExpr(d-1), g.r.Intn(9)+1)
	case 4:
		return fmt.Sprintf("(builtins.length %s)", g.listExpr(d-1))
	case 5:
		return fmt.Sprintf("(if %s then %s else %s)", g.boolExpr(d-1), g.intExpr(d-1), g.intExpr(d-1))
	case 6:
		return fmt.Sprintf("(let x = %s; in x * 2)", g.intExpr(d-1))
	case 7:
		return fmt.Sprintf("(builtins.stringLength %s)", g.strExpr(d-1))
	}
	return fmt.Sprintf("((%s).a or 7)", g.attrsExpr(d-1))
}

func (g *exprGen) boolExpr(d int) string {
	if d <= 0 {
		return [...]string{"true", "false"}[g.r.Intn(2)]
	}
	switch g.r.Intn(6) {
	case 0:
		return fmt.Sprintf("(%s < %s)", g.intExpr(d-1), g.intExpr(d-1))
	case 1:
		return fmt.Sprintf("(%s == %s)", g.listExpr(d-1), g.listExpr(d-1))
	case 2:
		return fmt.Sprintf("(%s && %s)", g.boolExpr(d-1), g.boolExpr(d-1))
	case 3:
		return fmt.Sprintf("(!%s)", g.boolExpr(d-1))
	case 4:
		return fmt.Sprintf("(%s ? a)", g.attrsExpr(d-1))
	}
	return fmt.Sprintf("(builtins.elem %s %s)", g.intExpr(d-1), g.listExpr(d-1))
}

func (g *exprGen) strExpr(d int) string {
	if d <= 0 {
		return fmt.Sprintf("%q", []string{"", "a", "foo", "x y", "é", "a\"b", "$"}[g.r.Intn(7)])
	}
	switch g.r.Intn(5) {
	case 0:
		return fmt.Sprintf("(%s + %s)", g.strExpr(d-1), g.strExpr(d-1))
	case 1:
		return fmt.Sprintf("\"<${%s}>\"", g.strExpr(d-1))
	case 2:
		return fmt.Sprintf("(toString %s)", g.intExpr(d-1))
	case 3:
		return fmt.Sprintf("(builtins.concatStringsSep \",\" (map toString %s))", g.listExpr(d-1))
	}
	return fmt.Sprintf("(builtins.substring %d %d %s)", g.r.Intn(3), g.r.Intn(4), g.strExpr(d-1))
}

func (g *exprGen) listExpr(d int) string {
	if d <= 0 {
		n := g.r.Intn(4)
		var parts []string
		for i := 0; i < n; i++ {
			parts = append(parts, fmt.Sprint(g.r.Intn(10)))
		}
		return "[ " + strings.Join(parts, " ") + " ]"
	}
	switch g.r.Intn(5) {
	case 0:
		return fmt.Sprintf("(%s ++ %s)", g.listExpr(d-1), g.listExpr(d-1))
	case 1:
		return fmt.Sprintf("(map (x: x + %s) %s)", g.intExpr(d-1), g.listExpr(d-1))
	case 2:
		return fmt.Sprintf("(builtins.filter (x: x > %d) %s)", g.r.Intn(10), g.listExpr(d-1))
	case 3:
		return fmt.Sprintf("(builtins.sort builtins.lessThan %s)", g.listExpr(d-1))
	}
	return fmt.Sprintf("[ %s %s ]", g.intExpr(d-1), g.intExpr(d-1))
}

func (g *exprGen) attrsExpr(d int) string {
	if d <= 0 {
		return []string{"{ }", "{ a = 1; }", "{ b = 2; a = 3; }"}[g.r.Intn(3)]
	}
	switch g.r.Intn(4) {
	case 0:
		return fmt.Sprintf("(%s // %s)", g.attrsExpr(d-1), g.attrsExpr(d-1))
	case 1:
		return fmt.Sprintf("{ a = %s; s = %s; l = %s; }", g.intExpr(d-1), g.strExpr(d-1), g.listExpr(d-1))
	case 2:
		return fmt.Sprintf("(builtins.mapAttrs (n: v: v) %s)", g.attrsExpr(d-1))
	}
	return fmt.Sprintf("(rec { a = %s; b = a; } // %s)", g.intExpr(d-1), g.attrsExpr(d-1))
}

func (g *exprGen) any(d int) string {
	switch g.r.Intn(5) {
	case 0:
		return g.intExpr(d)
	case 1:
		return g.boolExpr(d)
	case 2:
		return g.strExpr(d)
	case 3:
		return g.listExpr(d)
	}
	return g.attrsExpr(d)
}

func TestDiffGenerated(t *testing.T) {
	nix := diffOracle(t)
	dir := t.TempDir()
	seed := time.Now().UnixNano()
	if s := os.Getenv("ONIX_DIFF_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (rerun with ONIX_DIFF_SEED)", seed)
	g := &exprGen{r: rand.New(rand.NewSource(seed))}
	// 300 expressions in batches of 30, each batch one list.
	var cases []diffCase
	for b := 0; b < 10; b++ {
		var parts []string
		for i := 0; i < 30; i++ {
			parts = append(parts, g.any(1+g.r.Intn(4)))
		}
		e := "[ " + strings.Join(parts, " ") + " ]"
		cases = append(cases, diffCase{e, diffMode(b % 3)})
	}
	runDiff(t, nix, dir, cases)
}
