package eval

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/nar"
)

func writeTarGz(t *testing.T, dst string, files map[string]string) {
	t.Helper()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	_ = tw.WriteHeader(&tar.Header{Name: "top/", Typeflag: tar.TypeDir, Mode: 0o755})
	for name, body := range files {
		mode := int64(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		_ = tw.WriteHeader(&tar.Header{Name: "top/" + name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(body))})
		_, _ = tw.Write([]byte(body))
	}
	_ = tw.WriteHeader(&tar.Header{Name: "top/link", Typeflag: tar.TypeSymlink, Linkname: "a.txt"})
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	_ = zw.Close()
	_ = f.Close()
}

func setupFetchInputs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeTarGz(t, filepath.Join(dir, "t.tar.gz"), map[string]string{"a.txt": "hello\n", "sub/run.sh": "#!/bin/sh\n"})
	if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte("file content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestFetchersDifferential compares fetchurl/fetchTarball/fetchGit on local
// inputs with Nix 2.8.
func TestFetchersDifferential(t *testing.T) {
	dir := setupFetchInputs(t)
	exprs := []string{
		`builtins.fetchurl "file://` + dir + `/f.txt"`,
		`builtins.fetchurl { url = "file://` + dir + `/f.txt"; name = "renamed"; sha256 = "1pv19sl41q6swa2jsz99lk85dh4m4v2dnpfdfcrip1n447q2fjv9"; }`,
		`builtins.fetchTarball "file://` + dir + `/t.tar.gz"`,
		`builtins.fetchTarball { url = "file://` + dir + `/t.tar.gz"; name = "tb"; }`,
	}
	if _, err := exec.LookPath("git"); err == nil {
		repo := filepath.Join(dir, "repo")
		git := func(args ...string) {
			cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.email=a@b", "-c", "user.name=n", "-c", "commit.gpgsign=false"}, args...)...)
			cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE=2020-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2020-01-01T00:00:00Z")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("git %v: %v %s", args, err, out)
			}
		}
		_ = os.MkdirAll(filepath.Join(repo, "d"), 0o755)
		git("init", "-q")
		_ = os.WriteFile(filepath.Join(repo, "x"), []byte("one\n"), 0o644)
		_ = os.WriteFile(filepath.Join(repo, "d", "y.sh"), []byte("two\n"), 0o755)
		git("add", ".")
		git("commit", "-qm", "one")
		_ = os.WriteFile(filepath.Join(repo, "z"), []byte("three\n"), 0o644)
		git("add", "z")
		git("commit", "-qm", "two")
		f := `let f = r: builtins.removeAttrs r [ "outPath" ] // { p = r.outPath; }; in f `
		exprs = append(exprs,
			f+`(builtins.fetchGit `+repo+`)`,
			f+`(builtins.fetchGit { url = "file://`+repo+`"; ref = "HEAD"; })`,
		)
		// a dirty tree: tracked changes and an untracked file
		defer func() {
			_ = os.WriteFile(filepath.Join(repo, "x"), []byte("dirty\n"), 0o644)
			_ = os.WriteFile(filepath.Join(repo, "untracked"), []byte("u\n"), 0o644)
			e := f + `(builtins.fetchGit ` + repo + `)`
			want := nixInstantiate(t, dir, e)
			if got := evalJSON(t, Options{}, e, dir); !jsonEqual(t, got, want) {
				t.Errorf("dirty fetchGit:\n got %s\nwant %s", got, want)
			}
		}()
	}
	for _, e := range exprs {
		want := nixInstantiate(t, dir, e)
		got := evalJSON(t, Options{}, e, dir)
		if !jsonEqual(t, got, want) {
			t.Errorf("%s\n got %s\nwant %s", e, got, want)
		}
	}
}

func TestFetchurlHTTPAndHashMismatch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/f.txt" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, "file content\n")
	}))
	defer srv.Close()
	dir := setupFetchInputs(t)
	viaHTTP := evalJSON(t, Options{}, `builtins.fetchurl "`+srv.URL+`/f.txt"`, dir)
	viaFile := evalJSON(t, Options{}, `builtins.fetchurl "file://`+dir+`/f.txt"`, dir)
	if viaHTTP != viaFile || !strings.Contains(viaHTTP, "-f.txt") {
		t.Errorf("http %s, file %s", viaHTTP, viaFile)
	}
	for _, e := range []string{
		`builtins.fetchurl { url = "` + srv.URL + `/f.txt"; sha256 = "0000000000000000000000000000000000000000000000000000"; }`,
		`builtins.fetchTarball { url = "file://` + dir + `/t.tar.gz"; sha256 = "0000000000000000000000000000000000000000000000000000"; }`,
		`builtins.fetchurl "` + srv.URL + `/missing"`,
		`builtins.fetchurl { url = "x"; bad = 1; }`,
	} {
		ev := New(context.Background(), Options{Paths: ReadOnlyPaths{}, Stderr: io.Discard})
		if _, err := ev.EvalString(e, "«test»", dir); err == nil {
			t.Errorf("%s: expected an error", e)
		}
	}
}

// A pinned fetchurl or fetchTarball whose fixed-output path the store has
// is not downloaded again (as in Nix): with the source gone it still
// evaluates, to the same path; a store without the path needs the source.
func TestFetchPinnedSkipsDownload(t *testing.T) {
	dir := setupFetchInputs(t)
	data, err := os.ReadFile(filepath.Join(dir, "f.txt"))
	if err != nil {
		t.Fatal(err)
	}
	unpacked, err := unpackArchive(context.Background(), filepath.Join(dir, "t.tar.gz"), filepath.Join(t.TempDir(), "u"))
	if err != nil {
		t.Fatal(err)
	}
	treeHash, _, err := nar.HashPath(context.Background(), unpacked, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ file, expr string }{
		{"f.txt", `builtins.fetchurl { url = "file://` + dir + `/f.txt"; sha256 = "` + hash.Sum(hash.SHA256, data).Base32() + `"; }`},
		{"t.tar.gz", `builtins.fetchTarball { url = "file://` + dir + `/t.tar.gz"; sha256 = "` + treeHash.Base32() + `"; }`},
	} {
		st := &validityStore{memStore: newMemStore(), valid: map[string]bool{}}
		first, _, err := gitCacheEval(t, t.TempDir(), st, c.expr)
		if err != nil {
			t.Fatal(err)
		}
		src := filepath.Join(dir, c.file)
		if err := os.Rename(src, src+".away"); err != nil {
			t.Fatal(err)
		}
		if got, _, err := gitCacheEval(t, t.TempDir(), st, c.expr); err != nil || got != first {
			t.Errorf("%s gone, path valid: got %s (%v), want %s", c.file, got, err, first)
		}
		empty := &validityStore{memStore: newMemStore(), valid: map[string]bool{}}
		if _, _, err := gitCacheEval(t, t.TempDir(), empty, c.expr); err == nil || !strings.Contains(err.Error(), "unable to download") {
			t.Errorf("%s gone, path not valid: error %v, want a failed download", c.file, err)
		}
		if err := os.Rename(src+".away", src); err != nil {
			t.Fatal(err)
		}
	}
}

// An unpinned fetchurl or fetchTarball is remembered as Nix's fetcher
// cache does: within tarball-ttl no request is made; after it, the request
// carries the ETag and a 304 keeps the path; an unreachable server falls
// back to the cached path with Nix's warning; changed content gives a new
// path; a store without the cached path downloads again.
func TestFetchUnpinnedCache(t *testing.T) {
	dir := setupFetchInputs(t)
	var mu sync.Mutex
	requests, conditional := 0, 0
	body, etag := "version 1\n", `"v1"`
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		requests++
		if r.URL.Path == "/t.tar.gz" {
			http.ServeFile(w, r, filepath.Join(dir, "t.tar.gz"))
			return
		}
		if r.Header.Get("If-None-Match") != "" {
			conditional++
			if r.Header.Get("If-None-Match") == etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		w.Header().Set("ETag", etag)
		io.WriteString(w, body)
	}))
	defer ts.Close()
	cache := t.TempDir()
	st := &validityStore{memStore: newMemStore(), valid: map[string]bool{}}
	eval := func(s Store, expr string) (string, string) {
		t.Helper()
		got, warn, err := gitCacheEval(t, cache, s, expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return got, warn
	}
	count := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return requests, conditional
	}
	age := func() { // make every cached download older than tarball-ttl
		t.Helper()
		files, _ := filepath.Glob(filepath.Join(cache, "downloads", "*"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			var e downloadEntry
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatal(err)
			}
			e.Fetched -= 2 * 3600
			b, _ = json.Marshal(e)
			if err := os.WriteFile(f, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	file := `builtins.fetchurl "` + ts.URL + `/f"`
	tarball := `builtins.fetchTarball "` + ts.URL + `/t.tar.gz"`
	p1, _ := eval(st, file)
	tb, _ := eval(st, tarball)
	if n, _ := count(); n != 2 {
		t.Fatalf("%d requests for two downloads", n)
	}
	if p, _ := eval(st, file); p != p1 {
		t.Errorf("within the TTL: %s, want %s", p, p1)
	}
	if p, _ := eval(st, tarball); p != tb {
		t.Errorf("tarball within the TTL: %s, want %s", p, tb)
	}
	if n, _ := count(); n != 2 {
		t.Errorf("%d requests within the TTL, want none beyond the first two", n)
	}
	// tarball-ttl = 0: every fetch asks (and a 304 keeps the path).
	if p, _, err := fetchEval(t, Options{CacheDir: cache, TarballTTL: AlwaysRevalidate}, st, file); err != nil || p != p1 {
		t.Errorf("tarball-ttl 0: %s (%v), want %s", p, err, p1)
	}
	if n, c := count(); n != 3 || c != 1 {
		t.Errorf("tarball-ttl 0: %d requests (%d conditional), want one more, conditional", n, c)
	}
	mu.Lock()
	requests, conditional = 2, 0 // as if that had not happened
	mu.Unlock()

	age()
	if p, _ := eval(st, file); p != p1 {
		t.Errorf("after a 304: %s, want %s", p, p1)
	}
	if n, c := count(); n != 3 || c != 1 {
		t.Errorf("stale entry: %d requests (%d conditional), want one conditional", n, c)
	}

	mu.Lock()
	body, etag = "version 2\n", `"v2"`
	mu.Unlock()
	age()
	p2, _ := eval(st, file)
	if p2 == p1 {
		t.Errorf("changed content kept the old path %s", p1)
	}

	empty := &validityStore{memStore: newMemStore(), valid: map[string]bool{}}
	before, _ := count()
	if p, _ := eval(empty, file); p != p2 {
		t.Errorf("store without the path: %s, want %s", p, p2)
	}
	if n, _ := count(); n != before+1 {
		t.Errorf("a store without the cached path did not download again")
	}

	age()
	ts.Close()
	p, warn := eval(st, file)
	if p != p2 || !strings.Contains(warn, "warning: unable to download '"+ts.URL+"/f'") || !strings.Contains(warn, "using cached version") {
		t.Errorf("server gone: %s, warning %q; want %s and Nix's warning", p, warn, p2)
	}
}
