package eval

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// zipEnt describes one zip member for makeZip.
type zipEnt struct {
	name string
	body string
	mode os.FileMode // Unix mode (with os.ModeDir/os.ModeSymlink); 0 for MS-DOS
	dos  uint32      // MS-DOS attributes when mode is 0
}

func makeZip(t testing.TB, ents []zipEnt) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range ents {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		} else {
			h.CreatorVersion = 0 << 8 // MS-DOS
			h.ExternalAttrs = e.dos
		}
		if strings.HasSuffix(e.name, "/") {
			h.Method = zip.Store
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zipCases are archives fetchTarball must unpack exactly as Nix 2.8 does.
var zipCases = map[string][]zipEnt{
	// nested directories, an executable (Unix external attributes), a
	// symlink, an empty directory, MS-DOS members (never executable)
	"full.zip": {
		{name: "top/", mode: os.ModeDir | 0o755},
		{name: "top/a.txt", body: "hello\n", mode: 0o644},
		{name: "top/sub/", mode: os.ModeDir | 0o755},
		{name: "top/sub/deep/run.sh", body: "#!/bin/sh\necho hi\n", mode: 0o755},
		{name: "top/sub/deep/data", body: strings.Repeat("data ", 1000), mode: 0o600},
		{name: "top/link", body: "a.txt", mode: os.ModeSymlink | 0o777},
		{name: "top/dangling", body: "/nonexistent/target", mode: os.ModeSymlink | 0o777},
		{name: "top/empty/", mode: os.ModeDir | 0o755},
		{name: "top/dos.txt", body: "dos\r\n", dos: 0x20},
		{name: "top/dosro.exe", body: "MZ", dos: 0x21},
		{name: "top/dosdir/", dos: 0x10},
		{name: "top/ox", body: "group/other exec only\n", mode: 0o611},
	},
	// no directory entries at all: parents are implied
	"nodirs.zip": {
		{name: "proj-1.0/src/main.c", body: "int main(){}\n", mode: 0o644},
		{name: "proj-1.0/bin/tool", body: "#!/bin/sh\n", mode: 0o755},
		{name: "proj-1.0/README", body: "readme\n", mode: 0o644},
	},
	// a single regular file at top level becomes the store path itself
	"single.zip": {
		{name: "tool.sh", body: "#!/bin/sh\nexit 0\n", mode: 0o755},
	},
	// "./" prefixes and a later duplicate that wins
	"dots.zip": {
		{name: "./d/", mode: os.ModeDir | 0o755},
		{name: "./d/x", body: "first\n", mode: 0o644},
		{name: "d//y", body: "y\n", mode: 0o644},
		{name: "./d/x", body: "second\n", mode: 0o755},
	},
}

// TestFetchTarballZipDifferential unpacks zip archives with fetchTarball
// and compares the store paths (and NAR hashes, through sha256) with Nix.
func TestFetchTarballZipDifferential(t *testing.T) {
	dir := t.TempDir()
	var exprs []string
	for name, ents := range zipCases {
		if err := os.WriteFile(filepath.Join(dir, name), makeZip(t, ents), 0o644); err != nil {
			t.Fatal(err)
		}
		exprs = append(exprs, `builtins.fetchTarball "file://`+dir+`/`+name+`"`)
	}
	// an archive made by Info-ZIP's zip from a real tree (symlinks kept)
	if _, err := exec.LookPath("zip"); err == nil {
		src := filepath.Join(dir, "src")
		for _, d := range []string{"pkg/lib/x", "pkg/bin"} {
			if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		_ = os.WriteFile(filepath.Join(src, "pkg/lib/x/f.txt"), []byte("f\n"), 0o644)
		_ = os.WriteFile(filepath.Join(src, "pkg/bin/run"), []byte("#!/bin/sh\n"), 0o755)
		_ = os.Symlink("../lib/x/f.txt", filepath.Join(src, "pkg/bin/f"))
		cmd := exec.Command("zip", "-q", "-r", "-y", filepath.Join(dir, "infozip.zip"), "pkg")
		cmd.Dir = src
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("zip: %v %s", err, out)
		}
		exprs = append(exprs, `builtins.fetchTarball { url = "file://`+dir+`/infozip.zip"; name = "infozip"; }`)
	} else {
		t.Log("zip not installed: skipping the Info-ZIP archive")
	}
	for _, e := range exprs {
		want := nixInstantiate(t, dir, e)
		got := evalJSON(t, Options{}, e, dir)
		if !jsonEqual(t, got, want) {
			t.Errorf("%s\n got %s\nwant %s", e, got, want)
		}
	}
}

// TestFetchTarballZipSha256 checks that the sha256 Nix accepts for a zip
// (its NAR hash) is accepted by onix and a wrong one is not.
func TestFetchTarballZipSha256(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "full.zip"), makeZip(t, zipCases["full.zip"]), 0o644); err != nil {
		t.Fatal(err)
	}
	p := strings.Trim(nixInstantiate(t, dir, `builtins.fetchTarball "file://`+dir+`/full.zip"`), `"`)
	got := evalJSON(t, Options{}, `builtins.fetchTarball "file://`+dir+`/full.zip"`, dir)
	if strings.Trim(got, `"`) != p {
		t.Fatalf("path %s, Nix %s", got, p)
	}
	nh := onixNarHashOfZip(t, dir, "full.zip")
	e := `builtins.fetchTarball { url = "file://` + dir + `/full.zip"; sha256 = "` + nh + `"; }`
	if want, got := nixInstantiate(t, dir, e), evalJSON(t, Options{}, e, dir); !jsonEqual(t, got, want) {
		t.Errorf("%s\n got %s\nwant %s", e, got, want)
	}
	bad := `builtins.fetchTarball { url = "file://` + dir + `/full.zip"; sha256 = "0000000000000000000000000000000000000000000000000000"; }`
	ev := New(context.Background(), Options{Paths: ReadOnlyPaths{}, Stderr: io.Discard})
	if _, err := ev.EvalString(bad, "«test»", dir); err == nil || !strings.Contains(err.Error(), "hash mismatch") {
		t.Errorf("wrong sha256 accepted: %v", err)
	}
}

// onixNarHashOfZip unpacks a zip with onix's unpacker and returns the NAR
// sha256 (nix base32) of its top-level entry.
func onixNarHashOfZip(t *testing.T, dir, name string) string {
	t.Helper()
	top, err := unpackArchive(context.Background(), filepath.Join(dir, name), filepath.Join(t.TempDir(), "u"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("nix-hash", "--type", "sha256", "--base32", top).Output()
	if err != nil {
		t.Fatalf("nix-hash: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestFetchTarballZipErrors: archives Nix also refuses, and hostile ones.
func TestFetchTarballZipErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		ents    []zipEnt
		want    string
		nixFail bool // Nix 2.8 refuses it too
	}{
		{"two.zip", []zipEnt{{name: "a", body: "a", mode: 0o644}, {name: "b", body: "b", mode: 0o644}}, "unexpected number of top-level files", true},
		{"empty.zip", nil, "unexpected number of top-level files", true},
		{"dotdot.zip", []zipEnt{{name: "top/../../evil", body: "x", mode: 0o644}}, "contains '..'", true},
		{"dotdot2.zip", []zipEnt{{name: "../evil", body: "x", mode: 0o644}}, "contains '..'", true},
		{"abs.zip", []zipEnt{{name: "/tmp/onix-evil", body: "x", mode: 0o644}}, "absolute path", false},
		{"throughlink.zip", []zipEnt{
			{name: "top/l", body: dir, mode: os.ModeSymlink | 0o777},
			{name: "top/l/escaped", body: "x", mode: 0o644},
		}, "through symlink", true},
		{"fifo.zip", []zipEnt{{name: "top/p", mode: os.ModeNamedPipe | 0o644}}, "unsupported file type", false},
	}
	for _, c := range cases {
		if err := os.WriteFile(filepath.Join(dir, c.name), makeZip(t, c.ents), 0o644); err != nil {
			t.Fatal(err)
		}
		e := `builtins.fetchTarball "file://` + dir + `/` + c.name + `"`
		ev := New(context.Background(), Options{Paths: ReadOnlyPaths{}, Stderr: io.Discard})
		_, err := ev.EvalString(e, "«test»", dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
		if err != nil && !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: error does not name the URL: %v", c.name, err)
		}
		if c.nixFail {
			if out, err := nixInstantiateErr(dir, e); err == nil {
				t.Errorf("%s: Nix accepted it: %s", c.name, out)
			}
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "escaped")); err == nil {
		t.Errorf("a member was written through a symlink")
	}
	if _, err := os.Lstat("/tmp/onix-evil"); err == nil {
		t.Errorf("an absolute member was written")
	}
}

// nixInstantiateErr runs nix-instantiate --eval and returns its error.
func nixInstantiateErr(dir, expr string) (string, error) {
	tmp, err := os.MkdirTemp("", "onix-nix-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("nix-instantiate", "--eval", "--read-write-mode", "--strict", "--json", "-E", expr)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NIX_REMOTE=local?root="+tmp+"/root", "HOME="+tmp, "XDG_CACHE_HOME="+tmp+"/cache", "NIX_PATH=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// FuzzUnpackZip feeds arbitrary bytes to the zip unpacker: errors are
// fine; panics and files outside the destination are not.
func FuzzUnpackZip(f *testing.F) {
	for _, name := range []string{"full.zip", "nodirs.zip", "single.zip", "dots.zip"} {
		f.Add(makeZip(f, zipCases[name]))
	}
	f.Add(makeZip(f, []zipEnt{{name: "l", body: "/", mode: os.ModeSymlink | 0o777}, {name: "l/x", body: "x", mode: 0o644}}))
	f.Add(makeZip(f, []zipEnt{{name: "../x", body: "x", mode: 0o644}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		base, err := os.MkdirTemp("", "onix-fuzz-zip-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(base)
		dst := filepath.Join(base, "out")
		_ = extractZip(context.Background(), bytes.NewReader(data), int64(len(data)), dst)
		// nothing may appear next to the destination
		ents, err := os.ReadDir(base)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.Name() != "out" {
				t.Fatalf("entry %q written outside the destination", e.Name())
			}
		}
	})
}
