package eval

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gitCacheEval evaluates expr read-only with the given cache directory and
// store (nil: read-only paths); it returns the JSON, the warnings and the
// error.
func gitCacheEval(t *testing.T, cacheDir string, st Store, expr string) (string, string, error) {
	t.Helper()
	return fetchEval(t, Options{CacheDir: cacheDir}, st, expr)
}

// fetchEval is gitCacheEval with more options.
func fetchEval(t *testing.T, opts Options, st Store, expr string) (string, string, error) {
	t.Helper()
	var warn bytes.Buffer
	opts.Stderr = &warn
	if st != nil {
		opts.Store = st
	} else {
		opts.Paths = ReadOnlyPaths{}
	}
	ev := New(context.Background(), opts)
	v, err := ev.EvalString(expr, "«test»", t.TempDir())
	if err != nil {
		return "", warn.String(), err
	}
	js, err := ev.ToJSON(v, false)
	return js, warn.String(), err
}

// gitRemote makes gitRepos under a new directory plus a bare clone of
// super, remote.git; it returns the directory, the bare clone and master.
func gitRemote(t *testing.T) (root, remote, master string) {
	t.Helper()
	needGit(t)
	root = t.TempDir()
	master, _, _ = gitRepos(t, root)
	remote = filepath.Join(root, "remote.git")
	gitIn(t, root, "clone", "-q", "--bare", filepath.Join(root, "super"), remote)
	return root, remote, master
}

// A remote repository is fetched into the persistent cache once: within
// tarball-ttl a ref is served from it even when the remote is gone, a rev
// it has needs no fetch, a stale ref whose fetch fails falls back to the
// last fetched commit with Nix's warning, a rev it lacks is an error, and
// a fresh ref does not see new remote commits until it is stale.
func TestFetchGitPersistentCache(t *testing.T) {
	root, remote, master := gitRemote(t)
	cache := t.TempDir()
	byRef := showGit + `(builtins.fetchGit { url = "file://` + remote + `"; ref = "master"; })`
	byRev := showGit + `(builtins.fetchGit { url = "file://` + remote + `"; rev = "` + master + `"; })`

	first, _, err := gitCacheEval(t, cache, nil, byRef)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(first, master) {
		t.Fatalf("fetched %s, want rev %s", first, master)
	}
	away := remote + ".away"
	if err := os.Rename(remote, away); err != nil {
		t.Fatal(err)
	}
	for _, expr := range []string{byRef, byRev} {
		got, warn, err := gitCacheEval(t, cache, nil, expr)
		if err != nil || got != first || warn != "" {
			t.Errorf("remote gone, within the TTL:\n%s\n got %s (warnings %q, error %v)\nwant %s", expr, got, warn, err, first)
		}
	}

	// tarball-ttl = 0: the ref is fetched again (and, the remote being
	// gone, the last fetched commit is used with the warning).
	if got, warn, err := fetchEval(t, Options{CacheDir: cache, TarballTTL: AlwaysRevalidate}, nil, byRef); err != nil || got != first || !strings.Contains(warn, "could not update local clone") {
		t.Errorf("tarball-ttl 0, remote gone: got %s, warnings %q, error %v", got, warn, err)
	}

	// A stale ref: the fetch fails, the last fetched commit is used.
	refs, _ := filepath.Glob(filepath.Join(cache, "gitv3", "*", "refs", "heads", "master"))
	if len(refs) != 1 {
		t.Fatalf("cached ref files: %v", refs)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(refs[0], old, old); err != nil {
		t.Fatal(err)
	}
	got, warn, err := gitCacheEval(t, cache, nil, byRef)
	if err != nil || got != first || !strings.Contains(warn, "could not update local clone of Git repository 'file://"+remote+"'; continuing with the most recent version") {
		t.Errorf("stale ref, remote gone: got %s, warnings %q, error %v", got, warn, err)
	}

	// A rev the cache lacks cannot be had without the remote.
	const missing = "0123456789abcdef0123456789abcdef01234567"
	if _, _, err := gitCacheEval(t, cache, nil, `(builtins.fetchGit { url = "file://`+remote+`"; rev = "`+missing+`"; }).rev`); err == nil {
		t.Error("a rev neither cached nor fetchable was found")
	}

	// The remote moves on: a fresh ref keeps the cached commit, a stale
	// one fetches the new one.
	if err := os.Rename(away, remote); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(root, "work")
	gitIn(t, root, "clone", "-q", remote, work)
	writeFiles(t, work, map[string]string{"new.txt": "new\n"})
	gitIn(t, work, "add", ".")
	gitIn(t, work, "commit", "-qm", "new")
	gitIn(t, work, "push", "-q", "origin", "master")
	newRev := gitIn(t, work, "rev-parse", "HEAD")
	if got, _, err := gitCacheEval(t, cache, nil, byRef); err != nil || got != first {
		t.Errorf("fresh ref after a remote commit: got %s (%v), want the cached %s", got, err, first)
	}
	if err := os.Chtimes(refs[0], old, old); err != nil {
		t.Fatal(err)
	}
	if got, _, err := gitCacheEval(t, cache, nil, byRef); err != nil || !strings.Contains(got, newRev) {
		t.Errorf("stale ref after a remote commit: got %s (%v), want rev %s", got, err, newRev)
	}
}

// validityStore is a store whose EnsureValid answers from a set.
type validityStore struct {
	*memStore
	valid map[string]bool
}

func (s *validityStore) AddPath(name, src string, recursive bool, filter func(string, os.FileMode) bool) (string, error) {
	p, err := ComputeStorePath(context.Background(), s.sd, name, src, recursive, filter)
	if err == nil {
		s.valid[p] = true
	}
	return p, err
}

func (s *validityStore) EnsureValid(p string) (bool, error) { return s.valid[p], nil }

// A tree fetched by rev is remembered: with every copy of the repository
// gone, the same fetchGit still gives the same result, from the tree cache
// alone, as long as its store path is valid (read-only evaluation needs no
// store path); once the path is not valid, git is needed again.
func TestFetchGitTreeCache(t *testing.T) {
	root, remote, master := gitRemote(t)
	local := filepath.Join(root, "super")
	cache := t.TempDir()
	st := &validityStore{memStore: newMemStore(), valid: map[string]bool{}}
	for _, url := range []string{"file://" + remote, local} {
		expr := showGit + `(builtins.fetchGit { url = "` + url + `"; rev = "` + master + `"; name = "src"; })`
		first, _, err := gitCacheEval(t, cache, st, expr)
		if err != nil {
			t.Fatal(err)
		}
		gitv3 := filepath.Join(cache, "gitv3")
		hidden := filepath.Join(root, "hidden")
		for _, d := range []string{local, remote, gitv3} {
			if err := os.Rename(d, hidden+filepath.Base(d)); err != nil {
				t.Fatal(err)
			}
		}
		// the tree cache itself must stay
		if err := os.MkdirAll(gitv3, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(hidden+filepath.Base(gitv3), "trees"), filepath.Join(gitv3, "trees")); err != nil {
			t.Fatal(err)
		}
		for _, s := range []Store{st, nil} {
			if got, _, err := gitCacheEval(t, cache, s, expr); err != nil || got != first {
				t.Errorf("%s, no repository left (store %v):\n got %s (%v)\nwant %s", url, s != nil, got, err, first)
			}
		}
		invalid := &validityStore{memStore: newMemStore(), valid: map[string]bool{}}
		if _, _, err := gitCacheEval(t, cache, invalid, expr); err == nil {
			t.Errorf("%s: a cached tree whose store path is not valid was used without git", url)
		}
		for _, d := range []string{local, remote} {
			if err := os.Rename(hidden+filepath.Base(d), d); err != nil {
				t.Fatal(err)
			}
		}
		_ = os.RemoveAll(gitv3)
		_ = os.RemoveAll(hidden + filepath.Base(gitv3))
	}
}
