package eval

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// downloadCache remembers unpinned fetchurl and fetchTarball results in
// dir (CACHE/onix/downloads), as Nix's fetcher cache does: per (kind, URL,
// name) the store path, the server's ETag and when it was fetched. Within
// tarball-ttl a valid cached path is used without the network; after it,
// the download asks with If-None-Match and a 304 keeps the path; when the
// download fails, a cached path is used with a warning.
type downloadCache struct{ dir string }

// downloadEntry is one remembered download.
type downloadEntry struct {
	Path    string `json:"path"`
	ETag    string `json:"etag,omitempty"`
	Fetched int64  `json:"fetched"` // Unix seconds
}

// userCacheDir is where the evaluator keeps what it caches across runs:
// Options.CacheDir, or $XDG_CACHE_HOME/onix; ok is false when there is
// neither.
func userCacheDir(ev *Evaluator) (dir string, ok bool) {
	if ev.opts.CacheDir != "" {
		return ev.opts.CacheDir, true
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", false
	}
	return filepath.Join(d, "onix"), true
}

// withinTTL reports whether something fetched at when is still fresh at
// now under tarball-ttl ttl (negative: never).
func withinTTL(when, now time.Time, ttl time.Duration) bool {
	return ttl >= 0 && now.Sub(when) <= ttl
}

func downloadCacheFor(ev *Evaluator) *downloadCache {
	if root, ok := userCacheDir(ev); ok {
		return &downloadCache{dir: filepath.Join(root, "downloads")}
	}
	return nil
}

func (c *downloadCache) file(kind, url, name string) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s", kind, url, name))
	return filepath.Join(c.dir, hex.EncodeToString(h[:]))
}

// lookup returns the entry for (kind, url, name), if any.
func (c *downloadCache) lookup(kind, url, name string) (*downloadEntry, bool) {
	if c == nil {
		return nil, false
	}
	b, err := os.ReadFile(c.file(kind, url, name))
	if err != nil {
		return nil, false
	}
	var e downloadEntry
	if json.Unmarshal(b, &e) != nil || e.Path == "" {
		return nil, false
	}
	return &e, true
}

// fresh reports whether e was fetched within ttl of now.
func (e *downloadEntry) fresh(now time.Time, ttl time.Duration) bool {
	return withinTTL(time.Unix(e.Fetched, 0), now, ttl)
}

// save records e; failures are ignored (the cache is an optimisation).
func (c *downloadCache) save(kind, url, name string, e downloadEntry) {
	if c != nil {
		writeCacheFile(c.file(kind, url, name), e)
	}
}

// writeCacheFile writes v as JSON to dst through a temporary file and a
// rename, so readers see the old file or the new one. Failures are
// ignored: the caches it serves are optimisations.
func writeCacheFile(dst string, v any) {
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	tmp, err := os.CreateTemp(dir, ".tmp-")
	if err != nil {
		return
	}
	_, werr := tmp.Write(b)
	if cerr := tmp.Close(); werr != nil || cerr != nil || os.Rename(tmp.Name(), dst) != nil {
		_ = os.Remove(tmp.Name())
	}
}
