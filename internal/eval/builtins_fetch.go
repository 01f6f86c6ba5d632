package eval

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/onix-dev/onix/internal/eval/syntax"
	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/nar"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

func registerFetch(r *registry, st *storeState) {
	r.Add("__fetchurl", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		return st.fetch(pos, a[0], "fetchurl", false, "")
	})
	r.Add("fetchTarball", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		return st.fetch(pos, a[0], "fetchTarball", true, "source")
	})
	r.Add("fetchGit", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		return st.fetchGit(pos, a[0])
	})
}

// fetch implements fetchurl and fetchTarball (Nix's prim fetch helper).
func (st *storeState) fetch(pos syntax.Pos, arg *Value, who string, unpack bool, name string) *Value {
	ev := st.ev
	ev.force(arg)
	var rawURL string
	var expected *hash.Hash
	if arg.kind == KAttrs {
		haveURL := false
		for _, at := range ev.sortedAttrs(arg.Attrs()) {
			switch n := ev.syms.Name(at.Name); n {
			case "url":
				rawURL = ev.ForceStringNoCtx(pos, at.Val)
				haveURL = true
			case "sha256":
				h := st.parseHashAllowEmpty(pos, ev.ForceStringNoCtx(pos, at.Val), hash.SHA256)
				expected = &h
			case "name":
				name = ev.ForceStringNoCtx(pos, at.Val)
			default:
				ev.errorAt(derefPos(at.Pos), "unsupported argument '%s' to '%s'", n, who)
			}
		}
		if !haveURL {
			ev.errorAt(pos, "'url' argument required")
		}
	} else {
		rawURL = ev.ForceStringNoCtx(pos, arg)
	}
	if name == "" {
		name = rawURL
		if i := strings.LastIndexByte(strings.TrimSuffix(rawURL, "/"), '/'); i >= 0 {
			name = strings.TrimSuffix(rawURL[i+1:], "/")
		}
		if name == "" {
			ev.errorAt(pos, "cannot derive a store path name from the URL '%s'; please pass a 'name' argument to '%s'", rawURL, who)
		}
	}
	// Pinned and already in the store: no download (as Nix).
	if expected != nil && expected.Algo == hash.SHA256 {
		method := storepath.Flat
		if unpack {
			method = storepath.Recursive
		}
		if sp, err := st.sd.MakeFixedOutputPath(name, method, *expected, nil, false); err == nil && st.validInStore(st.sd.Path(sp)) {
			p := st.sd.Path(sp)
			return MkStringCtx(p, NewContext(p))
		}
	}
	// Unpinned: a download of the last tarball-ttl whose path is valid is
	// used as it is (as Nix's fetcher cache).
	kind := "file"
	if unpack {
		kind = "tarball"
	}
	dc := downloadCacheFor(ev)
	var cached *downloadEntry
	if expected == nil {
		if e, ok := dc.lookup(kind, rawURL, name); ok && st.validInStore(e.Path) {
			if e.fresh(time.Now(), tarballTTL(ev)) {
				return MkStringCtx(e.Path, NewContext(e.Path))
			}
			cached = e
		}
	}
	tmp, err := os.MkdirTemp("", "onix-fetch-")
	if err != nil {
		ev.errorAt(pos, "%s", err)
	}
	defer os.RemoveAll(tmp)
	file := filepath.Join(tmp, "download")
	etag := ""
	if cached != nil {
		etag = cached.ETag
	}
	etag, notModified, err := downloadFile(ev.ctx, rawURL, file, etag)
	switch {
	case err != nil && cached != nil:
		fmt.Fprintf(ev.opts.Stderr, "warning: unable to download '%s': %s; using cached version\n", rawURL, err)
		return MkStringCtx(cached.Path, NewContext(cached.Path))
	case err != nil:
		ev.errorAt(pos, "unable to download '%s': %s", rawURL, err)
	case notModified:
		cached.Fetched = time.Now().Unix()
		dc.save(kind, rawURL, name, *cached)
		return MkStringCtx(cached.Path, NewContext(cached.Path))
	}
	var p string
	if unpack {
		dir := filepath.Join(tmp, "unpack")
		top, err := unpackArchive(ev.ctx, file, dir)
		if errors.Is(err, errTopLevel) {
			ev.errorAt(pos, "tarball '%s' contains an unexpected number of top-level files", rawURL)
		}
		if err != nil {
			ev.errorAt(pos, "unpacking '%s': %s", rawURL, err)
		}
		p = st.addPath(pos, name, top, true, nil, nil)
		if expected != nil {
			got, _, err := nar.HashPath(ev.ctx, top, nil)
			if err != nil {
				ev.errorAt(pos, "%s", err)
			}
			st.checkHash(pos, rawURL, *expected, got)
		}
	} else {
		p = st.addPath(pos, name, file, false, nil, nil)
		if expected != nil {
			b, err := os.ReadFile(file)
			if err != nil {
				ev.errorAt(pos, "%s", err)
			}
			st.checkHash(pos, rawURL, *expected, hash.Sum(hash.SHA256, b))
		}
	}
	if expected == nil && ev.opts.Store != nil {
		dc.save(kind, rawURL, name, downloadEntry{Path: p, ETag: etag, Fetched: time.Now().Unix()})
	}
	return MkStringCtx(p, NewContext(p))
}

func (st *storeState) checkHash(pos syntax.Pos, u string, want, got hash.Hash) {
	if !want.Equal(got) {
		st.ev.errorAt(pos, "hash mismatch in file downloaded from '%s':\n  specified: %s\n  got:       %s", u, want.Encode(hash.Base32, true), got.Encode(hash.Base32, true))
	}
}

// downloadFile fetches a file:// or http(s):// URL (or a plain absolute
// path) to dst and returns the server's ETag. Given the ETag of an earlier
// download, an HTTP server may answer that nothing changed: then dst is not
// written and notModified is true.
func downloadFile(ctx context.Context, rawURL, dst, etag string) (newETag string, notModified bool, err error) {
	var r io.ReadCloser
	switch {
	case strings.HasPrefix(rawURL, "/"):
		if r, err = os.Open(rawURL); err != nil {
			return "", false, err
		}
	case strings.HasPrefix(rawURL, "file://"):
		u, err := url.Parse(rawURL)
		if err != nil {
			return "", false, err
		}
		if r, err = os.Open(u.Path); err != nil {
			return "", false, err
		}
	case strings.HasPrefix(rawURL, "http://"), strings.HasPrefix(rawURL, "https://"):
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return "", false, err
		}
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", false, err
		}
		if etag != "" && resp.StatusCode == http.StatusNotModified {
			resp.Body.Close()
			return etag, true, nil
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return "", false, fmt.Errorf("HTTP error %d", resp.StatusCode)
		}
		newETag, r = resp.Header.Get("ETag"), resp.Body
	default:
		return "", false, fmt.Errorf("unsupported URL scheme")
	}
	defer r.Close()
	f, err := os.Create(dst)
	if err != nil {
		return "", false, err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return "", false, err
	}
	return newETag, false, f.Close()
}

// decompress detects gzip, bzip2, xz and zstd by magic number.
func decompress(r *bufio.Reader) (io.Reader, error) {
	magic, _ := r.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzip.NewReader(r)
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(r), nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return xz.NewReader(r)
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		d, err := zstd.NewReader(r)
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return r, nil
}

// extractTar extracts a possibly compressed tar stream into dir. Member
// names with ".." and extraction through symlinks are refused (libarchive's
// SECURE_NODOTDOT and SECURE_SYMLINKS); absolute names are made relative.
func extractTar(r io.Reader, dir string) error {
	dr, err := decompress(bufio.NewReader(r))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(dr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := extractTarEntry(tr, h, dir); err != nil {
			return fmt.Errorf("tar member '%s': %w", h.Name, err)
		}
	}
}

func extractTarEntry(tr *tar.Reader, h *tar.Header, dir string) error {
	switch h.Typeflag {
	case tar.TypeDir, tar.TypeReg, tar.TypeRegA, tar.TypeSymlink, tar.TypeLink:
	default:
		return nil // pax headers, devices, fifos: ignored
	}
	rel, err := archivePath(h.Name, true)
	if err != nil {
		return err
	}
	if rel == "" {
		return nil
	}
	dst, err := prepareDest(dir, rel)
	if err != nil {
		return err
	}
	switch h.Typeflag {
	case tar.TypeDir:
		return mkdirDest(dst)
	case tar.TypeSymlink:
		if err := clearDest(dst); err != nil {
			return err
		}
		return os.Symlink(h.Linkname, dst)
	case tar.TypeLink:
		target, err := archivePath(h.Linkname, true)
		if err != nil {
			return err
		}
		if target == "" {
			return fmt.Errorf("hard link to the archive root")
		}
		if err := checkNoSymlinkParents(dir, target); err != nil {
			return err
		}
		if err := clearDest(dst); err != nil {
			return err
		}
		return os.Link(filepath.Join(dir, filepath.FromSlash(target)), dst)
	default:
		return writeDestFile(dst, tr, h.Mode&0o100 != 0)
	}
}
