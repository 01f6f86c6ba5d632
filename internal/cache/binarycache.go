// Package cache implements Nix binary caches (file:// and http(s)://):
// reading and writing them byte-compatibly with Nix 2.8, copying closures
// between them and the local store, substituting with signature and hash
// verification, serving a store or cache over HTTP like nix-serve, and the
// nix.conf-shaped settings that drive substitution.
package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	nixhash "github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

// DefaultPriority is the priority of a cache whose nix-cache-info and URL
// do not set one (Nix's BinaryCacheStore default).
const DefaultPriority = 50

// Content types Nix uses for uploads.
const (
	contentTypeCacheInfo = "text/x-nix-cache-info"
	contentTypeNarInfo   = "text/x-nix-narinfo"
	contentTypeNAR       = "application/x-nix-nar"
)

// Options configure Open.
type Options struct {
	// StoreDir is the logical store directory the cache must be for;
	// "" means /nix/store.
	StoreDir storepath.StoreDir
	// HTTPClient is used for http(s) caches; nil means a private client
	// with HTTPConnections connections per host.
	HTTPClient      *http.Client
	HTTPConnections int
}

// BinaryCache is one opened binary cache.
type BinaryCache struct {
	url      string // without query parameters
	be       backend
	storeDir storepath.StoreDir

	compression   string
	level         int
	signKey       *SecretKey
	priority      int
	priorityFixed bool // set by URL parameter
	wantMassQuery bool
	wmqFixed      bool
	info          *CacheInfo // nil until read
	zstdPool      sync.Pool  // of *zstd.Decoder, reused across NARs
}

// Open parses a cache URL (`file:///DIR` or `http(s)://HOST/PATH`, with
// Nix's store parameters compression, compression-level, secret-key,
// priority, want-mass-query) and reads its nix-cache-info if present.
// A missing nix-cache-info is not an error here; see Init and Check.
func Open(ctx context.Context, rawURL string, opts Options) (*BinaryCache, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("binary cache URL %q: %w", rawURL, err)
	}
	c := &BinaryCache{
		storeDir:    opts.StoreDir,
		compression: CompressionXZ,
		level:       -1,
		priority:    DefaultPriority,
	}
	if c.storeDir == "" {
		c.storeDir = storepath.DefaultStoreDir
	}
	q := u.Query()
	u.RawQuery = ""
	u.Fragment = ""
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("binary cache URL %q: file URLs must not name a host", rawURL)
		}
		dir := u.Path
		if dir == "" || !filepath.IsAbs(dir) {
			return nil, fmt.Errorf("binary cache URL %q: need an absolute directory", rawURL)
		}
		dir = filepath.Clean(dir)
		c.url = "file://" + dir
		c.be = &fileBackend{dir: dir, url: c.url}
	case "http", "https":
		if u.Host == "" {
			return nil, fmt.Errorf("binary cache URL %q: missing host", rawURL)
		}
		u.Path = cleanURLPath(u.Path)
		u.RawPath = ""
		// Credentials in the URL (http://user:password@host) are sent as
		// basic auth by the HTTP client but kept out of messages.
		c.url = u.Redacted()
		client := opts.HTTPClient
		if client == nil {
			client = newHTTPClient(opts.HTTPConnections)
		}
		base := *u
		c.be = &httpBackend{base: &base, client: client, url: c.url}
	default:
		return nil, fmt.Errorf("binary cache URL %q: unsupported scheme %q (want file, http or https)", rawURL, u.Scheme)
	}
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "compression":
			if _, err := narExtension(v); err != nil {
				return nil, fmt.Errorf("binary cache %s: %w", c.url, err)
			}
			c.compression = v
		case "compression-level":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("binary cache %s: invalid compression-level %q", c.url, v)
			}
			c.level = n
		case "secret-key":
			k, err := ReadSecretKeyFile(v)
			if err != nil {
				return nil, fmt.Errorf("binary cache %s: %w", c.url, err)
			}
			c.signKey = k
		case "priority":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("binary cache %s: invalid priority %q", c.url, v)
			}
			c.priority, c.priorityFixed = n, true
		case "want-mass-query":
			c.wantMassQuery, c.wmqFixed = v == "true" || v == "1", true
		default:
			// Nix warns about unknown settings; onix accepts and ignores
			// them (write-nar-listing, parallel-compression, trusted, ...).
		}
	}
	if err := c.readInfo(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *BinaryCache) readInfo(ctx context.Context) error {
	rc, err := c.be.get(ctx, CacheInfoFile)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("binary cache %s: %w", c.url, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, 64*1024))
	if err != nil {
		return fmt.Errorf("binary cache %s: reading %s: %w", c.url, CacheInfoFile, err)
	}
	ci, err := ParseCacheInfo(data)
	if err != nil {
		return fmt.Errorf("binary cache %s: %w", c.url, err)
	}
	if ci.StoreDir != "" && ci.StoreDir != string(c.storeDir) {
		return fmt.Errorf("binary cache %s is for Nix stores with prefix %q, not %q", c.url, ci.StoreDir, c.storeDir)
	}
	c.info = &ci
	if ci.HasPriority && !c.priorityFixed {
		c.priority = ci.Priority
	}
	if !c.wmqFixed {
		c.wantMassQuery = ci.WantMassQuery
	}
	return nil
}

// Init creates nix-cache-info if the cache does not have one yet, as Nix
// does when it first writes to a cache.
func (c *BinaryCache) Init(ctx context.Context) error {
	if c.info != nil {
		return nil
	}
	ci := CacheInfo{StoreDir: string(c.storeDir)}
	data := ci.Bytes()
	if err := c.be.put(ctx, CacheInfoFile, bytes.NewReader(data), int64(len(data)), contentTypeCacheInfo); err != nil {
		return fmt.Errorf("binary cache %s: creating %s: %w", c.url, CacheInfoFile, err)
	}
	c.info = &ci
	return nil
}

// Check fails unless the cache has a nix-cache-info (used before reading,
// like Nix's "does not appear to be a binary cache").
func (c *BinaryCache) Check() error {
	if c.info == nil {
		return fmt.Errorf("%s does not appear to be a binary cache (no %s)", c.url, CacheInfoFile)
	}
	return nil
}

// URL is the cache URL without parameters.
func (c *BinaryCache) URL() string { return c.url }

// Priority is the cache's substitution priority (lower is preferred).
func (c *BinaryCache) Priority() int { return c.priority }

// WantMassQuery is the cache's WantMassQuery flag.
func (c *BinaryCache) WantMassQuery() bool { return c.wantMassQuery }

// StoreDir is the logical store directory of the cache.
func (c *BinaryCache) StoreDir() storepath.StoreDir { return c.storeDir }

// SetSigningKey sets (or clears) the key narinfos are signed with on upload.
func (c *BinaryCache) SetSigningKey(k *SecretKey) { c.signKey = k }

// narInfoName is "<hashpart>.narinfo" for a full store path.
func (c *BinaryCache) narInfoName(path string) (storepath.StorePath, string, error) {
	sp, err := c.storeDir.Parse(path)
	if err != nil {
		return storepath.StorePath{}, "", err
	}
	return sp, sp.HashPart + ".narinfo", nil
}

// NarInfo fetches and parses the narinfo of path. It checks that the
// narinfo describes exactly that path but does not check signatures. A
// path the cache lacks yields an error wrapping ErrNotFound.
func (c *BinaryCache) NarInfo(ctx context.Context, path string) (*NarInfo, error) {
	sp, name, err := c.narInfoName(path)
	if err != nil {
		return nil, fmt.Errorf("binary cache %s: %w", c.url, err)
	}
	rc, err := c.be.get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("path %s in binary cache %s: %w", path, c.url, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxNarInfoSize+1))
	if err != nil {
		return nil, fmt.Errorf("path %s in binary cache %s: reading narinfo: %w", path, c.url, err)
	}
	ni, err := ParseNarInfo(data, c.storeDir, c.url+"/"+name)
	if err != nil {
		return nil, fmt.Errorf("path %s in binary cache %s: %w", path, c.url, err)
	}
	if got := c.storeDir.Path(sp); ni.StorePath != got {
		return nil, fmt.Errorf("path %s in binary cache %s: narinfo describes %s instead", path, c.url, ni.StorePath)
	}
	return ni, nil
}

// HasPath reports whether the cache has a narinfo for path.
func (c *BinaryCache) HasPath(ctx context.Context, path string) (bool, error) {
	_, name, err := c.narInfoName(path)
	if err != nil {
		return false, fmt.Errorf("binary cache %s: %w", c.url, err)
	}
	ok, err := c.be.exists(ctx, name)
	if err != nil {
		return false, fmt.Errorf("binary cache %s: %w", c.url, err)
	}
	return ok, nil
}

// OpenNAR returns the decompressed NAR of ni. The stream fails (instead
// of ending) if the NAR is longer or shorter than NarSize or its sha256
// differs from NarHash, so a consumer that reads it to the end never sees
// a wrong NAR succeed. The error names the path and the cache.
func (c *BinaryCache) OpenNAR(ctx context.Context, ni *NarInfo) (io.ReadCloser, error) {
	return c.openNAR(ctx, ni, true)
}

// openNAR is OpenNAR; with checkHash false only the size is enforced (for
// consumers such as store.AddNAR that hash the stream themselves).
func (c *BinaryCache) openNAR(ctx context.Context, ni *NarInfo, checkHash bool) (io.ReadCloser, error) {
	if err := checkName(ni.URL); err != nil {
		return nil, fmt.Errorf("path %s in binary cache %s: bad NAR URL: %w", ni.StorePath, c.url, err)
	}
	rc, err := c.be.get(ctx, ni.URL)
	if err != nil {
		return nil, fmt.Errorf("path %s in binary cache %s: fetching NAR: %w", ni.StorePath, c.url, err)
	}
	dec, err := c.decompressor(rc, ni.Compression)
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("path %s in binary cache %s: %w", ni.StorePath, c.url, err)
	}
	if !ni.NarHash.Algo.Valid() {
		dec.Close()
		rc.Close()
		return nil, fmt.Errorf("path %s in binary cache %s: invalid NarHash", ni.StorePath, c.url)
	}
	var h hash.Hash
	if checkHash {
		h = ni.NarHash.Algo.New()
	}
	return &verifyingReader{
		r: dec, closers: []io.Closer{dec, rc}, h: h, want: ni.NarHash, size: ni.NarSize,
		what: fmt.Sprintf("path %s in binary cache %s", ni.StorePath, c.url),
	}, nil
}

// verifyingReader passes a NAR through while checking its size and hash.
type verifyingReader struct {
	r       io.Reader
	closers []io.Closer
	h       hash.Hash
	want    nixhash.Hash
	size    uint64
	n       uint64
	what    string
	err     error
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if rem := v.size - v.n; uint64(len(p)) > rem+1 {
		// Read at most one byte past the declared size: enough to detect
		// an overlong NAR without buffering it.
		p = p[:rem+1]
	}
	n, err := v.r.Read(p)
	if n > 0 {
		v.n += uint64(n)
		if v.n > v.size {
			v.err = fmt.Errorf("%s: NAR is larger than its NarSize %d", v.what, v.size)
			return 0, v.err
		}
		if v.h != nil {
			v.h.Write(p[:n])
		}
	}
	if v.h != nil && v.n == v.size && n > 0 {
		got := nixhash.Hash{Algo: v.want.Algo, Digest: v.h.Sum(nil)}
		if !got.Equal(v.want) {
			v.err = fmt.Errorf("%s: NAR hash mismatch: narinfo says %s, got %s", v.what, v.want.Encode(nixhash.Base32, true), got.Encode(nixhash.Base32, true))
			return 0, v.err
		}
	}
	if err == io.EOF {
		if v.n != v.size {
			v.err = fmt.Errorf("%s: NAR is truncated: got %d of %d bytes", v.what, v.n, v.size)
			return n, v.err
		}
		return n, io.EOF
	}
	if err != nil {
		v.err = fmt.Errorf("%s: reading NAR: %w", v.what, err)
		return n, v.err
	}
	return n, nil
}

func (v *verifyingReader) Close() error {
	var first error
	for _, c := range v.closers {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// verified reports whether exactly NarSize bytes with the right hash went
// through.
func (v *verifyingReader) verified() bool { return v.err == nil && v.n == v.size && v.size > 0 }

// UploadNAR writes one store path to the cache: the (compressed) NAR
// produced by dump, then its narinfo, signed with the cache's key if it has
// one. ni must have StorePath, NarHash, NarSize, References and optionally
// Deriver, CA and Sigs; URL, Compression, FileHash and FileSize are filled
// in. The NAR dump is hashed and must match ni.NarHash.
func (c *BinaryCache) UploadNAR(ctx context.Context, ni *NarInfo, dump func(w io.Writer) error) error {
	if _, err := c.storeDir.Parse(ni.StorePath); err != nil {
		return fmt.Errorf("binary cache %s: %w", c.url, err)
	}
	if !canWrite(c.compression) {
		return fmt.Errorf("binary cache %s: compression %q is not supported for writing", c.url, c.compression)
	}
	ext, err := narExtension(c.compression)
	if err != nil {
		return err
	}
	tmpDir := ""
	if fb, ok := c.be.(*fileBackend); ok {
		tmpDir = filepath.Join(fb.dir, "nar")
		if err := os.MkdirAll(tmpDir, 0o755); err != nil {
			return fmt.Errorf("binary cache %s: %w", c.url, err)
		}
	}
	tmp, err := os.CreateTemp(tmpDir, ".upload-*.nar"+ext)
	if err != nil {
		return fmt.Errorf("binary cache %s: %w", c.url, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	defer tmp.Close()

	fileHash := nixhash.SHA256.New()
	fileCount := &countWriter{}
	narHash := nixhash.SHA256.New()
	narCount := &countWriter{}
	fileSink := io.MultiWriter(tmp, fileHash, fileCount)
	var narSink io.Writer
	var comp io.WriteCloser
	if c.compression == CompressionNone {
		narSink = io.MultiWriter(fileSink, narHash, narCount)
	} else {
		comp, err = newCompressor(fileSink, c.compression, c.level)
		if err != nil {
			return fmt.Errorf("binary cache %s: %w", c.url, err)
		}
		narSink = io.MultiWriter(comp, narHash, narCount)
	}
	if err := dump(narSink); err != nil {
		return fmt.Errorf("copying %s to %s: %w", ni.StorePath, c.url, err)
	}
	if comp != nil {
		if err := comp.Close(); err != nil {
			return fmt.Errorf("copying %s to %s: compressing: %w", ni.StorePath, c.url, err)
		}
	}
	gotNar := nixhash.Hash{Algo: nixhash.SHA256, Digest: narHash.Sum(nil)}
	if !ni.NarHash.IsZero() && (!gotNar.Equal(ni.NarHash) || uint64(narCount.n) != ni.NarSize) {
		return fmt.Errorf("refusing to copy corrupted path %s to binary cache %s: NAR hash %s, expected %s",
			ni.StorePath, c.url, gotNar.Encode(nixhash.Base32, true), ni.NarHash.Encode(nixhash.Base32, true))
	}
	ni.NarHash, ni.NarSize = gotNar, uint64(narCount.n)
	ni.Compression = c.compression
	ni.FileHash = nixhash.Hash{Algo: nixhash.SHA256, Digest: fileHash.Sum(nil)}
	ni.FileSize = uint64(fileCount.n)
	ni.URL = "nar/" + ni.FileHash.Encode(nixhash.Base32, false) + ".nar" + ext

	exists, err := c.be.exists(ctx, ni.URL)
	if err != nil {
		return err
	}
	if !exists {
		if fb, ok := c.be.(*fileBackend); ok {
			if err := tmp.Close(); err != nil {
				return fmt.Errorf("binary cache %s: %w", c.url, err)
			}
			if err := fb.putFile(ctx, ni.URL, tmpName); err != nil {
				return err
			}
		} else {
			if _, err := tmp.Seek(0, io.SeekStart); err != nil {
				return fmt.Errorf("binary cache %s: %w", c.url, err)
			}
			if err := c.be.put(ctx, ni.URL, tmp, int64(ni.FileSize), contentTypeNAR); err != nil {
				return err
			}
		}
	}
	return c.PutNarInfo(ctx, ni)
}

// PutNarInfo signs ni with the cache's key (if any) and uploads it.
func (c *BinaryCache) PutNarInfo(ctx context.Context, ni *NarInfo) error {
	if c.signKey != nil {
		if err := ni.Sign(c.storeDir, *c.signKey); err != nil {
			return fmt.Errorf("signing %s: %w", ni.StorePath, err)
		}
	}
	_, name, err := c.narInfoName(ni.StorePath)
	if err != nil {
		return fmt.Errorf("binary cache %s: %w", c.url, err)
	}
	text := ni.String()
	if err := c.be.put(ctx, name, strings.NewReader(text), int64(len(text)), contentTypeNarInfo); err != nil {
		return fmt.Errorf("copying %s to %s: %w", ni.StorePath, c.url, err)
	}
	return nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
