package eval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/onix-dev/onix/internal/eval/syntax"
	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/nar"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

// builtins.fetchGit, following Nix 2.8's GitInputScheme (libfetchers/git.cc)
// on top of the git CLI:
//
//   - a local repository (a path or file:// URL of a non-bare repository)
//     without ref and rev whose working tree is dirty is copied (tracked
//     files only);
//   - otherwise a local repository is read in place, with ref defaulting to
//     its HEAD branch;
//   - anything else (bare repositories, http(s)://, ssh://, git://) is
//     fetched into a bare repository first: ref defaults to "master" and
//     only that ref is fetched (all refs with allRefs = true);
//   - the commit is exported with `git archive`, or, with submodules = true,
//     checked out in a scratch clone with `git submodule update --init
//     --recursive`, dropping every ".git".
//
// Like Nix, onix keeps the bare repositories of remote URLs and what it
// knows of fetched trees in a persistent cache (see gitCache).

// gitInitialBranch is the initial branch of scratch repositories (as Nix,
// to keep git quiet; the value does not matter).
const gitInitialBranch = "__nix_dummy_branch"

// badGitRef matches what Nix rejects as a branch or tag name.
var badGitRef = regexp.MustCompile(`//|^[./]|/\.|\.\.|[[:cntrl:][:space:]:?^~\[]|\\|\*|\.lock$|\.lock/|@\{|[/.]$|^@$|^$`)

// scpURL matches scp-style git URLs (user@host:path).
var scpURL = regexp.MustCompile(`^([^/]*)@(.*):(.*)$`)

type gitArgs struct {
	url          string // with a scheme, as fixURIForGit makes it
	ref, rev     string
	name         string
	submodules   bool
	shallow      bool
	allRefs      bool
	narHash      *hash.Hash
	lastModified *int64
	revCount     *int64
}

// gitTree is a fetched tree: the directory to add (with a filter) and the
// attributes fetchGit returns.
type gitTree struct {
	dir          string
	filter       nar.Filter
	rev          string // "" for a dirty working tree
	revCount     int64
	hasRevCount  bool
	lastModified int64
	cleanup      func()
}

// fixGitURL mirrors Nix's fixURIForGit: scp-style addresses become ssh://
// URLs and scheme-less ones file:// URLs.
func fixGitURL(s string) string {
	if !strings.HasPrefix(s, "/") {
		if m := scpURL.FindStringSubmatch(s); m != nil {
			s = "ssh://" + m[1] + "@" + m[2] + "/" + m[3]
		}
	}
	if strings.Contains(s, "://") {
		return s
	}
	return "file://" + s
}

func (st *storeState) parseGitArgs(pos syntax.Pos, arg *Value) gitArgs {
	ev := st.ev
	ev.force(arg)
	a := gitArgs{name: "source"}
	if arg.kind != KAttrs {
		s, _ := ev.CoerceToString(pos, arg, false, false)
		a.url = fixGitURL(s)
		return a
	}
	haveURL := false
	for _, at := range ev.sortedAttrs(arg.Attrs()) {
		n := ev.syms.Name(at.Name)
		if n == "type" {
			ev.errorAt(pos, "unexpected attribute 'type'")
		}
		ev.force(at.Val)
		var str string
		switch at.Val.kind {
		case KString, KPath:
			str, _ = ev.CoerceToString(pos, at.Val, false, false)
		case KBool, KInt:
		default:
			ev.errorAt(pos, "fetchTree argument '%s' is %s while a string, Boolean or integer is expected", n, at.Val.TypeName())
		}
		wantStr := func() string {
			if at.Val.kind != KString && at.Val.kind != KPath {
				ev.errorAt(pos, "attribute '%s' should be a string", n)
			}
			return str
		}
		wantBool := func() bool {
			if at.Val.kind != KBool {
				ev.errorAt(pos, "attribute '%s' should be a Boolean", n)
			}
			return at.Val.Bool()
		}
		wantInt := func() *int64 {
			if at.Val.kind != KInt {
				ev.errorAt(pos, "attribute '%s' should be an integer", n)
			}
			i := at.Val.Int()
			return &i
		}
		switch n {
		case "url":
			a.url = fixGitURL(wantStr())
			haveURL = true
		case "ref":
			a.ref = wantStr()
			if badGitRef.MatchString(a.ref) {
				ev.errorAt(pos, "invalid Git branch/tag name '%s'", a.ref)
			}
		case "rev":
			h, err := hash.ParseAny(wantStr(), hash.SHA1)
			if err != nil {
				ev.errorAt(pos, "hash '%s' is not a valid Git revision: %s", str, err)
			}
			a.rev = h.Encode(hash.Base16, false)
		case "name":
			a.name = wantStr()
		case "submodules":
			a.submodules = wantBool()
		case "shallow":
			a.shallow = wantBool()
		case "allRefs":
			a.allRefs = wantBool()
		case "narHash":
			h, err := hash.ParseAny(wantStr(), hash.Unknown)
			if err != nil {
				ev.errorAt(pos, "%s", err)
			}
			if h.Algo != hash.SHA256 {
				ev.errorAt(pos, "narHash must use SHA-256")
			}
			a.narHash = &h
		case "lastModified":
			a.lastModified = wantInt()
		case "revCount":
			a.revCount = wantInt()
		default:
			ev.errorAt(pos, "unsupported Git input attribute '%s'", n)
		}
	}
	if !haveURL {
		ev.errorAt(pos, "attribute 'url' missing")
	}
	return a
}

// fetchGit implements builtins.fetchGit.
func (st *storeState) fetchGit(pos syntax.Pos, arg *Value) *Value {
	ev := st.ev
	a := st.parseGitArgs(pos, arg)
	cache := gitCacheFor(ev)
	// A tree known from the cache whose store path is usable needs no
	// export: first for a rev given, then for the rev a ref resolves to.
	var p string
	var nh hash.Hash
	var known *gitTreeInfo
	lookup := func(rev string) bool {
		info, ok := cache.lookupTree(rev, a.submodules, a.shallow)
		if !ok {
			return false
		}
		h, err := hash.ParseSRI(info.NarHash)
		if err != nil {
			return false
		}
		sp, err := st.sd.MakeFixedOutputPath(a.name, storepath.Recursive, h, nil, false)
		if err != nil || !st.pathUsable(st.sd.Path(sp)) {
			return false
		}
		p, nh, known = st.sd.Path(sp), h, info
		return true
	}
	t := &gitTree{rev: a.rev}
	if a.rev == "" || !lookup(a.rev) {
		afterResolve := lookup
		if a.rev != "" {
			afterResolve = nil // already asked
		}
		var err error
		t, err = fetchGitTree(ev.ctx, a, ev.opts.Stderr, cache, afterResolve)
		if t != nil && t.cleanup != nil {
			defer t.cleanup()
		}
		if err != nil {
			ev.errorAt(pos, "%s\n… while fetching the input '%s'", err, a.url)
		}
	}
	if known != nil {
		t.lastModified, t.revCount, t.hasRevCount = known.LastModified, known.RevCount, known.HasRevCount
	} else {
		p = st.addPath(pos, a.name, t.dir, true, t.filter, nil)
		var err error
		if nh, _, err = nar.HashPath(ev.ctx, t.dir, t.filter); err != nil {
			ev.errorAt(pos, "hashing the Git tree of '%s': %s", a.url, err)
		}
		cache.saveTree(t.rev, a.submodules, a.shallow, gitTreeInfo{
			NarHash: nh.SRI(), LastModified: t.lastModified, RevCount: t.revCount, HasRevCount: t.hasRevCount,
		})
	}
	if a.narHash != nil && !a.narHash.Equal(nh) {
		ev.errorAt(pos, "NAR hash mismatch in input '%s' (%s), expected '%s', got '%s'", a.url, p, a.narHash.SRI(), nh.SRI())
	}
	if a.lastModified != nil && *a.lastModified != t.lastModified {
		ev.errorAt(pos, "'lastModified' attribute mismatch in input '%s', expected %d", a.url, *a.lastModified)
	}
	if a.revCount != nil && (!t.hasRevCount || *a.revCount != t.revCount) {
		ev.errorAt(pos, "'revCount' attribute mismatch in input '%s', expected %d", a.url, *a.revCount)
	}
	b := ev.NewAttrsBuilder(8)
	b.Set("outPath", MkStringCtx(p, NewContext(p)))
	b.Set("narHash", MkString(nh.SRI()))
	b.Set("submodules", MkBool(a.submodules))
	rev := t.rev
	if rev == "" {
		rev = strings.Repeat("0", 40)
	}
	b.Set("rev", MkString(rev))
	b.Set("shortRev", MkString(rev[:7]))
	b.Set("revCount", MkInt(t.revCount))
	b.Set("lastModified", MkInt(t.lastModified))
	b.Set("lastModifiedDate", MkString(time.Unix(t.lastModified, 0).UTC().Format("20060102150405")))
	return b.Value()
}

// fetchGitTree fetches the tree described by a, keeping remote
// repositories in cache (nil: in temporary directories). Once the commit
// is known, known(rev) may claim it (the caller has the tree already):
// the returned tree then has only rev set. On success (and sometimes on
// failure) the caller must run the returned tree's cleanup.
func fetchGitTree(ctx context.Context, a gitArgs, warn io.Writer, cache *gitCache, known func(rev string) bool) (*gitTree, error) {
	u, err := url.Parse(a.url)
	if err != nil {
		return nil, fmt.Errorf("invalid Git URL '%s': %w", a.url, err)
	}
	isLocal := false
	actualURL := a.url
	if u.Scheme == "file" {
		_, err := os.Stat(filepath.Join(u.Path, ".git"))
		isLocal = err == nil
		if isLocal {
			actualURL = u.Path
		}
	}
	if !isLocal {
		// Nix drops the query (and fragment) of the URL
		v := *u
		v.RawQuery, v.Fragment, v.RawFragment, v.ForceQuery = "", "", "", false
		actualURL = v.String()
	}
	ref, rev := a.ref, a.rev

	if ref == "" && rev == "" && isLocal {
		t, err := gitDirtyTree(ctx, actualURL, a.submodules, warn)
		if t != nil || err != nil {
			return t, err
		}
	}

	t := &gitTree{}
	var repoDir string
	var tmpDirs []string
	var unlock func()
	t.cleanup = func() {
		for _, d := range tmpDirs {
			_ = os.RemoveAll(d)
		}
		if unlock != nil {
			unlock()
		}
	}
	mkTemp := func(pattern string) (string, error) {
		d, err := os.MkdirTemp("", pattern)
		if err == nil {
			tmpDirs = append(tmpDirs, d)
		}
		return d, err
	}

	if isLocal {
		if ref == "" {
			out, err := runGit(ctx, actualURL, "rev-parse", "--abbrev-ref", "HEAD")
			if err != nil {
				return t, err
			}
			ref = strings.TrimSpace(out)
		}
		if rev == "" {
			out, err := runGit(ctx, actualURL, "rev-parse", ref)
			if err != nil {
				return t, fmt.Errorf("resolving ref '%s' in '%s': %w", ref, actualURL, err)
			}
			rev = strings.TrimSpace(out)
		}
		repoDir = actualURL
	} else {
		if ref == "" {
			ref = "master"
		}
		var err error
		if cache != nil {
			if unlock, err = cache.lockRepo(ctx, actualURL); err != nil {
				return t, err
			}
			if repoDir, err = cache.initRepo(ctx, actualURL); err != nil {
				return t, fmt.Errorf("creating the Git cache of '%s': %w", actualURL, err)
			}
		} else {
			if repoDir, err = mkTemp("onix-git-repo-"); err != nil {
				return t, err
			}
			if _, err := runGit(ctx, repoDir, "-c", "init.defaultBranch="+gitInitialBranch, "init", "--quiet", "--bare"); err != nil {
				return t, err
			}
		}
		localRef := ref
		if !strings.HasPrefix(ref, "refs/") {
			localRef = "refs/heads/" + ref
		}
		localRefFile := filepath.Join(repoDir, filepath.FromSlash(localRef))
		// Fetch when the repository lacks the rev, or the ref is older than
		// tarball-ttl (always with allRefs, and always into a fresh
		// temporary repository).
		now := time.Now()
		doFetch := true
		switch {
		case cache == nil:
		case rev != "":
			_, err := runGit(ctx, repoDir, "cat-file", "-e", rev)
			doFetch = err != nil
		case !a.allRefs:
			doFetch = !refFileFresh(localRefFile, now, cache.ttl)
		}
		if doFetch {
			fetchRef := localRef
			switch {
			case a.allRefs:
				fetchRef = "refs/*"
			case ref == "HEAD":
				fetchRef = ref
			}
			if _, err := runGit(ctx, repoDir, "fetch", "--quiet", "--force", "--", actualURL, fetchRef+":"+fetchRef); err != nil {
				if _, serr := os.Stat(localRefFile); cache == nil || serr != nil {
					return t, fmt.Errorf("fetching Git repository '%s': %w", actualURL, err)
				}
				fmt.Fprintf(warn, "warning: could not update local clone of Git repository '%s'; continuing with the most recent version\n", actualURL)
			}
			_ = os.Chtimes(localRefFile, now, now)
		}
		if rev == "" {
			b, err := os.ReadFile(localRefFile)
			if err != nil {
				return t, fmt.Errorf("reading ref '%s' fetched from '%s': %w", ref, actualURL, err)
			}
			h, err := hash.ParseAny(strings.TrimSpace(string(b)), hash.SHA1)
			if err != nil {
				return t, fmt.Errorf("ref '%s' of '%s': %w", ref, actualURL, err)
			}
			rev = h.Encode(hash.Base16, false)
		}
	}

	if known != nil && known(rev) {
		t.rev = rev
		return t, nil
	}

	if out, err := runGit(ctx, repoDir, "rev-parse", "--is-shallow-repository"); err != nil {
		return t, err
	} else if strings.TrimSpace(out) == "true" && !a.shallow {
		return t, fmt.Errorf("'%s' is a shallow Git repository, but a non-shallow repository is needed", actualURL)
	}

	if _, err := runGit(ctx, repoDir, "cat-file", "commit", rev); err != nil && strings.Contains(err.Error(), "bad file") {
		return t, fmt.Errorf("Cannot find Git revision '%s' in ref '%s' of repository '%s'! Please make sure that the rev exists on the ref you've specified or add allRefs = true; to fetchGit.", rev, ref, actualURL)
	}

	tmpDir, err := mkTemp("onix-git-tree-")
	if err != nil {
		return t, err
	}
	t.dir = tmpDir
	if a.submodules {
		gitDir, err := mkTemp("onix-git-dir-")
		if err != nil {
			return t, err
		}
		steps := [][]string{
			{"-c", "init.defaultBranch=" + gitInitialBranch, "init", "--quiet", tmpDir, "--separate-git-dir", gitDir},
			{"-C", tmpDir, "fetch", "--quiet", "--force", "--update-head-ok", "--", repoDir, "refs/*:refs/*"},
			{"-C", tmpDir, "checkout", "--quiet", rev},
			{"-C", tmpDir, "remote", "add", "origin", actualURL},
			// git >= 2.38.1 refuses file:// submodules by default; Nix
			// 2.8 predates that, later Nix versions allow it like this
			{"-C", tmpDir, "-c", "protocol.file.allow=always", "submodule", "--quiet", "update", "--init", "--recursive"},
		}
		for _, s := range steps {
			if _, err := runGitArgs(ctx, s...); err != nil {
				return t, fmt.Errorf("checking out '%s' with submodules: %w", actualURL, err)
			}
		}
		t.filter = func(p string, _ os.FileMode) bool { return filepath.Base(p) != ".git" }
	} else if err := gitArchive(ctx, repoDir, rev, tmpDir); err != nil {
		return t, err
	}

	out, err := runGit(ctx, repoDir, "log", "-1", "--format=%ct", "--no-show-signature", rev)
	if err != nil {
		return t, err
	}
	if t.lastModified, err = strconv.ParseInt(strings.TrimSpace(out), 10, 64); err != nil {
		return t, fmt.Errorf("commit time of %s: %w", rev, err)
	}
	if !a.shallow {
		out, err := runGit(ctx, repoDir, "rev-list", "--count", rev)
		if err != nil {
			return t, err
		}
		if t.revCount, err = strconv.ParseInt(strings.TrimSpace(out), 10, 64); err != nil {
			return t, fmt.Errorf("revision count of %s: %w", rev, err)
		}
		t.hasRevCount = true
	}
	t.rev = rev
	return t, nil
}

// gitDirtyTree handles a local repository without ref and rev: if its
// working tree is dirty, the tracked files (of submodules too, with
// submodules) are used in place. It returns nil for a clean tree.
func gitDirtyTree(ctx context.Context, dir string, submodules bool, warn io.Writer) (*gitTree, error) {
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "--git-dir=.git", "rev-parse", "--verify", "--no-revs", "HEAD^{commit}")
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	hasHead := err == nil
	switch {
	case bytes.Contains(out, []byte("fatal: not a git repository")):
		return nil, fmt.Errorf("'%s' is not a Git repository", dir)
	case bytes.Contains(out, []byte("fatal: Needed a single revision")):
		// no commits yet: dirty
	case err != nil && !errors.As(err, &ee):
		return nil, fmt.Errorf("running git: %w", err)
	case err != nil:
		return nil, fmt.Errorf("getting the HEAD of the Git tree '%s' failed with exit code %d:\n%s", dir, ee.ExitCode(), out)
	}
	if hasHead {
		args := []string{"diff", "HEAD", "--quiet"}
		if !submodules {
			args = append(args, "--ignore-submodules")
		}
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, append(args, "--")...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if err == nil {
			return nil, nil
		}
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			return nil, fmt.Errorf("git diff in '%s': %v: %s", dir, err, strings.TrimSpace(stderr.String()))
		}
	}
	fmt.Fprintf(warn, "warning: Git tree '%s' is dirty\n", dir)
	args := []string{"ls-files", "-z"}
	if submodules {
		args = append(args, "--recurse-submodules")
	}
	ls, err := runGit(ctx, dir, args...)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, f := range strings.Split(ls, "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	sort.Strings(files)
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	root = filepath.Clean(root)
	filter := func(p string, mode os.FileMode) bool {
		rel := strings.TrimPrefix(p, root+"/")
		if mode.IsDir() {
			prefix := rel + "/"
			i := sort.SearchStrings(files, prefix)
			return i < len(files) && strings.HasPrefix(files[i], prefix)
		}
		i := sort.SearchStrings(files, rel)
		return i < len(files) && files[i] == rel
	}
	t := &gitTree{dir: root, filter: filter}
	if hasHead {
		out, err := runGit(ctx, dir, "log", "-1", "--format=%ct", "--no-show-signature", "HEAD")
		if err != nil {
			return nil, err
		}
		if t.lastModified, err = strconv.ParseInt(strings.TrimSpace(out), 10, 64); err != nil {
			return nil, fmt.Errorf("commit time of HEAD in '%s': %w", dir, err)
		}
	}
	return t, nil
}

// gitArchive exports commit rev of repoDir into dir with `git archive`.
func gitArchive(ctx context.Context, repoDir, rev, dir string) error {
	cmd := exec.CommandContext(ctx, "git", "-C", repoDir, "archive", rev)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("running git: %w", err)
	}
	xerr := extractTar(out, dir)
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git archive %s in '%s': %v: %s", rev, repoDir, err, strings.TrimSpace(stderr.String()))
	}
	if xerr != nil {
		return fmt.Errorf("unpacking git archive of %s: %w", rev, xerr)
	}
	return nil
}

func runGit(ctx context.Context, dir string, args ...string) (string, error) {
	return runGitArgs(ctx, append([]string{"-C", dir}, args...)...)
}

func runGitArgs(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
