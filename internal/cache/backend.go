package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/onix-dev/onix/internal/ctxio"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrNotFound is returned (wrapped) when a cache file does not exist.
var ErrNotFound = errors.New("not found in binary cache")

// backend moves files in and out of a binary cache. Names are relative
// slash-separated paths such as "nix-cache-info" or "nar/xyz.nar.xz".
type backend interface {
	// get opens a file; a missing file yields an error wrapping ErrNotFound.
	get(ctx context.Context, name string) (io.ReadCloser, error)
	// exists reports whether a file exists.
	exists(ctx context.Context, name string) (bool, error)
	// put stores size bytes from r under name, atomically for readers.
	put(ctx context.Context, name string, r io.Reader, size int64, contentType string) error
	// String is the cache URL without parameters, for messages.
	String() string
}

// checkName refuses names that could escape the cache root.
func checkName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || strings.ContainsRune(name, 0) {
		return fmt.Errorf("invalid cache file name %q", name)
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("invalid cache file name %q", name)
		}
	}
	return nil
}

// fileBackend is a `file://DIR` cache.
type fileBackend struct {
	dir string
	url string
}

func (b *fileBackend) String() string { return b.url }

func (b *fileBackend) path(name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	return filepath.Join(b.dir, filepath.FromSlash(name)), nil
}

func (b *fileBackend) get(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := b.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s/%s: %w", b.url, name, ErrNotFound)
		}
		return nil, fmt.Errorf("reading %s/%s: %w", b.url, name, err)
	}
	return f, nil
}

func (b *fileBackend) exists(ctx context.Context, name string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	p, err := b.path(name)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(p)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, fmt.Errorf("checking %s/%s: %w", b.url, name, err)
}

func randSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (b *fileBackend) put(ctx context.Context, name string, r io.Reader, _ int64, _ string) error {
	p, err := b.path(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("writing %s/%s: %w", b.url, name, err)
	}
	tmp := p + ".tmp-" + randSuffix()
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("writing %s/%s: %w", b.url, name, err)
	}
	_, err = io.Copy(f, ctxio.Reader(ctx, r))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s/%s: %w", b.url, name, err)
	}
	return nil
}

// putFile moves an already-written local file into place (used to avoid a
// second copy of large NARs). src must be on the same file system or is
// copied.
func (b *fileBackend) putFile(ctx context.Context, name, src string) error {
	p, err := b.path(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("writing %s/%s: %w", b.url, name, err)
	}
	if err := os.Chmod(src, 0o644); err != nil {
		return fmt.Errorf("writing %s/%s: %w", b.url, name, err)
	}
	if err := os.Rename(src, p); err == nil {
		return nil
	}
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("writing %s/%s: %w", b.url, name, err)
	}
	defer f.Close()
	return b.put(ctx, name, f, -1, "")
}

// httpBackend is an `http(s)://` cache.
type httpBackend struct {
	base   *url.URL // without trailing slash in Path
	client *http.Client
	url    string
}

func newHTTPClient(conns int) *http.Client {
	if conns <= 0 {
		conns = DefaultHTTPConnections
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		MaxIdleConns:          conns * 2,
		MaxIdleConnsPerHost:   conns,
		MaxConnsPerHost:       conns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 5 * time.Minute,
		ForceAttemptHTTP2:     true,
		DisableCompression:    true,
		ReadBufferSize:        256 * 1024,
		WriteBufferSize:       256 * 1024,
	}
	return &http.Client{Transport: tr}
}

func (b *httpBackend) String() string { return b.url }

func (b *httpBackend) fileURL(name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	u := *b.base
	u.Path = b.base.Path + "/" + name
	u.RawPath = ""
	return u.String(), nil
}

func (b *httpBackend) do(ctx context.Context, method, name string, body io.Reader, size int64, contentType string) (*http.Response, error) {
	u, err := b.fileURL(name)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	if body != nil {
		req.ContentLength = size
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	return resp, nil
}

func (b *httpBackend) get(ctx context.Context, name string) (io.ReadCloser, error) {
	resp, err := b.do(ctx, http.MethodGet, name, nil, 0, "")
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return resp.Body, nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusForbidden:
		drain(resp)
		return nil, fmt.Errorf("%s/%s: %w", b.url, name, ErrNotFound)
	default:
		drain(resp)
		return nil, fmt.Errorf("GET %s/%s: HTTP %s", b.url, name, resp.Status)
	}
}

func (b *httpBackend) exists(ctx context.Context, name string) (bool, error) {
	resp, err := b.do(ctx, http.MethodHead, name, nil, 0, "")
	if err != nil {
		return false, err
	}
	drain(resp)
	switch {
	case resp.StatusCode == http.StatusOK:
		return true, nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusForbidden:
		return false, nil
	}
	return false, fmt.Errorf("HEAD %s/%s: HTTP %s", b.url, name, resp.Status)
}

func (b *httpBackend) put(ctx context.Context, name string, r io.Reader, size int64, contentType string) error {
	resp, err := b.do(ctx, http.MethodPut, name, r, size, contentType)
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode/100 != 2 {
		// Include the server's explanation (onix cache serve sends one).
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		if m := strings.TrimSpace(string(msg)); m != "" && utf8.ValidString(m) {
			return fmt.Errorf("uploading %s to %s: HTTP %s: %s", name, b.url, resp.Status, m)
		}
		return fmt.Errorf("uploading %s to %s: HTTP %s", name, b.url, resp.Status)
	}
	return nil
}

func drain(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 64*1024)
	resp.Body.Close()
}

// cleanURLPath trims trailing slashes from a URL path.
func cleanURLPath(p string) string {
	p = strings.TrimRight(p, "/")
	if p == "" {
		return ""
	}
	return path.Clean(p)
}
