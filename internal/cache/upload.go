package cache

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"

	"github.com/onix-dev/onix/internal/nixcompat/nixbase32"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

// maxCacheInfoSize bounds an uploaded nix-cache-info.
const maxCacheInfoSize = 64 * 1024

// uploadError is an HTTP status plus the message sent to the client.
type uploadError struct {
	status int
	msg    string
}

func (e *uploadError) Error() string { return e.msg }

func refuse(status int, format string, args ...any) error {
	return &uploadError{status: status, msg: fmt.Sprintf(format, args...)}
}

// authorizedPut checks the request's credentials against s.WriteAuth:
// "Bearer TOKEN" with TOKEN equal to it, or HTTP basic auth whose
// "user:password" equals it (what curl sends from a netrc entry, as Nix
// does). An empty WriteAuth allows everyone.
func (s *Server) authorizedPut(r *http.Request) bool {
	if s.WriteAuth == "" {
		return true
	}
	want := []byte(s.WriteAuth)
	if user, pass, ok := r.BasicAuth(); ok {
		return subtle.ConstantTimeCompare([]byte(user+":"+pass), want) == 1
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), want) == 1
	}
	return false
}

// servePut handles an upload to a writable Dir cache, the way Nix's
// HttpBinaryCacheStore writes (PUT of nix-cache-info, nar/FILEHASH.nar[.EXT]
// and HASH.narinfo). Every file is written to a hidden temporary file in
// its final directory and renamed into place, so readers never see a
// partial upload; all file operations go through an os.Root, so neither
// names nor symlinks can escape Dir. NARs named by their sha256 FileHash
// must hash to it; narinfos must parse, describe the path their name says
// and point at a NAR already uploaded.
func (s *Server) servePut(w http.ResponseWriter, r *http.Request) {
	if !s.Writable || s.Dir == "" {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: this binary cache is read-only", http.StatusMethodNotAllowed)
		return
	}
	if !s.authorizedPut(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="onix binary cache"`)
		http.Error(w, "uploading to this binary cache requires credentials", http.StatusUnauthorized)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	created, err := s.put(r, name)
	if err != nil {
		var ue *uploadError
		if errors.As(err, &ue) {
			s.logf("cache serve: refused PUT %s: %s", r.URL.Path, ue.msg)
			http.Error(w, ue.msg, ue.status)
			return
		}
		s.logf("cache serve: PUT %s: %v", r.URL.Path, err)
		http.Error(w, "internal error storing upload", http.StatusInternalServerError)
		return
	}
	if created {
		w.WriteHeader(http.StatusCreated)
	} else {
		w.WriteHeader(http.StatusNoContent)
	}
}

// put validates and stores one upload; it reports whether the file is new.
func (s *Server) put(r *http.Request, name string) (bool, error) {
	if err := checkName(name); err != nil {
		return false, refuse(http.StatusBadRequest, "%v", err)
	}
	for _, seg := range strings.Split(name, "/") {
		if strings.HasPrefix(seg, ".") {
			return false, refuse(http.StatusBadRequest, "invalid cache file name %q: hidden files are not allowed", name)
		}
	}
	root, err := os.OpenRoot(s.Dir)
	if err != nil {
		return false, fmt.Errorf("opening cache directory: %w", err)
	}
	defer root.Close()

	switch {
	case name == CacheInfoFile:
		data, err := readUpload(r, maxCacheInfoSize)
		if err != nil {
			return false, err
		}
		ci, err := ParseCacheInfo(data)
		if err != nil {
			return false, refuse(http.StatusBadRequest, "invalid %s: %v", CacheInfoFile, err)
		}
		if !path.IsAbs(ci.StoreDir) {
			return false, refuse(http.StatusBadRequest, "invalid %s: missing or relative StoreDir", CacheInfoFile)
		}
		return writeAtomic(root, name, bytes.NewReader(data), nil)

	case strings.HasSuffix(name, ".narinfo") && !strings.Contains(name, "/"):
		hp := strings.TrimSuffix(name, ".narinfo")
		if storepath.ValidateHashPart(hp) != nil {
			return false, refuse(http.StatusBadRequest, "invalid narinfo name %q", name)
		}
		data, err := readUpload(r, maxNarInfoSize)
		if err != nil {
			return false, err
		}
		sd, err := cacheStoreDir(root)
		if err != nil {
			return false, err
		}
		ni, err := ParseNarInfo(data, sd, name)
		if err != nil {
			return false, refuse(http.StatusBadRequest, "invalid narinfo: %v", err)
		}
		sp, err := sd.Parse(ni.StorePath)
		if err != nil || sp.HashPart != hp {
			return false, refuse(http.StatusBadRequest, "narinfo %s describes %s", name, ni.StorePath)
		}
		if err := checkName(ni.URL); err != nil || strings.ContainsAny(ni.URL, "?#") {
			return false, refuse(http.StatusBadRequest, "narinfo %s: invalid URL %q", name, ni.URL)
		}
		fi, err := root.Stat(ni.URL)
		if err != nil || !fi.Mode().IsRegular() {
			return false, refuse(http.StatusConflict, "narinfo %s: its NAR %s has not been uploaded (upload the NAR first)", name, ni.URL)
		}
		if ni.FileSize != 0 && uint64(fi.Size()) != ni.FileSize {
			return false, refuse(http.StatusConflict, "narinfo %s: FileSize %d but %s has %d bytes", name, ni.FileSize, ni.URL, fi.Size())
		}
		return writeAtomic(root, name, bytes.NewReader(data), nil)

	case strings.HasPrefix(name, "nar/") && strings.Count(name, "/") == 1:
		if enc := r.Header.Get("Content-Encoding"); enc != "" && enc != "identity" {
			return false, refuse(http.StatusUnsupportedMediaType, "NAR uploads with Content-Encoding %q are not supported", enc)
		}
		base := strings.TrimPrefix(name, "nar/")
		fh, ext, _ := strings.Cut(base, ".")
		want, err := nixbase32.DecodeStringLen(fh, sha256.Size)
		if err != nil || len(fh) != nixbase32.EncodedLen(sha256.Size) || !validNarExt(ext) {
			return false, refuse(http.StatusBadRequest, "invalid NAR name %q: want nar/FILEHASH.nar[.EXT]", name)
		}
		h := sha256.New()
		created, err := writeAtomic(root, name, io.TeeReader(r.Body, h), func() error {
			if got := h.Sum(nil); !bytes.Equal(got, want) {
				return refuse(http.StatusBadRequest, "NAR %s: body has sha256 %s, not the hash in its name", name, nixbase32.EncodeToString(got))
			}
			return nil
		})
		return created, err

	case strings.HasSuffix(name, ".ls") || strings.HasPrefix(name, "log/") ||
		strings.HasPrefix(name, "realisations/") || strings.HasPrefix(name, "debuginfo/"):
		return false, refuse(http.StatusForbidden, "uploads of %s are not accepted by this binary cache", name)
	}
	return false, refuse(http.StatusForbidden, "%s is not a binary cache file this cache accepts (nix-cache-info, HASH.narinfo, nar/...)", name)
}

func validNarExt(ext string) bool {
	rest, ok := strings.CutPrefix(ext, "nar")
	if !ok {
		return false
	}
	if rest == "" {
		return true
	}
	rest, ok = strings.CutPrefix(rest, ".")
	if !ok || rest == "" || len(rest) > 8 {
		return false
	}
	for _, c := range rest {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// readUpload reads a small upload body (at most limit bytes), undoing a
// Content-Encoding Nix may set with narinfo-compression.
func readUpload(r *http.Request, limit int64) ([]byte, error) {
	body := io.Reader(r.Body)
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "xz", "zstd", "gzip", "bzip2":
		dec, err := newDecompressor(io.LimitReader(r.Body, limit), enc)
		if err != nil {
			return nil, refuse(http.StatusBadRequest, "decoding %s body: %v", enc, err)
		}
		defer dec.Close()
		body = dec
	default:
		return nil, refuse(http.StatusUnsupportedMediaType, "unsupported Content-Encoding %q", enc)
	}
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "reading upload: %v", err)
	}
	if int64(len(data)) > limit {
		return nil, refuse(http.StatusRequestEntityTooLarge, "upload is larger than %d bytes", limit)
	}
	return data, nil
}

// cacheStoreDir is the StoreDir of the cache's nix-cache-info, or
// /nix/store when it has none.
func cacheStoreDir(root *os.Root) (storepath.StoreDir, error) {
	f, err := root.Open(CacheInfoFile)
	if errors.Is(err, fs.ErrNotExist) {
		return storepath.DefaultStoreDir, nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", CacheInfoFile, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCacheInfoSize))
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", CacheInfoFile, err)
	}
	ci, err := ParseCacheInfo(data)
	if err != nil || ci.StoreDir == "" {
		return storepath.DefaultStoreDir, nil
	}
	return storepath.StoreDir(ci.StoreDir), nil
}

// writeAtomic copies r into a hidden temporary file next to name, syncs
// it, runs check (if set) and renames it to name. It reports whether name
// did not exist before.
func writeAtomic(root *os.Root, name string, r io.Reader, check func() error) (bool, error) {
	dir := path.Dir(name)
	if dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return false, fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	tmp := path.Join(dir, ".upload-"+randSuffix())
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return false, fmt.Errorf("creating temporary file for %s: %w", name, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			_ = root.Remove(tmp)
		}
	}()
	if _, err := io.Copy(f, r); err != nil {
		// A body cut short (client gone, Content-Length not reached).
		return false, refuse(http.StatusBadRequest, "receiving %s: %v", name, err)
	}
	if check != nil {
		if err := check(); err != nil {
			return false, err
		}
	}
	if err := f.Sync(); err != nil {
		return false, fmt.Errorf("writing %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("writing %s: %w", name, err)
	}
	_, statErr := root.Lstat(name)
	if err := root.Rename(tmp, name); err != nil {
		_ = root.Remove(tmp)
		ok = true
		return false, fmt.Errorf("storing %s: %w", name, err)
	}
	ok = true
	return errors.Is(statErr, fs.ErrNotExist), nil
}
