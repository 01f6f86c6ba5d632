package eval

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitEnvAllowFile lets git (in Nix too) clone file:// submodules, which git
// >= 2.38.1 refuses by default.
var gitEnvAllowFile = []string{"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=protocol.file.allow", "GIT_CONFIG_VALUE_0=always"}

func needGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("skipping: git is not installed")
	}
}

// gitIn runs git in dir with a fixed identity and dates; it returns stdout.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.email=a@b", "-c", "user.name=n", "-c", "commit.gpgsign=false",
		"-c", "init.defaultBranch=master", "-c", "protocol.file.allow=always"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE=2021-02-03T04:05:06Z", "GIT_COMMITTER_DATE=2021-02-03T04:05:06Z")
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("git %v in %s: %v %s", args, dir, err, msg)
	}
	return strings.TrimSpace(string(out))
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// gitRepos makes, under root, repositories inner, lib (with inner as the
// submodule "vendor/inner", relative URL) and super (with lib as the
// submodule "lib", relative URL), all on branch master; super also has a
// branch dev with a commit not on master, a lightweight tag and an
// annotated tag. It returns super's commit ids: master, dev, and master's
// first commit.
func gitRepos(t *testing.T, root string) (master, dev, first string) {
	t.Helper()
	for _, r := range []string{"inner", "lib", "super"} {
		if err := os.MkdirAll(filepath.Join(root, r), 0o755); err != nil {
			t.Fatal(err)
		}
		gitIn(t, filepath.Join(root, r), "init", "-q")
	}
	inner, lib, super := filepath.Join(root, "inner"), filepath.Join(root, "lib"), filepath.Join(root, "super")
	writeFiles(t, inner, map[string]string{"inner.txt": "inner\n", "bin/x.sh": "#!/bin/sh\n"})
	gitIn(t, inner, "add", ".")
	gitIn(t, inner, "commit", "-qm", "inner")

	writeFiles(t, lib, map[string]string{"lib.nix": "{ }\n", "src/a.c": "int a;\n"})
	if err := os.Symlink("src/a.c", filepath.Join(lib, "a-link")); err != nil {
		t.Fatal(err)
	}
	gitIn(t, lib, "add", ".")
	gitIn(t, lib, "submodule", "--quiet", "add", "../inner", "vendor/inner")
	gitIn(t, lib, "commit", "-qm", "lib")

	writeFiles(t, super, map[string]string{"default.nix": "1\n", "run.sh": "#!/bin/sh\n"})
	gitIn(t, super, "add", ".")
	gitIn(t, super, "commit", "-qm", "one")
	first = gitIn(t, super, "rev-parse", "HEAD")
	gitIn(t, super, "submodule", "--quiet", "add", "../lib", "lib")
	gitIn(t, super, "commit", "-qm", "add lib")
	gitIn(t, super, "tag", "light")
	gitIn(t, super, "tag", "-a", "-m", "annotated", "v1")
	master = gitIn(t, super, "rev-parse", "HEAD")
	gitIn(t, super, "checkout", "-q", "-b", "dev")
	writeFiles(t, super, map[string]string{"dev.txt": "dev\n"})
	gitIn(t, super, "add", ".")
	gitIn(t, super, "commit", "-qm", "dev")
	dev = gitIn(t, super, "rev-parse", "HEAD")
	gitIn(t, super, "checkout", "-q", "master")
	return master, dev, first
}

// nixInstantiateEnv is nixInstantiate with extra environment variables.
func nixInstantiateEnv(t *testing.T, dir, expr string, env []string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("nix-instantiate"); err != nil {
		t.Skip("skipping: nix-instantiate not installed")
	}
	tmp := t.TempDir()
	cmd := exec.Command("nix-instantiate", "--eval", "--read-write-mode", "--strict", "--json", "-E", expr)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "NIX_REMOTE=local?root="+tmp+"/root", "HOME="+tmp, "XDG_CACHE_HOME="+tmp+"/cache", "NIX_PATH="), env...)
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr), err
	}
	return strings.TrimSpace(string(out)), err
}

// onixEval evaluates expr in read-only mode and returns its JSON or error.
// Each evaluation has a fresh fetcher cache, as each Nix run of
// nixInstantiateEnv has (with a warm cache, Nix 2.8 and onix both find a
// rev fetched earlier through another ref).
func onixEval(expr, dir string) (string, error) {
	cache, err := os.MkdirTemp("", "onix-eval-cache-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(cache)
	ev := New(context.Background(), Options{Paths: ReadOnlyPaths{}, Stderr: io.Discard, CacheDir: cache})
	v, err := ev.EvalString(expr, "«test»", dir)
	if err != nil {
		return "", err
	}
	return ev.ToJSON(v, false)
}

const showGit = `let f = r: builtins.removeAttrs r [ "outPath" ] // { p = r.outPath; }; in f `

type gitCase struct {
	expr    string
	wantErr string // onix's error must contain this; Nix must fail too
}

func runGitCases(t *testing.T, dir string, cases []gitCase) {
	t.Helper()
	for _, c := range cases {
		want, nerr := nixInstantiateEnv(t, dir, c.expr, gitEnvAllowFile)
		got, err := onixEval(c.expr, dir)
		switch {
		case c.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s\n error %v, want %q", c.expr, err, c.wantErr)
			}
			if nerr == nil {
				t.Errorf("%s\n Nix succeeded: %s", c.expr, want)
			}
		case nerr != nil:
			t.Errorf("%s\n Nix failed: %v\n%s", c.expr, nerr, want)
		case err != nil:
			t.Errorf("%s\n onix failed: %v", c.expr, err)
		case !jsonEqual(t, got, want):
			t.Errorf("%s\n got %s\nwant %s", c.expr, got, want)
		}
	}
}

// TestFetchGitSubmodulesDifferential: submodules = true on local
// repositories (nested submodules with relative URLs), by path, file://
// URL, ref and rev, and a dirty tree, against Nix 2.8.
func TestFetchGitSubmodulesDifferential(t *testing.T) {
	needGit(t)
	root := t.TempDir()
	master, _, first := gitRepos(t, root)
	super := filepath.Join(root, "super")
	runGitCases(t, root, []gitCase{
		{expr: showGit + `(builtins.fetchGit { url = ` + super + `; submodules = true; })`},
		{expr: showGit + `(builtins.fetchGit { url = "file://` + super + `"; submodules = true; ref = "master"; })`},
		{expr: showGit + `(builtins.fetchGit { url = ` + super + `; submodules = true; rev = "` + master + `"; name = "named"; })`},
		{expr: showGit + `(builtins.fetchGit { url = ` + super + `; submodules = true; ref = "dev"; })`},
		{expr: showGit + `(builtins.fetchGit { url = ` + super + `; submodules = true; rev = "` + first + `"; })`},
		// without submodules the submodule is an empty directory
		{expr: showGit + `(builtins.fetchGit { url = ` + super + `; submodules = false; })`},
	})
	// the checkout must really contain the nested submodule's files, and
	// no .git
	tr, err := fetchGitTree(context.Background(), gitArgs{url: "file://" + super, submodules: true}, io.Discard, nil, nil)
	if tr != nil && tr.cleanup != nil {
		defer tr.cleanup()
	}
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(tr.dir, "lib/vendor/inner/inner.txt")); err != nil || string(b) != "inner\n" {
		t.Errorf("nested submodule file: %q %v", b, err)
	}
	if tr.filter(filepath.Join(tr.dir, "lib", ".git"), 0) || !tr.filter(filepath.Join(tr.dir, "lib", "lib.nix"), 0) {
		t.Errorf("the filter must drop exactly .git")
	}
	// a dirty submodule makes the tree dirty only with submodules = true
	writeFiles(t, filepath.Join(super, "lib"), map[string]string{"lib.nix": "{ dirty = 1; }\n"})
	writeFiles(t, super, map[string]string{"untracked": "u\n"})
	runGitCases(t, root, []gitCase{
		{expr: showGit + `(builtins.fetchGit { url = ` + super + `; submodules = true; })`},
		{expr: showGit + `(builtins.fetchGit ` + super + `)`},
	})
}

// gitHTTPServer serves the repositories under root with git http-backend
// (smart HTTP) on 127.0.0.1 only.
func gitHTTPServer(t *testing.T, root string) string {
	t.Helper()
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Skipf("skipping: git-http-backend not available: %v", err)
	}
	h := &cgi.Handler{
		Path: backend,
		Root: "/",
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + l.Addr().String()
}

// TestFetchGitRemoteDifferential: fetchGit from bare repositories
// (file://) and over smart HTTP on loopback, with the default ref
// (master), a branch, tags, revs on and off the ref, allRefs, shallow and
// submodules (fetched over HTTP through relative URLs), against Nix 2.8.
func TestFetchGitRemoteDifferential(t *testing.T) {
	needGit(t)
	root := t.TempDir()
	master, dev, first := gitRepos(t, root)
	gitIn(t, root, "clone", "-q", "--bare", filepath.Join(root, "super"), filepath.Join(root, "super.git"))
	base := gitHTTPServer(t, root)
	for _, u := range []string{"file://" + filepath.Join(root, "super.git"), base + "/super"} {
		t.Run(strings.SplitN(u, ":", 2)[0], func(t *testing.T) {
			fg := func(attrs string) string {
				return showGit + `(builtins.fetchGit { url = "` + u + `"; ` + attrs + ` })`
			}
			runGitCases(t, root, []gitCase{
				{expr: fg(``)},
				{expr: showGit + `(builtins.fetchGit "` + u + `")`},
				{expr: fg(`ref = "dev";`)},
				{expr: fg(`ref = "refs/heads/dev";`)},
				{expr: fg(`ref = "refs/tags/light";`)},
				// the rev of an annotated tag is the tag object's, in Nix 2.8 too
				{expr: fg(`ref = "refs/tags/v1";`)},
				{expr: fg(`ref = "HEAD";`)},
				{expr: fg(`ref = "v1";`), wantErr: "couldn't find remote ref"},
				{expr: fg(`rev = "` + first + `";`)},
				{expr: fg(`rev = "` + master + `"; ref = "master";`)},
				{expr: fg(`rev = "` + dev + `"; ref = "dev";`)},
				{expr: fg(`rev = "` + dev + `"; allRefs = true;`)},
				{expr: fg(`allRefs = true;`)},
				{expr: fg(`shallow = true;`)},
				{expr: fg(`submodules = true;`)},
				{expr: fg(`submodules = true; ref = "dev"; name = "sub-dev";`)},
				{expr: fg(`rev = "` + dev + `";`), wantErr: "Cannot find Git revision"},
				{expr: fg(`ref = "nosuchbranch";`), wantErr: "nosuchbranch"},
				{expr: fg(`ref = "bad..ref";`), wantErr: "invalid Git branch/tag name"},
			})
		})
	}
	// the same commit has the same tree whichever way it is fetched
	a, err := onixEval(`(builtins.fetchGit { url = "`+base+`/super"; submodules = true; }).outPath`, root)
	if err != nil {
		t.Fatal(err)
	}
	b, err := onixEval(`(builtins.fetchGit { url = `+filepath.Join(root, "super")+`; submodules = true; ref = "master"; }).outPath`, root)
	if err != nil || a != b {
		t.Errorf("HTTP %s, local %s, %v", a, b, err)
	}
	// a narHash argument is checked
	if _, err := onixEval(`builtins.fetchGit { url = "`+base+`/super"; narHash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; }`, root); err == nil || !strings.Contains(err.Error(), "NAR hash mismatch") {
		t.Errorf("narHash mismatch not reported: %v", err)
	}
	// an unreachable server is an error naming the URL
	if _, err := onixEval(`builtins.fetchGit "http://127.0.0.1:1/nothing"`, root); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1/nothing") {
		t.Errorf("unreachable server: %v", err)
	}
}
