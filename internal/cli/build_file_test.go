package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildFileAgainstNix evaluates a .nix file and builds it with `onix
// build`, then builds the same file with nix-build into a separate
// temporary store, and compares the output path and the NAR hash: same
// inputs must give the same bytes.
func TestBuildFileAgainstNix(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("onix build's sandbox needs root here (namespaces and uid maps)")
	}
	if _, err := exec.LookPath("nix-build"); err != nil {
		t.Skip("nix-build not on PATH (apt-get install nix-bin)")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("no /bin/busybox (apt-get install busybox-static)")
	}
	dir, file := writeBuildFixture(t)
	onixStore := filepath.Join(dir, "onix-store")
	var out, errb bytes.Buffer
	root := newRoot()
	root.SetArgs([]string{"--store", onixStore, "build", file, "-A", "top", "--no-out-link"})
	root.SetOut(&out)
	root.SetErr(&errb)
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("onix build: %v\n%s", err, errb.String())
	}
	onixOut := strings.TrimSpace(out.String())
	if !strings.HasPrefix(onixOut, "/nix/store/") || !strings.HasSuffix(onixOut, "-top") {
		t.Fatalf("onix build printed %q, want a store path of top", onixOut)
	}
	greeting, err := os.ReadFile(filepath.Join(onixStore, onixOut, "greeting"))
	if err != nil || string(greeting) != "hello\n" {
		t.Fatalf("built output has greeting %q (%v), want \"hello\\n\"", greeting, err)
	}

	nixStore := filepath.Join(dir, "nix-store")
	cmd := exec.Command("nix-build", file, "-A", "top", "--no-out-link")
	cmd.Env = append(os.Environ(), "NIX_REMOTE=local?root="+nixStore)
	nixOutB, err := cmd.Output()
	if err != nil {
		t.Fatalf("nix-build: %v", err)
	}
	nixOut := strings.TrimSpace(string(nixOutB))
	if nixOut != onixOut {
		t.Fatalf("output paths differ: onix %s, nix %s", onixOut, nixOut)
	}
	narHash := func(env string, args ...string) string {
		c := exec.Command("nix-store", append([]string{"--query", "--hash"}, args...)...)
		c.Env = append(os.Environ(), "NIX_REMOTE=local?root="+env)
		b, err := c.Output()
		if err != nil {
			t.Fatalf("nix-store --query --hash in %s: %v", env, err)
		}
		return strings.TrimSpace(string(b))
	}
	// Nix reads the database onix wrote; both must record the same NAR hash.
	if a, b := narHash(onixStore, onixOut), narHash(nixStore, nixOut); a != b {
		t.Errorf("NAR hashes differ: onix store %s, nix store %s", a, b)
	}
}

// writeBuildFixture writes a default.nix with two busybox derivations (dep,
// and top which reads dep) into a fresh directory.
func writeBuildFixture(t *testing.T) (dir, file string) {
	t.Helper()
	dir = t.TempDir()
	bb := filepath.Join(dir, "bb")
	if err := os.MkdirAll(bb, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bb, "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(dir, "default.nix")
	src := `{ greeting ? "hello" }:
let bb = builtins.path { path = ` + bb + `; name = "busybox"; }; in
{
  dep = derivation { name = "dep"; system = builtins.currentSystem; builder = "${bb}/busybox";
    args = [ "sh" "-c" "echo ${greeting} > $out" ]; };
  top = derivation { name = "top"; system = builtins.currentSystem; builder = "${bb}/busybox";
    dep = (import ./default.nix {}).dep;
    args = [ "sh" "-c" "mkdir $out; cat $dep > $out/greeting; echo $dep > $out/ref" ]; };
}
`
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, file
}

// mustOnix runs onix in-process (runOnix in store_test.go) and fails the
// test unless it exits 0; it returns stdout without surrounding blanks.
func mustOnix(t *testing.T, args ...string) string {
	t.Helper()
	out, code := runOnix(t, nil, args...)
	if code != 0 {
		t.Fatalf("onix %s: exit %d", strings.Join(args, " "), code)
	}
	return strings.TrimSpace(out)
}

// TestStoreRealise instantiates a derivation into a store and realises the
// .drv with `onix store realise`, like nix-instantiate + nix-store -r.
func TestStoreRealise(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("onix's build sandbox needs root here (namespaces and uid maps)")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("no /bin/busybox (apt-get install busybox-static)")
	}
	dir, file := writeBuildFixture(t)
	st := filepath.Join(dir, "store")
	drv := mustOnix(t, "--store", st, "instantiate", file, "-A", "dep")
	if !strings.HasSuffix(drv, "-dep.drv") {
		t.Fatalf("instantiate printed %q, want a dep .drv path", drv)
	}
	out := mustOnix(t, "--store", st, "store", "realise", drv)
	if !strings.HasSuffix(out, "-dep") {
		t.Fatalf("realise printed %q, want dep's output path", out)
	}
	got, err := os.ReadFile(filepath.Join(st, out))
	if err != nil || string(got) != "hello\n" {
		t.Fatalf("output %s holds %q (%v), want \"hello\\n\"", out, got, err)
	}
	// realising again builds nothing and prints the same path
	if again := mustOnix(t, "--store", st, "store", "realise", drv); again != out {
		t.Errorf("second realise printed %q, want %q", again, out)
	}
}
