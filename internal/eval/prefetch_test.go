package eval

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// writeTree writes files (relative name → text) under a new directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	return dir
}

// TestPrefetchImports evaluates a tree of files that import each other
// through path literals (so the prefetcher parses them ahead) and checks
// the result and that the prefetcher did take part.
func TestPrefetchImports(t *testing.T) {
	files := map[string]string{
		"default.nix":     `let parts = map (f: import f) [ ./a.nix ./sub ./c.nix ]; in builtins.foldl' (x: y: x + y) 0 parts`,
		"a.nix":           `1 + import ./deep/d.nix`,
		"sub/default.nix": `10`,
		"c.nix":           `100`,
		"deep/d.nix":      `1000`,
		// named by a literal but never imported, with a syntax error: must
		// not matter
		"unused.nix": `{ this is not nix`,
	}
	files["default.nix"] = `let _ = ./unused.nix; ` + strings.TrimPrefix(files["default.nix"], "let ")
	dir := writeTree(t, files)
	for i := 0; i < 20; i++ { // the background timing differs run to run
		ev := New(context.Background(), Options{})
		v, err := ev.EvalFile(filepath.Join(dir, "default.nix"))
		if err != nil {
			t.Fatal(err)
		}
		if err := ev.ForceDeep(v); err != nil {
			t.Fatal(err)
		}
		if got := v.Int(); got != 1111 {
			t.Fatalf("run %d: got %d, want 1111", i, got)
		}
		if ev.pf == nil && !ev.noPrefetch {
			t.Fatal("no prefetcher was used")
		}
	}
}

// TestPrefetchErrorsUnchanged: a syntax error in an imported file is
// reported the same way whether or not the file was parsed ahead.
func TestPrefetchErrorsUnchanged(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"default.nix": `let f = ./bad.nix; in builtins.seq (builtins.length (builtins.genList (x: x) 1000)) (import f)`,
		"bad.nix":     "{\n  a = 1;\n  b = ;\n}\n",
	})
	var msgs []string
	for i := 0; i < 10; i++ {
		ev := New(context.Background(), Options{})
		_, err := ev.EvalFile(filepath.Join(dir, "default.nix"))
		if err == nil {
			t.Fatal("no error for a syntax error")
		}
		msgs = append(msgs, err.Error())
	}
	for _, m := range msgs {
		if m != msgs[0] {
			t.Fatalf("error differs between runs:\n%s\n---\n%s", m, msgs[0])
		}
	}
	if !strings.Contains(msgs[0], "bad.nix") || !strings.Contains(msgs[0], "3") {
		t.Fatalf("error does not name the file and line: %s", msgs[0])
	}
}

// TestPrefetchManyFiles imports a chain of files, each naming the next.
func TestPrefetchManyFiles(t *testing.T) {
	files := map[string]string{}
	const n = 200
	for i := 0; i < n; i++ {
		files[fmt.Sprintf("f%d.nix", i)] = fmt.Sprintf("1 + import ./f%d.nix", i+1)
	}
	files[fmt.Sprintf("f%d.nix", n)] = "0"
	dir := writeTree(t, files)
	ev := New(context.Background(), Options{})
	v, err := ev.EvalFile(filepath.Join(dir, "f0.nix"))
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Int(); got != n {
		t.Fatalf("got %d, want %d", got, n)
	}
}

// TestPrefetcherTake drives the prefetcher directly: files named by path
// literals are parsed in the background, and take returns their trees; a
// file with a syntax error, a non-Nix file and a missing file are not
// taken (the evaluator then reads them itself).
func TestPrefetcherTake(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"a.nix":         `import ./b.nix`,
		"b.nix":         `{ x = 1; }`,
		"bad.nix":       `{ x = ; }`,
		"data.txt":      `hello`,
		"d/default.nix": `42`,
	})
	pf := &prefetcher{maxWorkers: 2, seen: map[string]bool{}, entries: map[string]*prefetchEntry{}}
	j := func(n string) string { return filepath.Join(dir, n) }
	pf.add([]string{j("a.nix"), j("bad.nix"), j("data.txt"), j("missing.nix"), j("d")})
	// wait until the workers are idle (b.nix is queued by a.nix's worker)
	for {
		pf.mu.Lock()
		idle := pf.workers == 0 && len(pf.queue) == 0
		pf.mu.Unlock()
		if idle {
			break
		}
		runtime.Gosched()
	}
	for _, name := range []string{"a.nix", "b.nix", "d/default.nix"} {
		f, e, _, ok := pf.take(j(name))
		if !ok || e == nil || f == nil || f.Name != j(name) {
			t.Errorf("%s: not prefetched (ok=%v)", name, ok)
		}
	}
	for _, name := range []string{"bad.nix", "data.txt", "missing.nix", "c.nix"} {
		if _, _, _, ok := pf.take(j(name)); ok {
			t.Errorf("%s: taken from the prefetcher", name)
		}
	}
	// a file taken over by the evaluator is not parsed later
	pf.add([]string{j("late.nix")})
	if _, _, _, ok := pf.take(j("late.nix")); ok {
		t.Errorf("late.nix: taken")
	}
}
