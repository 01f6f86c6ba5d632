package cache

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/nar"
	"github.com/onix-dev/onix/internal/nixcompat/nixbase32"
	"github.com/onix-dev/onix/internal/store"
)

// vectorsDir is the shared Nix 2.8 binary-cache vectors.
func vectorsDir(t *testing.T) string {
	t.Helper()
	for _, d := range []string{"../../../shared/testdata/nix-vectors/binary-cache", "/work/shared/testdata/nix-vectors/binary-cache"} {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			abs, _ := filepath.Abs(d)
			return abs
		}
	}
	t.Skip("shared nix-vectors not found")
	return ""
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func newStore(t *testing.T) *store.Store {
	t.Helper()
	root := t.TempDir()
	st, err := store.Open(testCtx(t), store.Options{Root: root, ReservedSpace: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// addTree adds a directory with the given files as a source path with refs.
func addTree(t *testing.T, st *store.Store, name string, files map[string][]byte, refs []string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	writeFiles(t, dir, files)
	p, err := st.AddToStore(testCtx(t), name, dir, store.Recursive, hash.SHA256, nil, refs)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for n, c := range files {
		p := filepath.Join(dir, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		mode := os.FileMode(0o644)
		if strings.HasPrefix(filepath.Base(n), "x-") {
			mode = 0o755
		}
		if err := os.WriteFile(p, c, mode); err != nil {
			t.Fatal(err)
		}
	}
}

// makeClosure registers n input-addressed paths (like build outputs, with
// a Deriver and no CA, so only signatures make them trusted) forming a DAG:
// each refers to up to 3 earlier ones and mentions them in its contents;
// the last one refers to every path nothing else refers to.
func makeClosure(t *testing.T, st *store.Store, n, size int, seed uint64) []string {
	t.Helper()
	ctx := testCtx(t)
	rng := mrand.New(mrand.NewPCG(seed, seed+1))
	sd := st.StoreDir()
	var paths []string
	referenced := map[string]bool{}
	for i := 0; i < n; i++ {
		var refs []string
		if i == n-1 {
			for _, p := range paths {
				if !referenced[p] {
					refs = append(refs, p)
				}
			}
		} else if i > 0 {
			for k := 0; k < 3; k++ {
				refs = append(refs, paths[rng.IntN(len(paths))])
			}
		}
		refs = dedupe(refs)
		for _, r := range refs {
			referenced[r] = true
		}
		var digest [20]byte
		for j := range digest {
			digest[j] = byte(rng.Uint32())
		}
		hp := nixbase32.EncodeToString(digest[:])
		name := fmt.Sprintf("node-%03d", i)
		path := string(sd) + "/" + hp + "-" + name
		data := make([]byte, size)
		rand.Read(data)
		src := filepath.Join(st.Root(), "build-"+hp)
		writeFiles(t, src, map[string][]byte{
			"data.bin":      data,
			"refs.txt":      []byte(strings.Join(refs, "\n")),
			"sub/x-run.sh":  []byte(fmt.Sprintf("#!/bin/sh\necho %d\n", i)),
			"sub/empty.txt": nil,
		})
		if refs == nil {
			refs = []string{}
		}
		if _, err := st.RegisterOutputs(ctx, []store.Output{{
			Path: path, Src: src, References: refs,
			Deriver: string(sd) + "/" + hp[:31] + "x-" + name + ".drv",
		}}); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	return paths
}

// signedCache makes a closure of n paths (see makeClosure) in a new store
// and copies it, signed, to a new file:// cache with the given compression.
// It returns the store, the paths (the top one last), the cache directory
// and the key.
func signedCache(t *testing.T, n, size int, seed uint64, compression string) (*store.Store, []string, string, SecretKey) {
	t.Helper()
	ctx := testCtx(t)
	src := newStore(t)
	paths := makeClosure(t, src, n, size, seed)
	key, err := GenerateKey("test-cache-1")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c, err := Open(ctx, "file://"+dir+"?compression="+compression, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CopyTo(ctx, src, c, []string{paths[len(paths)-1]}, CopyToOptions{SignKey: &key}); err != nil {
		t.Fatal(err)
	}
	return src, paths, dir, key
}

// trusting returns substituters for urls that require signatures by key.
func trusting(t *testing.T, key SecretKey, urls ...string) *Multi {
	t.Helper()
	m, err := NewSubstituter(urls, SubstituterOptions{TrustedPublicKeys: []string{key.Public().String()}, RequireSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func dedupe(l []string) []string {
	sort.Strings(l)
	out := l[:0]
	for i, s := range l {
		if i == 0 || s != l[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// checkStoreClean asserts the store verifies, that exactly want are valid,
// and that the physical store dir holds nothing else (besides .links).
func checkStoreClean(t *testing.T, st *store.Store, want []string) {
	t.Helper()
	ctx := testCtx(t)
	res, err := st.Verify(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		t.Errorf("store verify: %+v", res)
	}
	valid, err := st.QueryAllValidPaths(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want = dedupe(append([]string(nil), want...))
	sort.Strings(valid)
	if strings.Join(valid, " ") != strings.Join(want, " ") {
		t.Errorf("valid paths = %q, want %q", valid, want)
	}
	ents, err := os.ReadDir(st.RealStoreDir())
	if err != nil {
		t.Fatal(err)
	}
	wantNames := map[string]bool{}
	for _, p := range want {
		wantNames[filepath.Base(p)] = true
	}
	for _, e := range ents {
		if e.Name() == ".links" || strings.HasSuffix(e.Name(), ".lock") {
			continue
		}
		if !wantNames[e.Name()] {
			t.Errorf("unexpected entry in store dir: %s", e.Name())
		}
	}
}

// narHashOf dumps a physical path.
func narHashOf(t *testing.T, p string) hash.Hash {
	t.Helper()
	h, _, err := nar.HashPath(testCtx(t), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func requireNix(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("nix"); err != nil {
		t.Skip("nix not installed")
	}
	if testing.Short() {
		t.Skip("short mode")
	}
}

// runNix runs a real Nix tool with HOME and caches redirected under tmp.
// Callers must always pass a --store / --to / --from pointing at temporary
// stores: the host /nix store is never touched.
func runNix(t *testing.T, tmp string, tool string, args ...string) (string, error) {
	t.Helper()
	if tool == "nix" {
		args = append([]string{"--extra-experimental-features", "nix-command"}, args...)
	}
	cmd := exec.Command(tool, args...)
	cmd.Env = append(os.Environ(), "HOME="+tmp+"/home", "XDG_CACHE_HOME="+tmp+"/xdg-cache", "NIX_CONF_DIR="+tmp+"/etc")
	os.MkdirAll(tmp+"/etc", 0o755)
	os.WriteFile(tmp+"/etc/nix.conf", []byte("sandbox = false\nsubstituters =\n"), 0o644)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func mustNix(t *testing.T, tmp string, tool string, args ...string) string {
	t.Helper()
	out, err := runNix(t, tmp, tool, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	return out
}
