package eval

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/onix-dev/onix/internal/eval/syntax"
	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/nar"
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
	tmp, err := os.MkdirTemp("", "onix-fetch-")
	if err != nil {
		ev.errorAt(pos, "%s", err)
	}
	defer os.RemoveAll(tmp)
	file := filepath.Join(tmp, "download")
	if err := downloadFile(ev.ctx, rawURL, file); err != nil {
		ev.errorAt(pos, "unable to download '%s': %s", rawURL, err)
	}
	var p string
	if unpack {
		dir := filepath.Join(tmp, "unpack")
		top, err := unpackTarball(file, dir)
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
	return MkStringCtx(p, NewContext(p))
}

func (st *storeState) checkHash(pos syntax.Pos, u string, want, got hash.Hash) {
	if !want.Equal(got) {
		st.ev.errorAt(pos, "hash mismatch in file downloaded from '%s':\n  specified: %s\n  got:       %s", u, want.Encode(hash.Base32, true), got.Encode(hash.Base32, true))
	}
}

// downloadFile fetches a file:// or http(s):// URL (or a plain absolute
// path) to dst.
func downloadFile(ctx context.Context, rawURL, dst string) error {
	var r io.ReadCloser
	switch {
	case strings.HasPrefix(rawURL, "/"):
		f, err := os.Open(rawURL)
		if err != nil {
			return err
		}
		r = f
	case strings.HasPrefix(rawURL, "file://"):
		u, err := url.Parse(rawURL)
		if err != nil {
			return err
		}
		f, err := os.Open(u.Path)
		if err != nil {
			return err
		}
		r = f
	case strings.HasPrefix(rawURL, "http://"), strings.HasPrefix(rawURL, "https://"):
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return fmt.Errorf("HTTP error %d", resp.StatusCode)
		}
		r = resp.Body
	default:
		return fmt.Errorf("unsupported URL scheme")
	}
	defer r.Close()
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
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

// unpackTarball unpacks a (compressed) tar file into dir and returns its
// single top-level entry, as Nix's downloadTarball requires.
func unpackTarball(file, dir string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := extractTar(f, dir); err != nil {
		return "", err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	if len(ents) != 1 {
		return "", fmt.Errorf("tarball contains an unexpected number of top-level files")
	}
	return filepath.Join(dir, ents[0].Name()), nil
}

// extractTar extracts a possibly compressed tar stream into dir.
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
		name := path.Clean(strings.TrimPrefix(h.Name, "/"))
		if name == "." {
			continue
		}
		if !filepath.IsLocal(name) {
			return fmt.Errorf("archive entry '%s' escapes the destination", h.Name)
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
		case tar.TypeReg, tar.TypeRegA:
			mode := os.FileMode(0o644)
			if h.Mode&0o100 != 0 {
				mode = 0o755
			}
			_ = os.RemoveAll(dst)
			out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, tr); err != nil {
				out.Close()
				return err
			}
			if err := out.Close(); err != nil {
				return err
			}
		case tar.TypeSymlink:
			_ = os.RemoveAll(dst)
			if err := os.Symlink(h.Linkname, dst); err != nil {
				return err
			}
		case tar.TypeLink:
			target := path.Clean(strings.TrimPrefix(h.Linkname, "/"))
			if !filepath.IsLocal(target) {
				return fmt.Errorf("archive hard link '%s' escapes the destination", h.Linkname)
			}
			_ = os.RemoveAll(dst)
			if err := os.Link(filepath.Join(dir, filepath.FromSlash(target)), dst); err != nil {
				return err
			}
		default:
			// pax headers, devices, fifos: ignored
		}
	}
}

// fetchGit implements builtins.fetchGit for local repositories, like Nix
// 2.8: a dirty working tree without ref/rev is copied (tracked files);
// otherwise the commit is exported with `git archive`.
func (st *storeState) fetchGit(pos syntax.Pos, arg *Value) *Value {
	ev := st.ev
	ev.force(arg)
	var rawURL, ref, rev string
	name := "source"
	submodules := false
	if arg.kind == KAttrs {
		for _, at := range ev.sortedAttrs(arg.Attrs()) {
			switch n := ev.syms.Name(at.Name); n {
			case "url":
				s, _ := ev.CoerceToString(pos, at.Val, false, false)
				rawURL = s
			case "ref":
				ref = ev.ForceStringNoCtx(pos, at.Val)
			case "rev":
				rev = ev.ForceStringNoCtx(pos, at.Val)
			case "name":
				name = ev.ForceStringNoCtx(pos, at.Val)
			case "submodules":
				submodules = ev.ForceBool(pos, at.Val)
			case "shallow", "allRefs":
				ev.ForceBool(pos, at.Val)
			default:
				ev.errorAt(pos, "unsupported argument '%s' to 'fetchGit'", n)
			}
		}
	} else {
		rawURL, _ = ev.CoerceToString(pos, arg, false, false)
	}
	if submodules {
		ev.errorAt(pos, "fetchGit: 'submodules = true' is not supported yet")
	}
	dir := rawURL
	if strings.HasPrefix(dir, "file://") {
		u, err := url.Parse(dir)
		if err != nil {
			ev.errorAt(pos, "%s", err)
		}
		dir = u.Path
	}
	if !strings.HasPrefix(dir, "/") {
		ev.errorAt(pos, "fetchGit: only local repositories are supported, not '%s'", rawURL)
	}
	if rev != "" {
		if len(rev) != 40 || strings.Trim(rev, "0123456789abcdef") != "" {
			ev.errorAt(pos, "hash '%s' is not a valid Git revision", rev)
		}
	}
	git := func(args ...string) string {
		out, err := runGit(ev.ctx, dir, args...)
		if err != nil {
			ev.errorAt(pos, "%s", err)
		}
		return out
	}
	b := ev.NewAttrsBuilder(8)
	setTime := func(t int64) {
		b.Set("lastModified", MkInt(t))
		b.Set("lastModifiedDate", MkString(time.Unix(t, 0).UTC().Format("20060102150405")))
	}
	if ref == "" && rev == "" {
		_, headErr := runGit(ev.ctx, dir, "rev-parse", "--verify", "--no-revs", "HEAD^{commit}")
		hasHead := headErr == nil
		if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
			ev.errorAt(pos, "'%s' is not a Git repository", dir)
		}
		clean := false
		if hasHead {
			_, err := runGit(ev.ctx, dir, "diff", "HEAD", "--quiet", "--ignore-submodules", "--")
			clean = err == nil
		}
		if !clean {
			fmt.Fprintf(ev.opts.Stderr, "warning: Git tree '%s' is dirty\n", dir)
			files := map[string]bool{}
			for _, f := range strings.Split(git("ls-files", "-z"), "\x00") {
				if f != "" {
					files[f] = true
				}
			}
			root := filepath.Clean(dir)
			filter := func(p string, mode os.FileMode) bool {
				rel := strings.TrimPrefix(p, root+"/")
				if mode.IsDir() {
					for f := range files {
						if strings.HasPrefix(f, rel+"/") {
							return true
						}
					}
					return false
				}
				return files[rel]
			}
			p := st.addPath(pos, name, root, true, filter, nil)
			nh, _, err := nar.HashPath(ev.ctx, root, filter)
			if err != nil {
				ev.errorAt(pos, "%s", err)
			}
			var lm int64
			if hasHead {
				lm, _ = strconv.ParseInt(strings.TrimSpace(git("log", "-1", "--format=%ct", "--no-show-signature", "HEAD")), 10, 64)
			}
			b.Set("outPath", MkStringCtx(p, NewContext(p)))
			b.Set("narHash", MkString(nh.SRI()))
			b.Set("submodules", MkBool(false))
			zero := strings.Repeat("0", 40)
			b.Set("rev", MkString(zero))
			b.Set("shortRev", MkString(zero[:7]))
			b.Set("revCount", MkInt(0))
			setTime(lm)
			return b.Value()
		}
	}
	if rev == "" {
		if ref == "" {
			ref = strings.TrimSpace(git("rev-parse", "--abbrev-ref", "HEAD"))
		}
		rev = strings.TrimSpace(git("rev-parse", ref))
	} else if _, err := runGit(ev.ctx, dir, "cat-file", "-e", rev+"^{commit}"); err != nil {
		ev.errorAt(pos, "Cannot find Git revision '%s' in repository '%s'", rev, dir)
	}
	tmp, err := os.MkdirTemp("", "onix-git-")
	if err != nil {
		ev.errorAt(pos, "%s", err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ev.ctx, "git", "-C", dir, "archive", rev)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		ev.errorAt(pos, "%s", err)
	}
	if err := cmd.Start(); err != nil {
		ev.errorAt(pos, "running git: %s", err)
	}
	xerr := extractTar(out, tmp)
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		ev.errorAt(pos, "git archive %s: %s %s", rev, err, strings.TrimSpace(stderr.String()))
	}
	if xerr != nil {
		ev.errorAt(pos, "unpacking git archive: %s", xerr)
	}
	p := st.addPath(pos, name, tmp, true, nil, nil)
	nh, _, err := nar.HashPath(ev.ctx, tmp, nil)
	if err != nil {
		ev.errorAt(pos, "%s", err)
	}
	lm, _ := strconv.ParseInt(strings.TrimSpace(git("log", "-1", "--format=%ct", "--no-show-signature", rev)), 10, 64)
	rc, _ := strconv.ParseInt(strings.TrimSpace(git("rev-list", "--count", rev)), 10, 64)
	b.Set("outPath", MkStringCtx(p, NewContext(p)))
	b.Set("narHash", MkString(nh.SRI()))
	b.Set("submodules", MkBool(false))
	b.Set("rev", MkString(rev))
	b.Set("shortRev", MkString(rev[:7]))
	b.Set("revCount", MkInt(rc))
	setTime(lm)
	return b.Value()
}

func runGit(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
