package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A store written by real Nix (nix-store --add, nix-instantiate, nix-build
// with a busybox /bin/sh) is read by onix.
func TestReadNixWrittenStore(t *testing.T) {
	requireNix(t, "nix-build")
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("no /bin/busybox")
	}
	ctx := testCtx(t)
	root := newRoot(t)
	src := t.TempDir()
	writeTree(t, src, map[string]string{"f.txt": "hello\n"})
	added := nix(t, root, "nix-store", "--add", src+"/f.txt")
	expr := filepath.Join(src, "t.nix")
	writeTree(t, src, map[string]string{"t.nix": `
let dep = derivation { name = "dep"; system = "x86_64-linux"; builder = "/bin/sh"; args = ["-c" "echo dep > $out"]; };
in derivation { name = "trivial"; system = "x86_64-linux"; builder = "/bin/sh";
  args = ["-c" "/bin/busybox mkdir $out; echo ${dep} > $out/ref; echo hi > $out/x"]; }`})
	drv := nix(t, root, "nix-instantiate", expr)
	out := nix(t, root, "nix-build", "--option", "sandbox", "false", "--option", "substituters", "",
		"--option", "sandbox-paths", "/bin/sh=/bin/busybox /bin/busybox=/bin/busybox", "--no-out-link", expr)
	nixRefs := strings.Fields(nix(t, root, "nix-store", "-q", "--references", out))
	nixClosure := nix(t, root, "nix-store", "-qR", out)

	s := openTest(t, root)
	for _, p := range []string{added, drv, out} {
		ok, err := s.IsValid(ctx, p)
		if err != nil || !ok {
			t.Fatalf("IsValid(%s) = %v, %v", p, ok, err)
		}
	}
	info, err := s.QueryPathInfo(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Deriver != drv || !info.Ultimate || len(info.References) != 1 || info.References[0] != nixRefs[0] {
		t.Errorf("path info of %s = %+v, nix refs %v", out, info, nixRefs)
	}
	cl, err := s.QueryRequisites(ctx, []string{out}, false)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cl, "\n") != sortedLines(nixClosure) {
		t.Errorf("closure = %v, nix %v", cl, nixClosure)
	}
	ds, err := s.QueryValidDerivers(ctx, out)
	if err != nil || len(ds) != 1 || ds[0] != drv {
		t.Errorf("valid derivers = %v, %v", ds, err)
	}
	outs, err := s.QueryDerivationOutputs(ctx, drv)
	if err != nil || outs["out"] != out {
		t.Errorf("drv outputs = %v, %v", outs, err)
	}
	res, err := s.Verify(ctx, true)
	if err != nil || !res.OK() {
		t.Errorf("Verify = %+v, %v", res, err)
	}
	// onix writing the same .drv text gets the same path and DerivationOutputs.
	b, err := os.ReadFile(filepath.Join(root, drv))
	if err != nil {
		t.Fatal(err)
	}
	root2 := newRoot(t)
	s2 := openTest(t, root2)
	drvRefs := strings.Fields(nix(t, root, "nix-store", "-q", "--references", drv))
	for _, r := range drvRefs { // input .drvs first
		rb, err := os.ReadFile(filepath.Join(root, r))
		if err != nil {
			t.Fatal(err)
		}
		rr := strings.Fields(nix(t, root, "nix-store", "-q", "--references", r))
		name := filepath.Base(r)[33:]
		if p, err := s2.AddTextToStore(ctx, name, rb, rr); err != nil || p != r {
			t.Fatalf("AddTextToStore(%s) = %s, %v", r, p, err)
		}
	}
	p, err := s2.AddTextToStore(ctx, filepath.Base(drv)[33:], b, drvRefs)
	if err != nil || p != drv {
		t.Fatalf("AddTextToStore = %s, %v; want %s", p, err, drv)
	}
	outs2, err := s2.QueryDerivationOutputs(ctx, drv)
	if err != nil || outs2["out"] != out {
		t.Errorf("onix drv outputs = %v, %v", outs2, err)
	}
	i1, _ := s.QueryPathInfo(ctx, drv)
	i2, _ := s2.QueryPathInfo(ctx, drv)
	if i1.CA != i2.CA || !i1.NarHash.Equal(i2.NarHash) || i1.NarSize != i2.NarSize {
		t.Errorf("drv info differs: nix %+v onix %+v", i1, i2)
	}
}

func sortedLines(s string) string {
	l := strings.Fields(s)
	sortStrings(l)
	return strings.Join(l, "\n")
}
