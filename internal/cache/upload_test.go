package cache

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onix-dev/onix/internal/nixcompat/nixbase32"
)

// cacheFiles lists the regular files under dir (relative, slash-separated).
func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

// noTempFiles asserts no in-progress upload is left in dir.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	for _, f := range cacheFiles(t, dir) {
		if strings.Contains(f, ".upload-") {
			t.Errorf("temporary file left in cache: %s", f)
		}
	}
}

func doPut(t *testing.T, url, body string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), http.MethodPut, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(msg)
}

func narName(body string) string {
	sum := sha256.Sum256([]byte(body))
	return "nar/" + nixbase32.EncodeToString(sum[:]) + ".nar"
}

// Upload to a writable server, then substitute from it; the read-only
// server refuses uploads with 405 and a clear error from CopyTo.
func TestHTTPUploadRoundTrip(t *testing.T) {
	ctx := testCtx(t)
	src := newStore(t)
	paths := makeClosure(t, src, 7, 30000, 11)
	top := paths[len(paths)-1]
	key, _ := GenerateKey("upload-1")

	ro := httptest.NewServer(&Server{Dir: t.TempDir()})
	defer ro.Close()
	c, err := Open(ctx, ro.URL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = CopyTo(ctx, src, c, []string{top}, CopyToOptions{})
	if err == nil || !strings.Contains(err.Error(), "405") || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("upload to read-only server: %v", err)
	}

	for _, comp := range []string{"xz", "zstd", "none"} {
		t.Run(comp, func(t *testing.T) {
			dir := t.TempDir()
			ts := httptest.NewServer(&Server{Dir: dir, Writable: true})
			defer ts.Close()
			c, err := Open(ctx, ts.URL+"?compression="+comp, Options{})
			if err != nil {
				t.Fatal(err)
			}
			copied, err := CopyTo(ctx, src, c, []string{top}, CopyToOptions{SignKey: &key})
			if err != nil {
				t.Fatal(err)
			}
			if len(copied) != len(paths) {
				t.Fatalf("copied %d paths, want %d", len(copied), len(paths))
			}
			noTempFiles(t, dir)
			if got := readFile(t, filepath.Join(dir, CacheInfoFile)); got != "StoreDir: /nix/store\n" {
				t.Errorf("nix-cache-info = %q", got)
			}
			dst := newStore(t)
			c2, _ := Open(ctx, ts.URL, Options{})
			if _, err := CopyFrom(ctx, c2, []string{top}, dst, CopyFromOptions{TrustedPublicKeys: []string{key.Public().String()}, RequireSigs: true}); err != nil {
				t.Fatal(err)
			}
			checkStoreClean(t, dst, paths)
		})
	}
}

func TestHTTPUploadRefused(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "cache")
	os.Mkdir(dir, 0o755)
	ts := httptest.NewServer(&Server{Dir: dir, Writable: true})
	defer ts.Close()

	narBody := "not really a nar, but hashed correctly"
	nar := narName(narBody)
	okInfo := "StorePath: /nix/store/" + strings.Repeat("a", 32) + "-x\nURL: " + nar +
		"\nCompression: none\nNarHash: sha256:" + strings.Repeat("0", 52) + "\nNarSize: 38\nReferences: \n"
	cases := []struct {
		name, path, body string
		status           int
		msg              string
	}{
		{"escape", "/nar/%2e%2e/%2e%2e/escaped.nar", "x", 400, "invalid cache file name"},
		{"escape2", "/%2e%2e/escaped", "x", 400, "invalid cache file name"},
		{"backslash", "/nar/..%5c..%5cescaped", "x", 400, "invalid cache file name"},
		{"hidden", "/nar/.upload-123", "x", 400, "hidden"},
		{"garbage narinfo", "/" + strings.Repeat("a", 32) + ".narinfo", "this is not a narinfo\n", 400, "invalid narinfo"},
		{"bad narinfo name", "/xyz.narinfo", okInfo, 400, "invalid narinfo name"},
		{"narinfo for other path", "/" + strings.Repeat("b", 32) + ".narinfo", okInfo, 400, "describes"},
		{"narinfo before nar", "/" + strings.Repeat("a", 32) + ".narinfo", okInfo, 409, "upload the NAR first"},
		{"nar hash mismatch", "/" + narName("other"), narBody, 400, "not the hash in its name"},
		{"nar bad name", "/nar/foo.nar", narBody, 400, "invalid NAR name"},
		{"nar nested", "/nar/a/" + strings.TrimPrefix(nar, "nar/"), narBody, 403, "not a binary cache file"},
		{"listing", "/" + strings.Repeat("a", 32) + ".ls", "{}", 403, "not accepted"},
		{"log", "/log/" + strings.Repeat("a", 32) + "-x.drv", "log", 403, "not accepted"},
		{"other", "/index.html", "<html>", 403, "not a binary cache file"},
		{"bad cache info", "/nix-cache-info", "WantMassQuery: 1\n", 400, "StoreDir"},
		{"bad cache info priority", "/nix-cache-info", "StoreDir: /nix/store\nPriority: x\n", 400, "Priority"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, msg := doPut(t, ts.URL+tc.path, tc.body)
			if status != tc.status || !strings.Contains(msg, tc.msg) {
				t.Errorf("PUT %s: %d %q, want %d %q", tc.path, status, msg, tc.status, tc.msg)
			}
		})
	}
	if files := cacheFiles(t, parent); len(files) != 0 {
		t.Errorf("refused uploads left files: %v", files)
	}

	// The good sequence: NAR, then its narinfo.
	if status, msg := doPut(t, ts.URL+"/"+nar, narBody); status != http.StatusCreated {
		t.Fatalf("PUT nar: %d %s", status, msg)
	}
	if status, msg := doPut(t, ts.URL+"/"+strings.Repeat("a", 32)+".narinfo", okInfo); status != http.StatusCreated {
		t.Fatalf("PUT narinfo: %d %s", status, msg)
	}
	if status, msg := doPut(t, ts.URL+"/"+strings.Repeat("a", 32)+".narinfo", okInfo); status != http.StatusNoContent {
		t.Fatalf("PUT narinfo again: %d %s", status, msg)
	}
	if got := readFile(t, filepath.Join(dir, strings.Repeat("a", 32)+".narinfo")); got != okInfo {
		t.Errorf("stored narinfo %q", got)
	}

	// A symlink inside the cache cannot redirect writes outside it.
	outside := filepath.Join(parent, "outside")
	os.Mkdir(outside, 0o755)
	if err := os.RemoveAll(filepath.Join(dir, "nar")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "nar")); err != nil {
		t.Fatal(err)
	}
	if status, _ := doPut(t, ts.URL+"/"+nar, narBody); status/100 == 2 {
		t.Errorf("PUT through symlink escaping the cache: %d", status)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("upload escaped the cache: %v", ents)
	}
}

// A NAR upload cut short never becomes visible under its name.
func TestHTTPUploadTruncated(t *testing.T) {
	dir := t.TempDir()
	logged := make(chan string, 10)
	ts := httptest.NewServer(&Server{Dir: dir, Writable: true, Logf: func(f string, a ...any) { logged <- fmt.Sprintf(f, a...) }})
	defer ts.Close()
	body := strings.Repeat("nar data ", 100000)
	name := narName(body)
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT /%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", name, len(body), body[:len(body)/2])
	conn.Close()
	select {
	case msg := <-logged:
		if !strings.Contains(msg, "refused") {
			t.Errorf("server log: %s", msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not notice the truncated upload")
	}
	if files := cacheFiles(t, dir); len(files) != 0 {
		t.Errorf("truncated upload left %v", files)
	}
	// The full upload then succeeds.
	if status, msg := doPut(t, ts.URL+"/"+name, body); status != http.StatusCreated {
		t.Fatalf("PUT: %d %s", status, msg)
	}
	if got := readFile(t, filepath.Join(dir, filepath.FromSlash(name))); got != body {
		t.Error("stored NAR differs")
	}
}

// With WriteAuth, uploads need basic auth (URL credentials, as from a
// netrc) or a bearer token; reads stay open.
func TestHTTPUploadAuth(t *testing.T) {
	ctx := testCtx(t)
	src := newStore(t)
	paths := makeClosure(t, src, 3, 1000, 12)
	top := paths[len(paths)-1]
	dir := t.TempDir()
	ts := httptest.NewServer(&Server{Dir: dir, Writable: true, WriteAuth: "alice:s3cret"})
	defer ts.Close()
	host := strings.TrimPrefix(ts.URL, "http://")

	for _, u := range []string{ts.URL, "http://alice:wrong@" + host} {
		c, err := Open(ctx, u, Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = CopyTo(ctx, src, c, []string{top}, CopyToOptions{})
		if err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("upload without valid credentials: %v", err)
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Errorf("password leaked into error: %v", err)
		}
	}
	if st, _ := doPut(t, ts.URL+"/nix-cache-info", "StoreDir: /nix/store\n", "Authorization", "Bearer alice:s3cret"); st != http.StatusCreated {
		t.Errorf("bearer token: %d", st)
	}
	c, err := Open(ctx, "http://alice:s3cret@"+host, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(c.URL(), "s3cret") {
		t.Errorf("URL() leaks the password: %s", c.URL())
	}
	if _, err := CopyTo(ctx, src, c, []string{top}, CopyToOptions{}); err != nil {
		t.Fatal(err)
	}
	dst := newStore(t)
	c2, _ := Open(ctx, ts.URL, Options{})
	if _, err := CopyFrom(ctx, c2, []string{top}, dst, CopyFromOptions{}); err != nil {
		t.Fatal(err)
	}
	checkStoreClean(t, dst, paths)
}

// Nix 2.8 uploads (`nix copy --to http://...`, with netrc credentials) to
// a writable onix server, and onix substitutes what it uploaded, checking
// the signature Nix's store carried.
func TestNixUploadsToOnixServer(t *testing.T) {
	requireNix(t)
	ctx := testCtx(t)
	src := newStore(t)
	paths := makeClosure(t, src, 5, 40000, 13)
	top := paths[len(paths)-1]
	key, _ := GenerateKey("nix-upload-1")
	pub := key.Public().String()
	tmp := t.TempDir()
	keyFile := filepath.Join(tmp, "secret.key")
	os.WriteFile(keyFile, []byte(key.String()), 0o600)

	// Get the closure into a temporary Nix store, unsigned, then sign it
	// there with `nix store sign`.
	fdir := filepath.Join(tmp, "file-cache")
	fc, _ := Open(ctx, "file://"+fdir, Options{})
	if _, err := CopyTo(ctx, src, fc, []string{top}, CopyToOptions{}); err != nil {
		t.Fatal(err)
	}
	nixRoot := filepath.Join(tmp, "nixroot")
	mustNix(t, tmp, "nix", "copy", "--no-check-sigs", "--from", "file://"+fdir, "--to", "local?root="+nixRoot, top)
	mustNix(t, tmp, "nix", "store", "sign", "--store", "local?root="+nixRoot, "--key-file", keyFile, "--recursive", top)

	serve := func(dir string) string {
		os.MkdirAll(dir, 0o755)
		srv := &Server{Dir: dir, Writable: true, WriteAuth: "nixuser:pw", Logf: t.Logf}
		addr := make(chan net.Addr, 1)
		sctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- ListenAndServe(sctx, "127.0.0.1:0", srv, func(a net.Addr) { addr <- a }) }()
		t.Cleanup(func() { stop(); <-done })
		select {
		case a := <-addr:
			return "http://" + a.String()
		case err := <-done:
			t.Fatal(err)
		}
		return ""
	}

	// Without credentials Nix's upload is refused. (With nix-cache-info
	// present Nix gets as far as uploading a NAR; otherwise its failed
	// nix-cache-info upload is reported as "not a binary cache".)
	denied := filepath.Join(tmp, "http-cache-denied")
	os.MkdirAll(denied, 0o755)
	os.WriteFile(filepath.Join(denied, CacheInfoFile), []byte("StoreDir: /nix/store\n"), 0o644)
	if out, err := runNix(t, tmp, "nix", "copy", "--store", "local?root="+nixRoot, "--to", serve(denied), top); err == nil || !strings.Contains(out, "401") {
		t.Fatalf("nix upload without credentials: %v\n%s", err, out)
	}
	if files := cacheFiles(t, denied); len(files) != 1 {
		t.Errorf("refused upload left files: %v", files)
	}

	// With netrc credentials Nix creates the cache and uploads the closure.
	dir := filepath.Join(tmp, "http-cache")
	url := serve(dir)
	netrc := filepath.Join(tmp, "netrc")
	os.WriteFile(netrc, []byte("machine 127.0.0.1 login nixuser password pw\n"), 0o600)
	mustNix(t, tmp, "nix", "copy", "--option", "netrc-file", netrc, "--store", "local?root="+nixRoot, "--to", url, top)
	if got := readFile(t, filepath.Join(dir, CacheInfoFile)); !strings.Contains(got, "StoreDir: /nix/store") {
		t.Errorf("nix-cache-info uploaded by Nix: %q", got)
	}
	noTempFiles(t, dir)
	nars := 0
	for _, f := range cacheFiles(t, dir) {
		if strings.HasPrefix(f, "nar/") && strings.HasSuffix(f, ".nar.xz") {
			nars++
		}
	}
	if nars != len(paths) {
		t.Errorf("%d .nar.xz files uploaded, want %d: %v", nars, len(paths), cacheFiles(t, dir))
	}

	c, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CopyFrom(ctx, c, []string{top}, newStore(t), CopyFromOptions{RequireSigs: true}); err == nil {
		t.Fatal("onix accepted Nix's upload without trusting its key")
	}
	dst := newStore(t)
	m, err := NewSubstituter([]string{url}, SubstituterOptions{TrustedPublicKeys: []string{pub}, RequireSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Fetch(ctx, top, dst); err != nil {
		t.Fatal(err)
	}
	checkStoreClean(t, dst, paths)
}
