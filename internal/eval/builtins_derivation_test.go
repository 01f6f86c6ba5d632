package eval

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

// vectorsDir is shared/testdata/nix-vectors beside the repository.
func vectorsDir(t *testing.T, sub string) string {
	t.Helper()
	d, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "testdata", "nix-vectors", sub))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d); err != nil {
		t.Skipf("skipping: Nix vectors not found at %s (%v)", d, err)
	}
	return d
}

// memStore is an in-memory Store recording what evaluation writes.
type memStore struct {
	sd    storepath.StoreDir
	files map[string]string
	refs  map[string][]string
}

func newMemStore() *memStore {
	return &memStore{sd: "/nix/store", files: map[string]string{}, refs: map[string][]string{}}
}

func (m *memStore) AddText(name, text string, refs []string) (string, error) {
	sp, err := m.sd.MakeTextPath(name, hash.SumString(hash.SHA256, text), refs)
	if err != nil {
		return "", err
	}
	p := m.sd.Path(sp)
	m.files[p], m.refs[p] = text, refs
	return p, nil
}

func (m *memStore) AddPath(name, src string, recursive bool, filter func(string, os.FileMode) bool) (string, error) {
	return ComputeStorePath(context.Background(), m.sd, name, src, recursive, filter)
}

func (m *memStore) WriteDerivation(name, aterm string, refs []string) (string, error) {
	return m.AddText(name, aterm, refs)
}

func evalJSON(t *testing.T, opts Options, expr, dir string) string {
	t.Helper()
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	if opts.Store == nil && opts.Paths == nil {
		opts.Paths = ReadOnlyPaths{}
	}
	ev := New(context.Background(), opts)
	v, err := ev.EvalString(expr, "«test»", dir)
	if err != nil {
		t.Fatalf("eval %s: %v", expr, err)
	}
	s, err := ev.ToJSON(v, false)
	if err != nil {
		t.Fatalf("toJSON %s: %v", expr, err)
	}
	return s
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("bad JSON %q: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("bad JSON %q: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

const pathsExpr = `let d = import ./%s; in {
  drvPath = d.drvPath;
  outputs = builtins.listToAttrs (map (o: { name = o; value = d.${o}.outPath; }) (d.outputs or [ "out" ]));
}`

// TestDerivationVectors checks drvPath/outPath of every vector against
// Nix's, in read-only mode, and the .drv bytes written through a Store.
func TestDerivationVectors(t *testing.T) {
	dir := vectorsDir(t, "derivations")
	files, _ := filepath.Glob(filepath.Join(dir, "[0-9]*.nix"))
	if len(files) < 17 {
		t.Fatalf("expected 17 vectors, found %d", len(files))
	}
	for _, f := range files {
		n := strings.TrimSuffix(filepath.Base(f), ".nix")
		t.Run(n, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(dir, "out", n+".paths.json"))
			if err != nil {
				t.Fatal(err)
			}
			expr := strings.Replace(pathsExpr, "%s", filepath.Base(f), 1)
			got := evalJSON(t, Options{}, expr, dir)
			if !jsonEqual(t, got, string(want)) {
				t.Errorf("read-only: got %s\nwant %s", got, want)
			}
			ms := newMemStore()
			got = evalJSON(t, Options{Store: ms}, expr, dir)
			if !jsonEqual(t, got, string(want)) {
				t.Errorf("with store: got %s\nwant %s", got, want)
			}
			var paths struct{ DrvPath string }
			_ = json.Unmarshal(want, &paths)
			wantDrv, err := os.ReadFile(filepath.Join(dir, "out", n+".drv"))
			if err != nil {
				t.Fatal(err)
			}
			if ms.files[paths.DrvPath] != string(wantDrv) {
				t.Errorf(".drv differs:\n got %q\nwant %q", ms.files[paths.DrvPath], wantDrv)
			}
		})
	}
}

func TestDerivationWrapperAndContexts(t *testing.T) {
	expr := `let d = derivation { name = "x"; system = "s"; builder = "/b"; outputs = [ "out" "dev" ]; }; in {
	  type = d.type; outputName = d.outputName; devName = d.dev.outputName;
	  all = map (x: x.outputName) d.all; same = d.dev.drvPath == d.drvPath;
	  ctxDrv = builtins.attrNames (builtins.getContext d.drvPath);
	  ctxOut = builtins.getContext d.dev.outPath;
	  ph = builtins.placeholder "out";
	}`
	got := evalJSON(t, Options{}, expr, "/")
	var r map[string]any
	_ = json.Unmarshal([]byte(got), &r)
	if r["type"] != "derivation" || r["outputName"] != "out" || r["devName"] != "dev" || r["same"] != true {
		t.Fatalf("wrapper attrs wrong: %s", got)
	}
	if !reflect.DeepEqual(r["all"], []any{"out", "dev"}) {
		t.Errorf("all = %v", r["all"])
	}
	if r["ph"] != "/1rz4g4znpzjwh1xymhjpm42vipw92pr73vdgl6xs1hycac8kf2n9" {
		t.Errorf("placeholder = %v", r["ph"])
	}
	ctxOut, _ := r["ctxOut"].(map[string]any)
	if len(ctxOut) != 1 {
		t.Fatalf("ctxOut = %v", r["ctxOut"])
	}
	for _, v := range ctxOut {
		if !reflect.DeepEqual(v, map[string]any{"outputs": []any{"dev"}}) {
			t.Errorf("output context = %v", v)
		}
	}
}

func TestDerivationErrors(t *testing.T) {
	cases := map[string]string{
		`derivationStrict { name = "a"; system = "s"; }`:                                                                                                             "required attribute 'builder' missing",
		`derivationStrict { name = "a"; builder = "b"; }`:                                                                                                            "required attribute 'system' missing",
		`derivationStrict { name = "a.drv"; builder = "b"; system = "s"; }`:                                                                                          "not allowed to end in '.drv'",
		`derivationStrict { name = "a"; builder = "b"; system = "s"; outputs = ["a" "a"]; }`:                                                                         "duplicate derivation output 'a'",
		`derivationStrict { name = "a"; builder = "b"; system = "s"; outputs = []; }`:                                                                                "empty set of outputs",
		`derivationStrict { name = "a"; builder = "b"; system = "s"; outputHashMode = "x"; }`:                                                                        "invalid value 'x' for 'outputHashMode'",
		`derivationStrict { name = "a"; builder = "b"; system = "s"; __contentAddressed = true; }`:                                                                   "ca-derivations",
		`derivationStrict { name = "a"; builder = "b"; system = "s"; outputs = ["out" "dev"]; outputHash = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; }`: "multiple outputs are not supported",
		`builtins.toFile "x" "${(derivation { name = "a"; builder = "b"; system = "s"; }).drvPath}"`:                                                                 "may not reference derivations",
		`builtins.path { path = ./.; bogus = 1; }`:                                                                                                                   "unsupported argument 'bogus'",
	}
	for expr, want := range cases {
		ev := New(context.Background(), Options{Paths: ReadOnlyPaths{}, Stderr: io.Discard})
		v, err := ev.EvalString(expr, "«test»", t.TempDir())
		if err == nil {
			err = ev.ForceDeep(v)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", expr, err, want)
		}
	}
}

// nixInstantiate runs Nix's nix-instantiate --eval --strict --json on expr
// in dir with a temporary store root, skipping when Nix is absent.
func nixInstantiate(t *testing.T, dir, expr string) string {
	t.Helper()
	out, err := nixInstantiateEnv(t, dir, expr, nil)
	if err != nil {
		t.Fatalf("nix-instantiate %s: %v\n%s", expr, err, out)
	}
	return out
}

// TestDerivationDifferential compares generated derivations with Nix.
func TestDerivationDifferential(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "sub", "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "d", "x.sh"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("d/x.sh", filepath.Join(dir, "sub", "link")); err != nil {
		t.Fatal(err)
	}
	var drvs []string
	vals := []string{`"str"`, `true`, `false`, `null`, `42`, `(-7)`, `1.5`, `[ "a" [ "b" 1 ] [ ] true ]`, `./file.txt`, `"${./sub}/d"`, `"tab\there\nnl \"q\" \\"`}
	for i, v := range vals {
		drvs = append(drvs, `derivation { name = "gen`+itoa(int64(i))+`"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" `+v+` ]; attr = `+v+`; }`)
	}
	drvs = append(drvs,
		`derivation { name = "multi"; system = "x"; builder = "/b"; outputs = [ "out" "lib" "doc" ]; __ignoreNulls = true; skip = null; }`,
		`derivation { name = "fod"; system = "x"; builder = "/b"; outputHashMode = "recursive"; outputHashAlgo = "sha256"; outputHash = "1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s"; }`,
		`derivation { name = "structured"; system = "x"; builder = "/b"; __structuredAttrs = true; outputs = [ "out" "bin" ]; l = [ 1 2.5 "s" null { a = ./file.txt; } ]; }`,
		`let a = derivation { name = "a"; system = "x"; builder = "/b"; outputs = ["out" "dev"]; }; in derivation { name = "b"; system = "x"; builder = "${a.dev}/bin/sh"; deep = a.drvPath; f = builtins.toFile "f" "${./file.txt}"; }`,
		`derivation { name = "paf"; system = "x"; builder = "/b"; passAsFile = [ "big" ]; big = "x"; p = builtins.path { path = ./sub; name = "renamed"; filter = p: t: t != "symlink"; }; fs = builtins.filterSource (p: t: baseNameOf p != "x.sh") ./sub; }`,
	)
	for _, d := range drvs {
		expr := `let d = ` + d + `; in { inherit (d) drvPath; outs = map (o: d.${o}.outPath) d.outputs or [ "out" ]; }`
		want := nixInstantiate(t, dir, expr)
		got := evalJSON(t, Options{}, expr, dir)
		if !jsonEqual(t, got, want) {
			t.Errorf("%s\n got %s\nwant %s", d, got, want)
		}
	}
}
