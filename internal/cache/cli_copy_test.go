package cache_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onix-dev/onix/internal/cache"
	"github.com/onix-dev/onix/internal/cli"
	"github.com/onix-dev/onix/internal/store"
)

// serveWritable runs the server `onix cache serve --cache DIR --writable`
// runs, in-process on 127.0.0.1:0, and returns its URL.
func serveWritable(t *testing.T, srv *cache.Server) string {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- cache.ListenAndServe(ctx, "127.0.0.1:0", srv, func(a net.Addr) { addr <- a }) }()
	t.Cleanup(func() { stop(); <-done })
	select {
	case a := <-addr:
		return "http://" + a.String()
	case err := <-done:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	return ""
}

// `onix copy --to http://...` uploads to a writable server and
// `onix copy --from` substitutes it into a fresh store, verifying
// signatures and hashes.
func TestCLICopyToHTTP(t *testing.T) {
	src := cache.NewStoreT(t)
	paths := cache.MakeClosureT(t, src, 6, 20000, 21)
	top := paths[len(paths)-1]
	tmp := t.TempDir()
	key, _ := cache.GenerateKey("cli-upload-1")
	keyFile := filepath.Join(tmp, "secret.key")
	os.WriteFile(keyFile, []byte(key.String()), 0o600)
	pub := key.Public().String()

	// Flag checks of `onix cache serve`.
	for _, args := range [][]string{
		{"cache", "serve", "--listen", "127.0.0.1:0", "--writable"},
		{"cache", "serve", "--listen", "127.0.0.1:0", "--cache", tmp, "--auth-file", keyFile},
	} {
		if code := cli.Main(args); code == 0 {
			t.Errorf("onix %s succeeded", strings.Join(args, " "))
		}
	}

	ro := serveWritable(t, &cache.Server{Dir: t.TempDir()})
	if code := cli.Main([]string{"--store", src.Root(), "copy", "--to", ro, top}); code == 0 {
		t.Error("onix copy --to a read-only server succeeded")
	}

	dir := filepath.Join(tmp, "cache")
	os.Mkdir(dir, 0o755)
	url := serveWritable(t, &cache.Server{Dir: dir, Writable: true})
	if code := cli.Main([]string{"--store", src.Root(), "copy", "--to", url + "?compression=zstd", "--sign-key", keyFile, top}); code != 0 {
		t.Fatalf("onix copy --to %s: exit %d", url, code)
	}
	var nars int
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".nar.zst") {
			nars++
		}
		return nil
	})
	if nars != len(paths) {
		t.Errorf("%d zstd NARs in the cache, want %d", nars, len(paths))
	}

	// Unsigned-trust is refused, the right key works.
	root := filepath.Join(tmp, "dst")
	if code := cli.Main([]string{"--store", filepath.Join(tmp, "dst-untrusted"), "copy", "--from", url, top}); code == 0 {
		t.Error("onix copy --from without the trusted key succeeded")
	}
	if code := cli.Main([]string{"--store", root, "copy", "--from", url, "--option", "trusted-public-keys=" + pub, top}); code != 0 {
		t.Fatalf("onix copy --from %s: exit %d", url, code)
	}
	dst, err := store.Open(context.Background(), store.Options{Root: root, ReservedSpace: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	cache.CheckStoreCleanT(t, dst, paths)

	// And the uploaded files are served back as uploaded.
	resp, err := http.Get(url + "/nix-cache-info")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET nix-cache-info: %s", resp.Status)
	}
}
