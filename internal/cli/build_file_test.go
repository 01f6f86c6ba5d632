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
	busybox := "/bin/busybox"
	if _, err := os.Stat(busybox); err != nil {
		t.Skip("no /bin/busybox (apt-get install busybox-static)")
	}
	dir := t.TempDir()
	bb := filepath.Join(dir, "bb")
	if err := os.MkdirAll(bb, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bb, "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "default.nix")
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
