package eval

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/onix-dev/onix/internal/nixcompat/nixbase32"
	"golang.org/x/sys/unix"
)

// gitCache is fetchGit's persistent state in dir (CACHE/onix/gitv3, where
// Nix has ~/.cache/nix/gitv3):
//
//   - a bare repository per remote URL (named like Nix's: the base-32
//     SHA-256 of the URL), fetched into only when it lacks the rev asked
//     for, or, for a ref, when the ref was last fetched more than
//     tarball-ttl ago; when that fetch fails and the ref was fetched
//     before, the last fetched commit is used with a warning, as in Nix;
//   - in trees/, per (rev, submodules, shallow), the NAR hash, commit time
//     and revision count of the exported tree (Nix's fetcher cache), so
//     that an input pinned to a rev whose store path is valid needs
//     neither git nor the network.
type gitCache struct {
	dir string
	ttl time.Duration // tarball-ttl; negative: always fetch a ref
}

// defaultTarballTTL is Nix's default tarball-ttl: how long a fetched ref
// or download is trusted before the next fetch asks the server again.
const defaultTarballTTL = time.Hour

// tarballTTL is the evaluator's tarball-ttl (see Options.TarballTTL); a
// negative result means every fetch asks again.
func tarballTTL(ev *Evaluator) time.Duration {
	if ev.opts.TarballTTL == 0 {
		return defaultTarballTTL
	}
	return ev.opts.TarballTTL
}

// gitCacheFor returns the cache under the evaluator's cache directory, or
// nil when there is none (then fetchGit works in temporary directories).
func gitCacheFor(ev *Evaluator) *gitCache {
	root, ok := userCacheDir(ev)
	if !ok {
		return nil
	}
	return &gitCache{dir: filepath.Join(root, "gitv3"), ttl: tarballTTL(ev)}
}

// repoDir is where the bare repository of url lives.
func (c *gitCache) repoDir(url string) string {
	h := sha256.Sum256([]byte(url))
	return filepath.Join(c.dir, nixbase32.EncodeToString(h[:]))
}

// lockRepo holds an exclusive lock on the repository of url (its ".lock"
// file, as Nix's PathLocks) until the returned function is called, so
// that concurrent evaluations do not fetch into it at once.
func (c *gitCache) lockRepo(ctx context.Context, url string) (func(), error) {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the Git cache: %w", err)
	}
	name := c.repoDir(url) + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking the Git cache of '%s': %w", url, err)
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if err != unix.EWOULDBLOCK && err != unix.EINTR {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// initRepo creates the bare repository of url if it does not exist yet
// (the caller holds its lock).
func (c *gitCache) initRepo(ctx context.Context, url string) (string, error) {
	dir := c.repoDir(url)
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err == nil {
		return dir, nil
	}
	_ = os.RemoveAll(dir) // an init cut short
	tmp, err := os.MkdirTemp(c.dir, ".init-")
	if err != nil {
		return "", err
	}
	if _, err := runGit(ctx, tmp, "-c", "init.defaultBranch="+gitInitialBranch, "init", "--quiet", "--bare"); err != nil {
		_ = os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp)
		return "", err
	}
	return dir, nil
}

// gitTreeInfo is what the tree cache keeps of an exported commit.
type gitTreeInfo struct {
	NarHash      string `json:"narHash"`
	LastModified int64  `json:"lastModified"`
	RevCount     int64  `json:"revCount"`
	HasRevCount  bool   `json:"hasRevCount"`
}

func (c *gitCache) treeFile(rev string, submodules, shallow bool) string {
	h := sha256.Sum256(fmt.Appendf(nil, "git\x00%s\x00%t\x00%t", rev, submodules, shallow))
	return filepath.Join(c.dir, "trees", hex.EncodeToString(h[:]))
}

// lookupTree returns the cached information of rev's tree, if any.
func (c *gitCache) lookupTree(rev string, submodules, shallow bool) (*gitTreeInfo, bool) {
	if c == nil || !isGitRev(rev) {
		return nil, false
	}
	b, err := os.ReadFile(c.treeFile(rev, submodules, shallow))
	if err != nil {
		return nil, false
	}
	var info gitTreeInfo
	if json.Unmarshal(b, &info) != nil || !strings.HasPrefix(info.NarHash, "sha256-") {
		return nil, false
	}
	return &info, true
}

// saveTree records rev's tree; the cache is an optimisation, so failures
// are ignored (a later fetch recomputes).
func (c *gitCache) saveTree(rev string, submodules, shallow bool, info gitTreeInfo) {
	if c != nil && isGitRev(rev) {
		writeCacheFile(c.treeFile(rev, submodules, shallow), info)
	}
}

// isGitRev reports whether s is a full SHA-1 commit id.
func isGitRev(s string) bool {
	if len(s) != 40 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// refFileFresh reports whether the ref file exists and was fetched within
// ttl.
func refFileFresh(name string, now time.Time, ttl time.Duration) bool {
	fi, err := os.Stat(name)
	return err == nil && withinTTL(fi.ModTime(), now, ttl)
}
