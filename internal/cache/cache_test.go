package cache

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

var vectorPaths = []string{
	"/nix/store/88a2qqbwa9n3qa98gr42gkzjqy50w7nc-hello.txt",
	"/nix/store/91dkhdfrdzngb4m62zak427y2vpamanj-plain",
	"/nix/store/ld7hag6ni55fviw8yfq04gbdslddwwdi-fod-rec",
	"/nix/store/m39rb289f2i56rjm2iak0i79421xiwp5-with-inputs",
	"/nix/store/rr0mdwjhqks2f425hl4anl1lcb64539k-greeting.txt",
	"/nix/store/z14qj669mh19b3xwlhzri8hrprd2dz09-fod-flat.txt",
}

// The narinfos Nix wrote parse, re-render byte-identically, have the
// documented fingerprints, verify under the test key and re-sign to the
// same Sig.
func TestVectorNarInfos(t *testing.T) {
	dir := vectorsDir(t)
	pub := readFile(t, filepath.Join(dir, "keys/public.key"))
	sec, err := ParseSecretKey(readFile(t, filepath.Join(dir, "keys/secret.key")))
	if err != nil {
		t.Fatal(err)
	}
	if sec.Public().String() != pub {
		t.Fatalf("public key of secret.key = %s, want %s", sec.Public(), pub)
	}
	keys, err := ParsePublicKeys([]string{pub})
	if err != nil {
		t.Fatal(err)
	}
	fps := map[string]string{}
	for _, line := range strings.Split(readFile(t, filepath.Join(dir, "fingerprints.derived.txt")), "\n") {
		if name, fp, ok := strings.Cut(line, ": "); ok && !strings.HasPrefix(line, "#") {
			fps[name] = fp
		}
	}
	n := 0
	for _, c := range []string{"cache-xz", "cache-none", "cache-zstd"} {
		files, _ := filepath.Glob(filepath.Join(dir, c, "*.narinfo"))
		for _, f := range files {
			n++
			text := readFile(t, f)
			ni, err := ParseNarInfo([]byte(text), storepath.DefaultStoreDir, f)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if got := ni.String(); got != text {
				t.Errorf("%s: re-rendered differently:\n%s\nwant\n%s", f, got, text)
			}
			fp, err := ni.Fingerprint(storepath.DefaultStoreDir)
			if err != nil {
				t.Fatal(err)
			}
			if want := fps[filepath.Base(f)]; fp != want {
				t.Errorf("%s: fingerprint %q, want %q", f, fp, want)
			}
			if !keys.VerifyAny(fp, ni.Sigs) {
				t.Errorf("%s: signature does not verify", f)
			}
			if len(ni.Sigs) != 1 || sec.Sign([]byte(fp)) != ni.Sigs[0] {
				t.Errorf("%s: re-signing gives %s, want %v", f, sec.Sign([]byte(fp)), ni.Sigs)
			}
		}
	}
	if n != 18 {
		t.Errorf("checked %d narinfos, want 18", n)
	}
}

// onix substitutes every vector path from each cache Nix wrote.
func TestSubstituteFromNixVectorCaches(t *testing.T) {
	dir := vectorsDir(t)
	pub := readFile(t, filepath.Join(dir, "keys/public.key"))
	for _, c := range []string{"cache-xz", "cache-none", "cache-zstd"} {
		t.Run(c, func(t *testing.T) {
			ctx := testCtx(t)
			st := newStore(t)
			m, err := NewSubstituter([]string{"file://" + filepath.Join(dir, c)}, SubstituterOptions{
				TrustedPublicKeys: []string{pub}, RequireSigs: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range vectorPaths {
				if err := m.Fetch(ctx, p, st); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range vectorPaths {
				ni, err := m.QueryPathInfo(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				if got := narHashOf(t, st.RealPath(p)); !got.Equal(ni.NarHash) {
					t.Errorf("%s: restored NAR hash %s, want %s", p, got, ni.NarHash)
				}
				pi, err := st.QueryPathInfo(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				sd := storepath.DefaultStoreDir
				if strings.Join(pi.References, " ") != strings.Join(fullRefs(sd, ni), " ") || pi.CA != ni.CA || pi.Deriver != fullDeriver(sd, ni) || len(pi.Sigs) != 1 {
					t.Errorf("%s: registered %+v from %+v", p, pi, ni)
				}
			}
			checkStoreClean(t, st, vectorPaths)
		})
	}
}

// Round trip through file caches with every compression: onix writes,
// onix reads back, the narinfos are exactly what Nix would write.
func TestCopyRoundTrip(t *testing.T) {
	ctx := testCtx(t)
	src := newStore(t)
	paths := makeClosure(t, src, 12, 3000, 1)
	top := paths[len(paths)-1]
	key, err := GenerateKey("test-onix-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, comp := range []string{"none", "xz", "zstd", "gzip"} {
		t.Run(comp, func(t *testing.T) {
			cdir := t.TempDir()
			c, err := Open(ctx, "file://"+cdir+"?compression="+comp, Options{})
			if err != nil {
				t.Fatal(err)
			}
			copied, err := CopyTo(ctx, src, c, []string{top}, CopyToOptions{SignKey: &key, Jobs: 4})
			if err != nil {
				t.Fatal(err)
			}
			if len(copied) != len(paths) {
				t.Fatalf("copied %d paths, want %d", len(copied), len(paths))
			}
			if got := readFile(t, filepath.Join(cdir, "nix-cache-info")); got != "StoreDir: /nix/store\n" {
				t.Errorf("nix-cache-info = %q", got)
			}
			// A second copy is a no-op.
			again, err := CopyTo(ctx, src, c, []string{top}, CopyToOptions{SignKey: &key})
			if err != nil || len(again) != 0 {
				t.Errorf("second copy: %v, %d copied", err, len(again))
			}
			for _, p := range paths {
				sp, _ := storepath.DefaultStoreDir.Parse(p)
				text := readFile(t, filepath.Join(cdir, sp.HashPart+".narinfo"))
				ni, err := ParseNarInfo([]byte(text), storepath.DefaultStoreDir, "test")
				if err != nil {
					t.Fatal(err)
				}
				if ni.String() != text {
					t.Errorf("narinfo not canonical:\n%s", text)
				}
				if ni.Compression != comp {
					t.Errorf("Compression %s", ni.Compression)
				}
				fi, err := os.Stat(filepath.Join(cdir, ni.URL))
				if err != nil || uint64(fi.Size()) != ni.FileSize {
					t.Errorf("%s: %v size mismatch", ni.URL, err)
				}
				if comp == "none" && (!ni.FileHash.Equal(ni.NarHash) || ni.FileSize != ni.NarSize) {
					t.Errorf("compression none: FileHash/FileSize differ from NarHash/NarSize")
				}
			}
			dst := newStore(t)
			got, err := CopyFrom(ctx, c, []string{top}, dst, CopyFromOptions{
				TrustedPublicKeys: []string{key.Public().String()}, RequireSigs: true, Jobs: 3,
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(paths) {
				t.Errorf("substituted %d, want %d", len(got), len(paths))
			}
			for _, p := range paths {
				if !narHashOf(t, dst.RealPath(p)).Equal(narHashOf(t, src.RealPath(p))) {
					t.Errorf("%s differs after round trip", p)
				}
			}
			checkStoreClean(t, dst, paths)
		})
	}
}

// Serving: a file cache and the store itself over HTTP on 127.0.0.1.
func TestHTTPServeAndSubstitute(t *testing.T) {
	ctx := testCtx(t)
	src, paths, cdir, key := signedCache(t, 8, 100000, 2, "zstd")
	top := paths[len(paths)-1]
	for name, srv := range map[string]*Server{
		"dir":   {Dir: cdir},
		"store": {Store: src, SignKey: &key},
	} {
		t.Run(name, func(t *testing.T) {
			ts := httptest.NewServer(srv)
			defer ts.Close()
			dst := newStore(t)
			m := trusting(t, key, ts.URL)
			if cs := m.Caches(ctx); len(cs) != 1 || (name == "store" && cs[0].Priority() != ServerPriority) {
				t.Fatalf("caches %v", cs)
			}
			if err := m.Fetch(ctx, top, dst); err != nil {
				t.Fatal(err)
			}
			checkStoreClean(t, dst, paths)
			// Unknown paths are a clean not-found.
			_, err := m.QueryPathInfo(ctx, "/nix/store/00000000000000000000000000000000-nope")
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("missing path: %v", err)
			}
		})
	}
}

// Priorities: the lower-priority-number cache wins; a cache lacking a path
// falls through to the next.
func TestMultiPriority(t *testing.T) {
	ctx := testCtx(t)
	src := newStore(t)
	a := addTree(t, src, "a", map[string][]byte{"f": []byte("a")}, nil)
	b := addTree(t, src, "b", map[string][]byte{"f": []byte("b")}, nil)
	key, _ := GenerateKey("k")
	d1, d2 := t.TempDir(), t.TempDir()
	c1, _ := Open(ctx, "file://"+d1+"?compression=none", Options{})
	c2, _ := Open(ctx, "file://"+d2, Options{})
	if _, err := CopyTo(ctx, src, c1, []string{a}, CopyToOptions{SignKey: &key}); err != nil {
		t.Fatal(err)
	}
	if _, err := CopyTo(ctx, src, c2, []string{a, b}, CopyToOptions{SignKey: &key}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(d1, "nix-cache-info"), []byte("StoreDir: /nix/store\nPriority: 60\n"), 0o644)
	m := trusting(t, key, "file://"+d1, "file://"+d2+"?priority=10")
	ni, err := m.QueryPathInfo(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if ni.Compression != "xz" {
		t.Errorf("path a came from the priority-60 cache (compression %s)", ni.Compression)
	}
	m2 := trusting(t, key, "file://"+d1, "file://"+d2+"?priority=70")
	if ni, _ := m2.QueryPathInfo(ctx, a); ni == nil || ni.Compression != "none" {
		t.Errorf("path a should come from the priority-60 cache")
	}
	if ni, err := m2.QueryPathInfo(ctx, b); err != nil || ni.Compression != "xz" {
		t.Errorf("path b: %v", err)
	}
	// An unreachable cache is skipped.
	m3 := trusting(t, key, "http://127.0.0.1:1", "file://"+d2)
	dst := newStore(t)
	if err := m3.Fetch(ctx, b, dst); err != nil {
		t.Fatal(err)
	}
}

func TestRunDAGOrderAndErrors(t *testing.T) {
	deps := map[string][]string{"c": {"b", "a"}, "b": {"a"}, "a": nil, "d": {"x-outside", "d"}}
	var order []string
	done := map[string]bool{}
	err := runDAG(context.Background(), []string{"c", "b", "a", "d"}, func(n string) []string { return deps[n] }, 1,
		func(_ context.Context, n string) error {
			for _, d := range deps[n] {
				if d != n && deps[d] != nil && !done[d] {
					t.Errorf("%s started before %s", n, d)
				}
			}
			done[n] = true
			order = append(order, n)
			return nil
		})
	if err != nil || len(order) != 4 {
		t.Fatalf("order %v, err %v", order, err)
	}
	boom := errors.New("boom")
	err = runDAG(context.Background(), []string{"c", "b", "a"}, func(n string) []string { return deps[n] }, 2,
		func(_ context.Context, n string) error {
			if n == "a" {
				return boom
			}
			t.Errorf("%s ran after its dependency failed", n)
			return nil
		})
	if !errors.Is(err, boom) {
		t.Errorf("err = %v", err)
	}
	cyc := map[string][]string{"p": {"q"}, "q": {"p"}}
	if err := runDAG(context.Background(), []string{"p", "q"}, func(n string) []string { return cyc[n] }, 2,
		func(context.Context, string) error { return nil }); err == nil {
		t.Error("cycle not reported")
	}
}

func TestKeys(t *testing.T) {
	k, err := GenerateKey("my-key-1")
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ParseSecretKey(k.String() + "\n")
	if err != nil || !bytes.Equal(k2.Key, k.Key) || k2.Name != "my-key-1" {
		t.Fatalf("secret key round trip: %v", err)
	}
	pk, err := ParsePublicKey(k.Public().String())
	if err != nil {
		t.Fatal(err)
	}
	ks := PublicKeys{pk}
	sig := k.Sign([]byte("msg"))
	if !ks.Verify("msg", sig) || ks.Verify("other", sig) {
		t.Error("verify")
	}
	other, _ := GenerateKey("my-key-1")
	if ks.Verify("msg", other.Sign([]byte("msg"))) {
		t.Error("signature by a different key with the same name accepted")
	}
	renamed := "other-name:" + strings.SplitN(sig, ":", 2)[1]
	if ks.Verify("msg", renamed) {
		t.Error("signature under an untrusted key name accepted")
	}
	for _, bad := range []string{"", "noname", ":AAAA", "n:!!!", "n:AAAA"} {
		if _, err := ParseSecretKey(bad); err == nil {
			t.Errorf("secret key %q accepted", bad)
		}
		if _, err := ParsePublicKey(bad); err == nil {
			t.Errorf("public key %q accepted", bad)
		}
	}
	if _, err := GenerateKey("a b"); err == nil {
		t.Error("key name with a space accepted")
	}
	if _, err := GenerateKey("a:b"); err == nil {
		t.Error("key name with ':' accepted")
	}
}

func sorted(l []string) []string {
	l = append([]string(nil), l...)
	sort.Strings(l)
	return l
}
