package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runOnix(t *testing.T, stdin []byte, args ...string) (string, int) {
	t.Helper()
	root := newRoot()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(bytes.NewReader(stdin))
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		if ee, ok := err.(exitError); ok {
			return out.String(), ee.code
		}
		t.Logf("onix %v: %v\n%s", args, err, errb.String())
		return out.String(), 1
	}
	return out.String(), 0
}

func TestStoreCLI(t *testing.T) {
	st := t.TempDir()
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "file.txt"), []byte("hello\n"), 0o644)
	out, rc := runOnix(t, nil, "--store", st, "store", "add", filepath.Join(src, "file.txt"))
	p := strings.TrimSpace(out)
	if rc != 0 || p != "/nix/store/qjqcrhqkjmdgv3yqcgcd9fa7qi234hga-file.txt" {
		t.Fatalf("add = %q rc %d", out, rc)
	}
	out, rc = runOnix(t, nil, "--store", st, "store", "add-fixed", "sha256", filepath.Join(src, "file.txt"))
	if rc != 0 || strings.TrimSpace(out) != "/nix/store/z1rahp9fy11h8yvihxhgj8vr2pb6db1a-file.txt" {
		t.Fatalf("add-fixed = %q rc %d", out, rc)
	}
	out, rc = runOnix(t, nil, "--store", st, "store", "path-info", "--json", p)
	var infos []map[string]any
	if rc != 0 || json.Unmarshal([]byte(out), &infos) != nil || infos[0]["narHash"] != "sha256-HDfQGvQL4ugGkd48w99EN3ppmvuxfGjwgJZLL9Bx/BM=" {
		t.Fatalf("path-info = %q", out)
	}
	nar, rc := runOnix(t, nil, "--store", st, "store", "dump", p)
	if rc != 0 || len(nar) != 120 {
		t.Fatalf("dump: %d bytes rc %d", len(nar), rc)
	}
	if _, rc = runOnix(t, []byte(nar), "store", "restore", filepath.Join(src, "restored")); rc != 0 {
		t.Fatal("restore failed")
	}
	if b, _ := os.ReadFile(filepath.Join(src, "restored")); string(b) != "hello\n" {
		t.Fatalf("restored %q", b)
	}
	if _, rc = runOnix(t, nil, "--store", st, "store", "verify", "--check-contents"); rc != 0 {
		t.Fatal("verify failed")
	}
	out, rc = runOnix(t, nil, "--store", st, "store", "gc", "--print-dead")
	if rc != 0 || !strings.Contains(out, p) {
		t.Fatalf("print-dead = %q", out)
	}
	if _, rc = runOnix(t, nil, "--store", st, "store", "delete", p); rc != 0 {
		t.Fatal("delete failed")
	}
	out, rc = runOnix(t, nil, "--store", st, "store", "gc")
	if rc != 0 || !strings.HasPrefix(out, "1 store paths deleted") {
		t.Fatalf("gc = %q", out)
	}
}
