package cache

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

// A tampered NAR in the middle of a closure: the batched substitution fails
// naming the path and the cache, the bad path and everything that refers
// to it (directly or not) stay invalid, whatever was registered is whole,
// and no temporary entries are left behind.
func TestBatchedSubstitutionBadNAR(t *testing.T) {
	ctx := testCtx(t)
	src := newStore(t)
	paths := makeClosure(t, src, 16, 5000, 7)
	top := paths[len(paths)-1]
	key, _ := GenerateKey("batch-1")
	dir := t.TempDir()
	c, err := Open(ctx, "file://"+dir+"?compression=none", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CopyTo(ctx, src, c, []string{top}, CopyToOptions{SignKey: &key}); err != nil {
		t.Fatal(err)
	}
	bad := paths[2]
	sp, _ := storepath.DefaultStoreDir.Parse(bad)
	ni, err := ParseNarInfo([]byte(readFile(t, filepath.Join(dir, sp.HashPart+".narinfo"))), storepath.DefaultStoreDir, "t")
	if err != nil {
		t.Fatal(err)
	}
	nf := filepath.Join(dir, ni.URL)
	data := []byte(readFile(t, nf))
	i := bytes.Index(data, []byte("data.bin"))
	data[i+200] ^= 0xff // inside the file contents
	if err := os.WriteFile(nf, data, 0o644); err != nil {
		t.Fatal(err)
	}

	dst := newStore(t)
	m, err := NewSubstituter([]string{"file://" + dir}, SubstituterOptions{
		TrustedPublicKeys: []string{key.Public().String()}, RequireSigs: true, Jobs: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	err = m.Fetch(ctx, top, dst)
	if err == nil {
		t.Fatal("tampered NAR accepted")
	}
	if msg := err.Error(); !strings.Contains(msg, bad) || !strings.Contains(msg, "file://"+dir) || !strings.Contains(msg, "hash mismatch") {
		t.Errorf("error does not name path %s and the cache: %v", bad, err)
	}
	// Everything whose closure holds bad must be invalid.
	tainted := map[string]bool{}
	for _, p := range paths {
		cl, err := src.QueryRequisites(ctx, []string{p}, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range cl {
			if q == bad {
				tainted[p] = true
			}
		}
	}
	var valid []string
	for _, p := range paths {
		ok, err := dst.IsValid(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if ok && tainted[p] {
			t.Errorf("%s is valid but depends on the tampered %s", p, bad)
		}
		if ok {
			valid = append(valid, p)
		}
	}
	checkStoreClean(t, dst, valid)

	// Repaired, a second fetch completes the closure.
	data[i+200] ^= 0xff
	if err := os.WriteFile(nf, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.Fetch(ctx, top, dst); err != nil {
		t.Fatal(err)
	}
	checkStoreClean(t, dst, paths)
}
