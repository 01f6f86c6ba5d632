package cache

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

// A tampered NAR in the middle of a closure: the batched substitution fails
// naming the path and the cache, the bad path and everything that refers
// to it (directly or not) stay invalid, whatever was registered is whole,
// and no temporary entries are left behind.
func TestBatchedSubstitutionBadNAR(t *testing.T) {
	ctx := testCtx(t)
	src, paths, dir, key := signedCache(t, 16, 5000, 7, "none")
	top := paths[len(paths)-1]
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

// The walk and the downloads overlap: the narinfo of a path deep in the
// closure is held back until some NAR has been requested, which only
// happens if downloads start before the walk is complete. The substitution
// still completes the closure.
func TestSubstitutionDownloadsWhileWalking(t *testing.T) {
	ctx := testCtx(t)
	_, paths, dir, key := signedCache(t, 12, 3000, 5, "zstd")
	top := paths[len(paths)-1]
	deep, _ := storepath.DefaultStoreDir.Parse(paths[0])
	narRequested := make(chan struct{})
	var once sync.Once
	overlapped := false
	files := http.FileServer(http.Dir(dir))
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/nar/"):
			once.Do(func() { close(narRequested) })
		case r.URL.Path == "/"+deep.HashPart+".narinfo":
			select {
			case <-narRequested:
				overlapped = true
			case <-time.After(10 * time.Second):
			}
		}
		files.ServeHTTP(w, r)
	}))
	defer ts.Close()
	dst := newStore(t)
	m := trusting(t, key, ts.URL)
	if err := m.Fetch(ctx, top, dst); err != nil {
		t.Fatal(err)
	}
	if !overlapped {
		t.Error("no NAR was requested before the walk reached the deepest path")
	}
	checkStoreClean(t, dst, paths)
}

// A narinfo missing in the middle of the closure fails the substitution
// with an error naming that path, though downloads of the paths found
// before it had started: nothing becomes valid and no temporary entry is
// left.
func TestSubstitutionWalkFailsMidway(t *testing.T) {
	ctx := testCtx(t)
	_, paths, dir, key := signedCache(t, 12, 3000, 6, "none")
	top := paths[len(paths)-1]
	gone, _ := storepath.DefaultStoreDir.Parse(paths[1])
	if err := os.Remove(filepath.Join(dir, gone.HashPart+".narinfo")); err != nil {
		t.Fatal(err)
	}
	dst := newStore(t)
	m := trusting(t, key, "file://"+dir)
	err := m.Fetch(ctx, top, dst)
	if err == nil || !strings.Contains(err.Error(), paths[1]) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing narinfo of %s: err = %v", paths[1], err)
	}
	checkStoreClean(t, dst, nil)
}
