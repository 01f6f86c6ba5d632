// Package vectors locates the shared Nix 2.8 test vectors for tests.
//
// The vectors live outside the module (in the shared work area), so tests find
// them relative to the repository root rather than the package directory; that
// keeps the lookup working regardless of how deep a test package is nested.
package vectors

import (
	"os"
	"path/filepath"
	"testing"
)

// EnvVar overrides the vector directory, for checkouts laid out differently.
const EnvVar = "ONIX_NIX_VECTORS"

// Dir returns the nix-vectors directory, or skips the test when it is absent.
func Dir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv(EnvVar); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Skipf("nix vectors: cannot determine working directory: %v", err)
	}
	root := wd
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			t.Skipf("nix vectors: no go.mod above %s, cannot locate repo root", wd)
		}
		root = parent
	}
	d := filepath.Join(root, "..", "shared", "testdata", "nix-vectors")
	if _, err := os.Stat(filepath.Join(d, "README.md")); err != nil {
		t.Skipf("nix vectors not found at %s (set %s to override): %v", d, EnvVar, err)
	}
	return d
}

// Read returns the contents of a vector file, failing the test on error.
func Read(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(t), rel))
	if err != nil {
		t.Fatalf("read vector %s: %v", rel, err)
	}
	return b
}
