package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestInstantiateDrvDifferential instantiates the shared derivation vectors
// into a temporary onix store and compares the printed paths, the .drv
// bytes and the references (as Nix's nix-store reads them) with Nix.
func TestInstantiateDrvDifferential(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "testdata", "nix-vectors", "derivations"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("skipping: vectors not found at %s", dir)
	}
	if _, err := exec.LookPath("nix-instantiate"); err != nil {
		t.Skip("skipping: nix-instantiate not installed")
	}
	wd, _ := os.Getwd()
	defer func() { _ = os.Chdir(wd) }()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	onixRoot, nixRoot := filepath.Join(tmp, "onix"), filepath.Join(tmp, "nix")
	env := append(os.Environ(), "HOME="+tmp, "XDG_CACHE_HOME="+tmp+"/cache", "NIX_PATH=")
	nix := func(root string, args ...string) string {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(env, "NIX_REMOTE=local?root="+root)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	files, _ := filepath.Glob("[0-9]*.nix")
	files = append(files, "02-multi-output.nix -A dev")
	for _, f := range files {
		args := strings.Fields(f)
		var stdout, stderr bytes.Buffer
		code := runInstantiate(context.Background(), append([]string{"--store", onixRoot}, args...), nil, &stdout, &stderr)
		if code != 0 {
			t.Errorf("%s: exit %d: %s", f, code, stderr.String())
			continue
		}
		got := strings.TrimSpace(stdout.String())
		want := nix(nixRoot, append([]string{"nix-instantiate"}, args...)...)
		if got != want {
			t.Errorf("%s: printed %q, nix-instantiate printed %q", f, got, want)
			continue
		}
		drv, _, _ := strings.Cut(got, "!")
		a, err1 := os.ReadFile(onixRoot + drv)
		b, err2 := os.ReadFile(nixRoot + drv)
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s: .drv bytes differ (%v, %v)", f, err1, err2)
		}
		ra := strings.Fields(nix(onixRoot, "nix-store", "-q", "--references", drv))
		rb := strings.Fields(nix(nixRoot, "nix-store", "-q", "--references", drv))
		sort.Strings(ra)
		sort.Strings(rb)
		if strings.Join(ra, " ") != strings.Join(rb, " ") {
			t.Errorf("%s: references %v, Nix %v", f, ra, rb)
		}
	}
}
