package cache

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
	"github.com/onix-dev/onix/internal/store"
)

// badFixture is a signed file cache holding one leaf path.
type badFixture struct {
	dir, url string
	key      SecretKey
	path     string
	narinfo  string // file name
	ni       *NarInfo
}

func newBadFixture(t *testing.T, compression string) *badFixture {
	t.Helper()
	ctx := testCtx(t)
	src := newStore(t)
	p := addTree(t, src, "victim", map[string][]byte{"f.txt": bytes.Repeat([]byte("payload "), 5000)}, nil)
	key, _ := GenerateKey("bad-1")
	dir := t.TempDir()
	c, err := Open(ctx, "file://"+dir+"?compression="+compression, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CopyTo(ctx, src, c, []string{p}, CopyToOptions{SignKey: &key}); err != nil {
		t.Fatal(err)
	}
	sp, _ := storepath.DefaultStoreDir.Parse(p)
	f := &badFixture{dir: dir, url: "file://" + dir, key: key, path: p, narinfo: filepath.Join(dir, sp.HashPart+".narinfo")}
	f.ni, err = ParseNarInfo([]byte(readFile(t, f.narinfo)), storepath.DefaultStoreDir, f.narinfo)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *badFixture) writeNarInfo(t *testing.T, ni *NarInfo) {
	t.Helper()
	if err := os.WriteFile(f.narinfo, []byte(ni.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fetch substitutes f.path into a fresh store and returns the error and
// the store.
func (f *badFixture) fetch(t *testing.T, requireSigs bool) (error, *store.Store) {
	t.Helper()
	st := newStore(t)
	m, err := NewSubstituter([]string{f.url}, SubstituterOptions{
		TrustedPublicKeys: []string{f.key.Public().String()}, RequireSigs: requireSigs,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m.Fetch(testCtx(t), f.path, st), st
}

// expectRefused checks the error names the path and the cache, mentions
// want, and that nothing was registered or left in the store.
func expectRefused(t *testing.T, err error, st *store.Store, f *badFixture, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("bad input accepted")
	}
	msg := err.Error()
	if !strings.Contains(msg, f.path) || !strings.Contains(msg, f.url) {
		t.Errorf("error does not name path %s and cache %s: %v", f.path, f.url, err)
	}
	if !strings.Contains(msg, want) {
		t.Errorf("error %q does not mention %q", msg, want)
	}
	checkStoreClean(t, st, nil)
}

func narString(b *bytes.Buffer, s string) {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
	b.Write(n[:])
	b.WriteString(s)
	b.Write(make([]byte, (8-len(s)%8)%8))
}

// hostileNAR is a directory NAR whose entry is named name.
func hostileNAR(name string) []byte {
	var b bytes.Buffer
	for _, s := range []string{"nix-archive-1", "(", "type", "directory", "entry", "(", "name", name, "node",
		"(", "type", "regular", "contents", "pwned\n", ")", ")", ")"} {
		narString(&b, s)
	}
	return b.Bytes()
}

func TestRefuseBadInput(t *testing.T) {
	t.Run("tampered NAR", func(t *testing.T) {
		f := newBadFixture(t, "none")
		nf := filepath.Join(f.dir, f.ni.URL)
		data := []byte(readFile(t, nf))
		i := bytes.Index(data, []byte("payload"))
		data[i] = 'P'
		os.WriteFile(nf, data, 0o644)
		err, st := f.fetch(t, true)
		expectRefused(t, err, st, f, "hash mismatch")
	})
	t.Run("tampered NarHash field", func(t *testing.T) {
		f := newBadFixture(t, "xz")
		ni := *f.ni
		ni.NarHash = hash.Sum(hash.SHA256, []byte("other"))
		f.writeNarInfo(t, &ni)
		err, st := f.fetch(t, true)
		expectRefused(t, err, st, f, "signature")
		// Even without signature checking the NAR hash check refuses it.
		err, st = f.fetch(t, false)
		expectRefused(t, err, st, f, "hash mismatch")
	})
	t.Run("tampered References field", func(t *testing.T) {
		f := newBadFixture(t, "xz")
		ni := *f.ni
		ni.References = []string{filepath.Base(f.path)}
		f.writeNarInfo(t, &ni)
		err, st := f.fetch(t, true)
		expectRefused(t, err, st, f, "signature")
	})
	t.Run("tampered NarSize field", func(t *testing.T) {
		f := newBadFixture(t, "zstd")
		ni := *f.ni
		ni.NarSize -= 8
		ni.Sigs = nil
		ni.Sign(storepath.DefaultStoreDir, f.key) // consistently signed, but the NAR is longer
		f.writeNarInfo(t, &ni)
		err, st := f.fetch(t, true)
		expectRefused(t, err, st, f, "larger than its NarSize")
	})
	t.Run("wrong signature", func(t *testing.T) {
		f := newBadFixture(t, "xz")
		other, _ := GenerateKey("bad-1") // same name, different key
		ni := *f.ni
		ni.Sigs = nil
		ni.Sign(storepath.DefaultStoreDir, other)
		f.writeNarInfo(t, &ni)
		err, st := f.fetch(t, true)
		expectRefused(t, err, st, f, "does not have a valid signature")
	})
	t.Run("missing signature", func(t *testing.T) {
		f := newBadFixture(t, "xz")
		ni := *f.ni
		ni.Sigs = nil
		f.writeNarInfo(t, &ni)
		err, st := f.fetch(t, true)
		expectRefused(t, err, st, f, "not signed")
		// require-sigs = false accepts it (the NAR still verifies).
		err, st = f.fetch(t, false)
		if err != nil {
			t.Fatalf("require-sigs=false: %v", err)
		}
		checkStoreClean(t, st, []string{f.path})
	})
	for _, comp := range []string{"xz", "zstd"} {
		t.Run("truncated "+comp, func(t *testing.T) {
			f := newBadFixture(t, comp)
			nf := filepath.Join(f.dir, f.ni.URL)
			data := []byte(readFile(t, nf))
			os.WriteFile(nf, data[:len(data)/2], 0o644)
			err, st := f.fetch(t, true)
			expectRefused(t, err, st, f, "NAR")
		})
	}
	t.Run("corrupt compressed NAR", func(t *testing.T) {
		f := newBadFixture(t, "zstd")
		nf := filepath.Join(f.dir, f.ni.URL)
		data := []byte(readFile(t, nf))
		for i := len(data) / 3; i < len(data)/3+16; i++ {
			data[i] ^= 0xff
		}
		os.WriteFile(nf, data, 0o644)
		err, st := f.fetch(t, true)
		expectRefused(t, err, st, f, "NAR")
	})
	t.Run("missing NAR file", func(t *testing.T) {
		f := newBadFixture(t, "xz")
		os.Remove(filepath.Join(f.dir, f.ni.URL))
		err, st := f.fetch(t, true)
		expectRefused(t, err, st, f, "fetching NAR")
	})
	t.Run("narinfo path outside the store", func(t *testing.T) {
		f := newBadFixture(t, "xz")
		text := strings.Replace(readFile(t, f.narinfo), "StorePath: /nix/store/", "StorePath: /tmp/", 1)
		os.WriteFile(f.narinfo, []byte(text), 0o644)
		err, st := f.fetch(t, true)
		expectRefused(t, err, st, f, "not in the Nix store")
		text = strings.Replace(readFile(t, f.narinfo), "StorePath: /tmp/", "StorePath: /nix/store/../../tmp/", 1)
		os.WriteFile(f.narinfo, []byte(text), 0o644)
		err, st = f.fetch(t, true)
		expectRefused(t, err, st, f, "not in the Nix store")
	})
	t.Run("narinfo for another path", func(t *testing.T) {
		f := newBadFixture(t, "xz")
		ni := *f.ni
		ni.StorePath = "/nix/store/0ix4jahrkll5zg01wandq78jw3ab30q4-victim"
		ni.Sigs = nil
		ni.Sign(storepath.DefaultStoreDir, f.key)
		f.writeNarInfo(t, &ni)
		err, st := f.fetch(t, true)
		expectRefused(t, err, st, f, "describes")
	})
	t.Run("NAR URL escaping the cache", func(t *testing.T) {
		f := newBadFixture(t, "none")
		ni := *f.ni
		ni.URL = "../" + filepath.Base(f.dir) + "/" + ni.URL
		f.writeNarInfo(t, &ni)
		err, st := f.fetch(t, true)
		expectRefused(t, err, st, f, "bad NAR URL")
	})
	for _, name := range []string{"..", "a/b", "."} {
		t.Run("hostile NAR entry "+name, func(t *testing.T) {
			f := newBadFixture(t, "none")
			data := hostileNAR(name)
			h := hash.Sum(hash.SHA256, data)
			url := "nar/" + h.Encode(hash.Base32, false) + ".nar"
			os.WriteFile(filepath.Join(f.dir, url), data, 0o644)
			ni := *f.ni
			ni.URL, ni.NarHash, ni.NarSize, ni.FileHash, ni.FileSize = url, h, uint64(len(data)), h, uint64(len(data))
			ni.Sigs = nil
			ni.Sign(storepath.DefaultStoreDir, f.key) // a trusted but malicious cache
			f.writeNarInfo(t, &ni)
			err, st := f.fetch(t, true)
			expectRefused(t, err, st, f, "")
			if _, err := os.Lstat(filepath.Join(filepath.Dir(st.RealStoreDir()), "b")); err == nil {
				t.Error("NAR wrote outside the store")
			}
		})
	}
	t.Run("store dir mismatch", func(t *testing.T) {
		f := newBadFixture(t, "xz")
		os.WriteFile(filepath.Join(f.dir, "nix-cache-info"), []byte("StoreDir: /gnu/store\n"), 0o644)
		err, st := f.fetch(t, true)
		if err == nil || !strings.Contains(err.Error(), "/gnu/store") {
			t.Errorf("err = %v", err)
		}
		checkStoreClean(t, st, nil)
	})
}

// Cancelling the context stops a substitution without registering.
func TestFetchCancelled(t *testing.T) {
	f := newBadFixture(t, "xz")
	ctx, cancel := context.WithCancel(testCtx(t))
	cancel()
	st := newStore(t)
	m, _ := NewSubstituter([]string{f.url}, SubstituterOptions{TrustedPublicKeys: []string{f.key.Public().String()}, RequireSigs: true})
	if err := m.Fetch(ctx, f.path, st); err == nil {
		t.Fatal("cancelled fetch succeeded")
	}
	checkStoreClean(t, st, nil)
}
