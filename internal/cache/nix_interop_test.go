package cache

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/store"
)

// nixPathInfo returns narHash (SRI or prefixed, as Nix prints it) by path,
// from `nix path-info --json` against storeURL.
func nixPathInfo(t *testing.T, tmp, storeURL string, paths []string) map[string]map[string]any {
	t.Helper()
	out := mustNix(t, tmp, "nix", append([]string{"path-info", "--json", "--store", storeURL}, paths...)...)
	var infos []map[string]any
	if err := json.Unmarshal([]byte(out[strings.Index(out, "["):]), &infos); err != nil {
		t.Fatalf("path-info output: %v\n%s", err, out)
	}
	res := map[string]map[string]any{}
	for _, in := range infos {
		res[in["path"].(string)] = in
	}
	return res
}

// checkNixHas asserts Nix sees paths as valid in the store at root with
// the same NAR hashes as src, and that `nix store verify` is clean.
func checkNixHas(t *testing.T, tmp, root string, src *store.Store, paths []string) {
	t.Helper()
	ctx := testCtx(t)
	infos := nixPathInfo(t, tmp, "local?root="+root, paths)
	for _, p := range paths {
		in, ok := infos[p]
		if !ok || in["valid"] == false {
			t.Errorf("nix: %s not valid", p)
			continue
		}
		pi, err := src.QueryPathInfo(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := hash.ParseAnyPrefixed(in["narHash"].(string))
		if err != nil || !got.Equal(pi.NarHash) {
			t.Errorf("nix: %s narHash %v, want %s", p, in["narHash"], pi.NarHash)
		}
	}
	mustNix(t, tmp, "nix", append([]string{"store", "verify", "--store", "local?root=" + root, "--no-trust"}, paths...)...)
}

// Nix 2.8 substitutes from caches onix wrote (file://, each compression),
// and onix substitutes from caches Nix wrote from that store (signed with
// secret-key=, or unsigned and then signed with `nix store sign`).
func TestNixInteropFileCaches(t *testing.T) {
	requireNix(t)
	ctx := testCtx(t)
	src := newStore(t)
	paths := makeClosure(t, src, 6, 20000, 3)
	top := paths[len(paths)-1]
	key, _ := GenerateKey("onix-interop-1")
	tmp := t.TempDir()
	keyFile := filepath.Join(tmp, "secret.key")
	os.WriteFile(keyFile, []byte(key.String()), 0o600)
	pub := key.Public().String()

	for _, comp := range []string{"xz", "zstd", "none"} {
		t.Run(comp, func(t *testing.T) {
			// onix -> cache -> Nix
			odir := filepath.Join(tmp, "onix-"+comp)
			c, err := Open(ctx, "file://"+odir+"?compression="+comp, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := CopyTo(ctx, src, c, []string{top}, CopyToOptions{SignKey: &key}); err != nil {
				t.Fatal(err)
			}
			nixRoot := filepath.Join(tmp, "nixroot-"+comp)
			mustNix(t, tmp, "nix", "copy", "--from", "file://"+odir, "--to", "local?root="+nixRoot,
				"--option", "trusted-public-keys", pub, top)
			checkNixHas(t, tmp, nixRoot, src, paths)

			// Nix must refuse the cache without the key (it checks sigs too).
			if out, err := runNix(t, tmp, "nix", "copy", "--from", "file://"+odir, "--to", "local?root="+filepath.Join(tmp, "nixroot-untrusted-"+comp), top); err == nil {
				t.Errorf("nix accepted an untrusted onix cache:\n%s", out)
			}

			// Nix store -> Nix-written cache -> onix, signed on write.
			ndir := filepath.Join(tmp, "nix-"+comp)
			mustNix(t, tmp, "nix", "copy", "--store", "local?root="+nixRoot,
				"--to", "file://"+ndir+"?compression="+comp+"&secret-key="+keyFile, top)
			dst := newStore(t)
			nc, err := Open(ctx, "file://"+ndir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := CopyFrom(ctx, nc, []string{top}, dst, CopyFromOptions{TrustedPublicKeys: []string{pub}, RequireSigs: true}); err != nil {
				t.Fatal(err)
			}
			checkStoreClean(t, dst, paths)

			// An unsigned Nix cache (paths imported into Nix unsigned),
			// refused by onix until signed with `nix store sign`.
			uodir := filepath.Join(tmp, "onix-unsigned-"+comp)
			uo, _ := Open(ctx, "file://"+uodir+"?compression="+comp, Options{})
			if _, err := CopyTo(ctx, src, uo, []string{top}, CopyToOptions{}); err != nil {
				t.Fatal(err)
			}
			nixRoot2 := filepath.Join(tmp, "nixroot-unsigned-"+comp)
			mustNix(t, tmp, "nix", "copy", "--no-check-sigs", "--from", "file://"+uodir, "--to", "local?root="+nixRoot2, top)
			udir := filepath.Join(tmp, "nix-unsigned-"+comp)
			mustNix(t, tmp, "nix", "copy", "--store", "local?root="+nixRoot2, "--to", "file://"+udir+"?compression="+comp, top)
			uc, _ := Open(ctx, "file://"+udir, Options{})
			_, err = CopyFrom(ctx, uc, []string{top}, newStore(t), CopyFromOptions{TrustedPublicKeys: []string{pub}, RequireSigs: true})
			if err == nil || !strings.Contains(err.Error(), "not signed") {
				t.Fatalf("unsigned Nix cache with require-sigs: %v", err)
			}
			mustNix(t, tmp, "nix", "store", "sign", "--store", "file://"+udir, "--key-file", keyFile, "--recursive", top)
			dst2 := newStore(t)
			uc, _ = Open(ctx, "file://"+udir, Options{})
			if _, err := CopyFrom(ctx, uc, []string{top}, dst2, CopyFromOptions{TrustedPublicKeys: []string{pub}, RequireSigs: true}); err != nil {
				t.Fatalf("after nix store sign: %v", err)
			}
			checkStoreClean(t, dst2, paths)
		})
	}
}

// Nix 2.8 substitutes over HTTP from onix's server, both nix-serve style
// (from the store, signed on the fly) and serving a file cache directory.
func TestNixInteropHTTP(t *testing.T) {
	requireNix(t)
	ctx := testCtx(t)
	src := newStore(t)
	paths := makeClosure(t, src, 5, 50000, 4)
	top := paths[len(paths)-1]
	key, _ := GenerateKey("onix-serve-1")
	pub := key.Public().String()
	tmp := t.TempDir()

	cdir := filepath.Join(tmp, "cache")
	c, _ := Open(ctx, "file://"+cdir+"?compression=zstd", Options{})
	if _, err := CopyTo(ctx, src, c, []string{top}, CopyToOptions{SignKey: &key}); err != nil {
		t.Fatal(err)
	}
	for name, srv := range map[string]*Server{
		"store": {Store: src, SignKey: &key},
		"dir":   {Dir: cdir},
	} {
		t.Run(name, func(t *testing.T) {
			ts := httptest.NewServer(srv)
			defer ts.Close()
			root := filepath.Join(tmp, "nixroot-"+name)
			mustNix(t, tmp, "nix", "copy", "--from", ts.URL, "--to", "local?root="+root,
				"--option", "trusted-public-keys", pub, top)
			checkNixHas(t, tmp, root, src, paths)
		})
	}
}
