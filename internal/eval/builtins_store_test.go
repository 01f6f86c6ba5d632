package eval

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStoreBuiltinsDifferential compares toFile, path, filterSource,
// storePath, placeholder and path coercion with Nix.
func TestStoreBuiltinsDifferential(t *testing.T) {
	dir := t.TempDir()
	_ = os.MkdirAll(filepath.Join(dir, "src", "sub"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "src", "a.txt"), []byte("a\n"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "src", "sub", "b.sh"), []byte("b\n"), 0o755)
	_ = os.Symlink("a.txt", filepath.Join(dir, "src", "l"))
	exprs := []string{
		`builtins.toFile "t.txt" "hello"`,
		`builtins.toFile "r.txt" "${./src/a.txt} ${builtins.toFile "x" "y"}"`,
		`builtins.getContext (builtins.toFile "r.txt" "${./src}")`,
		`"${./src}"`,
		`builtins.path { path = ./src; }`,
		`builtins.path { path = ./src/a.txt; recursive = false; name = "flat"; }`,
		`builtins.path { path = ./src; filter = p: t: t == "directory" || baseNameOf p == "b.sh"; }`,
		`builtins.filterSource (p: t: t != "symlink") ./src`,
		`builtins.placeholder "dev"`,
	}
	for _, e := range exprs {
		want := nixInstantiate(t, dir, e)
		got := evalJSON(t, Options{}, e, dir)
		if !jsonEqual(t, got, want) {
			t.Errorf("%s\n got %s\nwant %s", e, got, want)
		}
	}
}

func TestStorePath(t *testing.T) {
	got := evalJSON(t, Options{}, `let s = builtins.storePath "/nix/store/v17r5l1xbgiqdravaj0dra2js09d47h6-plain/sub"; in [ s (builtins.getContext s) ]`, "/")
	want := `["/nix/store/v17r5l1xbgiqdravaj0dra2js09d47h6-plain/sub",{"/nix/store/v17r5l1xbgiqdravaj0dra2js09d47h6-plain":{"path":true}}]`
	if !jsonEqual(t, got, want) {
		t.Errorf("got %s want %s", got, want)
	}
	ev := New(context.Background(), Options{Paths: ReadOnlyPaths{}, Stderr: io.Discard})
	if _, err := ev.EvalString(`builtins.storePath /tmp/x`, "«test»", "/"); err == nil || !strings.Contains(err.Error(), "is not in the Nix store") {
		t.Errorf("error %v", err)
	}
}

func TestPathSha256Check(t *testing.T) {
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "a"), []byte("a\n"), 0o644)
	ev := New(context.Background(), Options{Paths: ReadOnlyPaths{}, Stderr: io.Discard})
	_, err := ev.EvalString(`builtins.path { path = ./a; sha256 = "0000000000000000000000000000000000000000000000000000"; }`, "«test»", dir)
	if err == nil || !strings.Contains(err.Error(), "store path mismatch") {
		t.Errorf("error %v", err)
	}
	_, err = ev.EvalString(`builtins.path { path = ./a; filter = p: t: throw "boom"; }`, "«test»", dir)
	if err != nil {
		t.Errorf("filter is not called for the root of a file: %v", err)
	}
	_ = os.MkdirAll(filepath.Join(dir, "d"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "d", "x"), nil, 0o644)
	_, err = ev.EvalString(`builtins.path { path = ./d; filter = p: t: throw "boom"; }`, "«test»", dir)
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("filter error not propagated: %v", err)
	}
}
