package store

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
)

func addText(t *testing.T, s *Store, name, content string, refs ...string) string {
	t.Helper()
	p, err := s.AddTextToStore(testCtx(t), name, []byte(content), refs)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGCRootsAndOrder(t *testing.T) {
	ctx := testCtx(t)
	root := newRoot(t)
	s := openTest(t, root)
	a := addText(t, s, "a", "a")
	b := addText(t, s, "b", "b "+a, a)
	c := addText(t, s, "c", "c "+b, b) // rooted directly
	d := addText(t, s, "d", "d")       // rooted indirectly via a result link
	e := addText(t, s, "e", "e "+a, a) // dead, refers to live a
	f := addText(t, s, "f", "f")       // dead
	g := addText(t, s, "g", "g "+f, f) // dead, refers to dead f
	p := addText(t, s, "p", "p")       // in a profile
	gcroots := filepath.Join(root, "nix/var/nix/gcroots")
	if err := os.Symlink(c, gcroots+"/c-root"); err != nil {
		t.Fatal(err)
	}
	result := filepath.Join(t.TempDir(), "result")
	if err := os.Symlink(d, result); err != nil {
		t.Fatal(err)
	}
	if err := s.AddIndirectRoot(result); err != nil {
		t.Fatal(err)
	}
	// A stale indirect root is removed.
	if err := os.Symlink("/nonexistent/result", gcroots+"/auto/stale"); err != nil {
		t.Fatal(err)
	}
	prof := filepath.Join(root, "nix/var/nix/profiles")
	if err := os.Symlink(p, prof+"/default-1-link"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("default-1-link", prof+"/default"); err != nil {
		t.Fatal(err)
	}
	roots, err := s.PrintRoots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range roots {
		got[r.Path] = true
	}
	for _, want := range []string{c, d, p} {
		if !got[want] {
			t.Errorf("root %s missing from %v", want, roots)
		}
	}
	if _, err := os.Lstat(gcroots + "/auto/stale"); !os.IsNotExist(err) {
		t.Errorf("stale auto root not removed: %v", err)
	}

	dry, err := s.GC(ctx, GCOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	// The dry run lists exactly the dead paths, referrers first.
	// Temp roots of this process (everything we added) keep paths alive,
	// so use a fresh Store for the real collection.
	if len(dry.Dead) != 0 {
		t.Errorf("paths added by this process must be temp roots; dead = %v", dry.Dead)
	}
	s.Close()
	s = openTest(t, root)
	dry, err = s.GC(ctx, GCOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	wantDead := []string{e, f, g}
	gotDead := slices.Clone(dry.Dead)
	slices.Sort(gotDead)
	slices.Sort(wantDead)
	if !slices.Equal(gotDead, wantDead) {
		t.Fatalf("dead = %v, want %v", dry.Dead, wantDead)
	}
	if slices.Index(dry.Dead, g) > slices.Index(dry.Dead, f) {
		t.Errorf("referrer g must come before f: %v", dry.Dead)
	}
	// Junk and leftovers in the store dir go too.
	junk := filepath.Join(s.RealStoreDir(), "00000000000000000000000000000000-junk")
	if err := os.WriteFile(junk, []byte("x"), 0o444); err != nil {
		t.Fatal(err)
	}
	res, err := s.GC(ctx, GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deleted) != 4 || res.BytesFreed == 0 {
		t.Errorf("deleted %v (%d bytes)", res.Deleted, res.BytesFreed)
	}
	for _, q := range []string{a, b, c, d, p} {
		if ok, _ := s.IsValid(ctx, q); !ok {
			t.Errorf("live path %s was collected", q)
		}
	}
	for _, q := range []string{e, f, g, junk} {
		if _, err := os.Lstat(s.RealPath(q)); !os.IsNotExist(err) {
			t.Errorf("%s still on disk", q)
		}
	}
	if v, err := s.Verify(ctx, true); err != nil || !v.OK() {
		t.Errorf("verify after GC: %+v %v", v, err)
	}
	// Removing the indirect target makes d collectable.
	os.Remove(result)
	s.Close()
	s = openTest(t, root)
	res, err = s.GC(ctx, GCOptions{})
	if err != nil || !slices.Contains(res.Deleted, d) {
		t.Errorf("after removing result: %v %v", res, err)
	}
}

func TestGCMaxFreedAndDelete(t *testing.T) {
	ctx := testCtx(t)
	root := newRoot(t)
	s := openTest(t, root)
	src := t.TempDir()
	var paths []string
	for i := 0; i < 5; i++ {
		f := filepath.Join(src, "f")
		if err := os.WriteFile(f, make([]byte, 10000+i), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := s.AddToStore(ctx, "", f, Recursive, hash.SHA256, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	top := addText(t, s, "top", "x", paths[0])
	s.Close()
	s = openTest(t, root)
	res, err := s.GC(ctx, GCOptions{MaxFreed: 15000})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deleted) < 2 || len(res.Deleted) > 3 || res.BytesFreed < 15000 || res.BytesFreed > 30000 {
		t.Errorf("MaxFreed: deleted %v, freed %d", res.Deleted, res.BytesFreed)
	}
	var left []string
	for _, p := range paths {
		if ok, _ := s.IsValid(ctx, p); ok {
			left = append(left, p)
		}
	}
	if len(left) < 2 {
		t.Fatalf("MaxFreed deleted too much: %v", res.Deleted)
	}
	top = addText(t, s, "top2", "y", left[0])
	s.Close() // drop this process's temp roots
	s = openTest(t, root)
	if v, err := s.Verify(ctx, true); err != nil || !v.OK() {
		t.Errorf("verify: %+v %v", v, err)
	}
	// Delete refuses a path with a valid referrer, and a rooted path.
	if _, err := s.Delete(ctx, []string{left[0]}); err == nil {
		t.Errorf("Delete of referenced path succeeded")
	}
	if _, err := s.Delete(ctx, []string{top, left[0]}); err != nil {
		t.Errorf("Delete of closure: %v", err)
	}
	if ok, _ := s.IsValid(ctx, left[0]); ok {
		t.Errorf("%s still valid after Delete", left[0])
	}
	live := addText(t, s, "live", "live")
	if err := os.Symlink(live, filepath.Join(root, "nix/var/nix/gcroots/live")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, []string{live}); err == nil {
		t.Errorf("Delete of rooted path succeeded")
	}
}
