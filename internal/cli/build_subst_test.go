package cli

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runOnixErr runs onix in-process and returns stdout, stderr and the error.
func runOnixErr(ctx context.Context, args ...string) (string, string, error) {
	root := newRoot()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), errb.String(), err
}

// TestBuildSubstitutes: a closure built once and copied to a signed file
// cache is substituted, not built, by `onix build` in a fresh store, from
// the file cache and over HTTP (onix cache serve on 127.0.0.1); a tampered
// NAR or an untrusted signature makes it build instead, saying why.
func TestBuildSubstitutes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("onix build's sandbox needs root here")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("no /bin/busybox")
	}
	if err := exec.Command("unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "true").Run(); err != nil {
		t.Skipf("unshare does not work here: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	bb := filepath.Join(dir, "bb")
	data, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(bb, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bb, "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "default.nix")
	src := `let bb = builtins.path { path = ` + bb + `; name = "busybox"; };
  mk = name: script: deps: derivation { inherit name deps; system = builtins.currentSystem;
    builder = "${bb}/busybox"; args = [ "sh" "-c" script ]; };
  base = mk "base" "echo base-content > $out" [];
  mid = mk "mid" "mkdir $out; echo mid-content > $out/data; echo $deps > $out/ref" [ base ];
in mk "top" "mkdir $out; echo $deps > $out/ref; echo top-content > $out/data" [ mid ]
`
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	build := func(store string, extra ...string) (string, string, error) {
		args := append([]string{"--store", filepath.Join(dir, store), "build", file, "--no-out-link"}, extra...)
		out, errs, err := runOnixErr(ctx, args...)
		return strings.TrimSpace(out), errs, err
	}
	topOut, errs, err := build("a")
	if err != nil {
		t.Fatalf("first build: %v\n%s", err, errs)
	}
	if n := builds(errs); n != 3 {
		t.Fatalf("first build ran %d builders, want 3:\n%s", n, errs)
	}
	sk, pk := filepath.Join(dir, "sk"), filepath.Join(dir, "pk")
	if _, e, err := runOnixErr(ctx, "key", "generate", "--name", "test-1", "--secret-key-file", sk, "--public-key-file", pk); err != nil {
		t.Fatalf("key generate: %v\n%s", err, e)
	}
	pub, err := os.ReadFile(pk)
	if err != nil {
		t.Fatal(err)
	}
	cacheDir := filepath.Join(dir, "cache")
	if _, e, err := runOnixErr(ctx, "--store", filepath.Join(dir, "a"), "copy", "--to", "file://"+cacheDir+"?compression=none", "--sign-key", sk, topOut); err != nil {
		t.Fatalf("copy --to: %v\n%s", err, e)
	}
	keyOpt := []string{"--option", "trusted-public-keys", strings.TrimSpace(string(pub))}

	// expectSubstituted checks that nothing was built in store and the
	// output is the one built in store a.
	expectSubstituted := func(store, out, errs string) {
		t.Helper()
		if out != topOut {
			t.Fatalf("%s: printed %q, want %q\n%s", store, out, topOut, errs)
		}
		if builds(errs) > 0 || !strings.Contains(errs, "copying path '"+topOut) {
			t.Errorf("%s: expected substitution only:\n%s", store, errs)
		}
		if _, err := os.Stat(filepath.Join(dir, store, "nix/var/log/nix/drvs")); err == nil {
			t.Errorf("%s: a builder ran (build logs exist)", store)
		}
		got, err := os.ReadFile(filepath.Join(dir, store, topOut, "data"))
		if err != nil || string(got) != "top-content\n" {
			t.Errorf("%s: output data %q %v", store, got, err)
		}
	}

	// 1. From the file cache.
	out, errs, err := build("b", append([]string{"--option", "substituters", "file://" + cacheDir}, keyOpt...)...)
	if err != nil {
		t.Fatalf("substituting build: %v\n%s", err, errs)
	}
	expectSubstituted("b", out, errs)

	// 2. Over HTTP from onix cache serve on 127.0.0.1.
	pr, pw := io.Pipe()
	srvDone := make(chan error, 1)
	srvCtx, stopSrv := context.WithCancel(ctx)
	go func() {
		root := newRoot()
		root.SetOut(io.Discard)
		root.SetErr(pw)
		root.SetArgs([]string{"cache", "serve", "--listen", "127.0.0.1:0", "--cache", cacheDir})
		srvDone <- root.ExecuteContext(srvCtx)
		pw.Close()
	}()
	addrC := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		re := regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
		for sc.Scan() {
			if m := re.FindString(sc.Text()); m != "" {
				addrC <- m
			}
		}
	}()
	var url string
	select {
	case url = <-addrC:
	case err := <-srvDone:
		t.Fatalf("cache serve exited: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("cache serve did not start")
	}
	out, errs, err = build("c", append([]string{"--substituters", url}, keyOpt...)...)
	stopSrv()
	<-srvDone
	if err != nil {
		t.Fatalf("substituting over HTTP: %v\n%s", err, errs)
	}
	expectSubstituted("c", out, errs)

	// 3. --offline builds everything.
	out, errs, err = build("d", append([]string{"--offline", "--option", "substituters", "file://" + cacheDir}, keyOpt...)...)
	if err != nil || out != topOut || builds(errs) != 3 {
		t.Fatalf("--offline: %v, %q\n%s", err, out, errs)
	}

	// 4. An untrusted key: every narinfo is refused, all is built.
	pk2 := filepath.Join(dir, "pk2")
	if _, e, err := runOnixErr(ctx, "key", "generate", "--name", "other-1", "--secret-key-file", filepath.Join(dir, "sk2"), "--public-key-file", pk2); err != nil {
		t.Fatalf("key generate: %v\n%s", err, e)
	}
	out, errs, err = build("e", "--option", "substituters", "file://"+cacheDir,
		"--option", "trusted-public-keys", strings.TrimSpace(string(readFile(t, pk2))))
	if err != nil || out != topOut || builds(errs) != 3 || !strings.Contains(errs, "signature") {
		t.Fatalf("untrusted key: %v, %q\n%s", err, out, errs)
	}

	// 5. A tampered NAR (mid's): mid and top are built, base is fetched,
	// and the warning names the path and the cache.
	midOut := strings.TrimSpace(string(readFile(t, filepath.Join(dir, "a", topOut, "ref"))))
	niPath := filepath.Join(cacheDir, strings.SplitN(filepath.Base(midOut), "-", 2)[0]+".narinfo")
	ni := string(readFile(t, niPath))
	m := regexp.MustCompile(`(?m)^URL: (\S+)$`).FindStringSubmatch(ni)
	if m == nil {
		t.Fatalf("no URL in %s:\n%s", niPath, ni)
	}
	narPath := filepath.Join(cacheDir, m[1])
	nar := readFile(t, narPath)
	if !bytes.Contains(nar, []byte("mid-content")) {
		t.Fatalf("NAR %s is not uncompressed", narPath)
	}
	if err := os.WriteFile(narPath, bytes.Replace(nar, []byte("mid-content"), []byte("MID-CONTENT"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, err = build("f", append([]string{"--option", "substituters", "file://" + cacheDir}, keyOpt...)...)
	if err != nil || out != topOut {
		t.Fatalf("tampered: %v, %q\n%s", err, out, errs)
	}
	if builds(errs) == 0 || !strings.Contains(errs, midOut) || !strings.Contains(errs, "file://"+cacheDir) ||
		!strings.Contains(errs, "hash mismatch") {
		t.Errorf("tampered NAR: expected a fallback naming %s and the cache:\n%s", midOut, errs)
	}
	if n := builds(errs); n != 2 {
		t.Errorf("tampered NAR: %d builds, want 2 (mid, top):\n%s", n, errs)
	}
	if got := readFile(t, filepath.Join(dir, "f", midOut, "data")); string(got) != "mid-content\n" {
		t.Errorf("mid built wrong: %q", got)
	}
}

// builds counts the "building '...'..." progress lines.
func builds(stderr string) int {
	return len(regexp.MustCompile(`(?m)^building '`).FindAllString(stderr, -1))
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
