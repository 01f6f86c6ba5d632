//go:build linux

package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const childArg = "__sandbox-child"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == childArg {
		os.Exit(ChildMain())
	}
	os.Exit(m.Run())
}

type fixture struct {
	t        *testing.T
	root     string // physical root
	storePhy string
	bb       string // logical busybox dir
	inputs   []Input
}

const busybox = "/bin/busybox"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	if ok, why := Available(); !ok {
		t.Skipf("sandbox unavailable: %s", why)
	}
	if _, err := exec.LookPath(busybox); err != nil {
		t.Skipf("skipping: %s not installed", busybox)
	}
	if err := exec.Command("unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "true").Run(); err != nil {
		t.Skipf("skipping: unshare does not work here: %v", err)
	}
	root := t.TempDir()
	f := &fixture{t: t, root: root, storePhy: filepath.Join(root, "nix/store")}
	bbName := "0000000000000000000000000000000b-busybox"
	bbDir := filepath.Join(f.storePhy, bbName)
	if err := os.MkdirAll(filepath.Join(bbDir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bbDir, "bin/busybox"), data, 0o555); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(filepath.Join(bbDir, "bin"), 0o555)
	_ = os.Chmod(bbDir, 0o555)
	f.bb = "/nix/store/" + bbName
	f.inputs = []Input{{Source: bbDir, Target: f.bb}}
	return f
}

const outPath = "/nix/store/00000000000000000000000000000out-test"

// run runs script under busybox sh with $out set; returns the host path of
// $out, the log and the error.
func (f *fixture) run(ctx context.Context, script string, mod func(*Config)) (string, string, error) {
	f.t.Helper()
	buildDir, err := os.MkdirTemp(f.root, "nix-build-")
	if err != nil {
		f.t.Fatal(err)
	}
	var log bytes.Buffer
	cfg := &Config{
		InitArgs:  []string{childArg},
		Sandboxed: true,
		ChrootDir: filepath.Join(f.storePhy, fmt.Sprintf("test-%d.drv.chroot", time.Now().UnixNano())),
		StoreDir:  "/nix/store",
		BuildDir:  buildDir,
		Inputs:    f.inputs,
		Builder:   f.bb + "/bin/busybox",
		Args:      []string{"sh", "-c", "bb=" + f.bb + "/bin/busybox; " + script},
		Env: map[string]string{
			"out": outPath, "PATH": "/path-not-set", "HOME": "/homeless-shelter",
			"NIX_BUILD_TOP": "/build", "TMPDIR": "/build", "PWD": "/build",
		},
		HostUID: 30999, HostGID: 30999,
		Log:     &log,
		Seccomp: true,
	}
	if mod != nil {
		mod(cfg)
	}
	err = Run(ctx, cfg)
	out := f.t.TempDir() + "/out"
	if _, serr := os.Lstat(cfg.OutputPath(outPath)); serr == nil {
		if rerr := os.Rename(cfg.OutputPath(outPath), out); rerr != nil {
			f.t.Fatal(rerr)
		}
	}
	if cerr := cfg.Cleanup(); cerr != nil {
		f.t.Fatalf("cleanup: %v", cerr)
	}
	return out, log.String(), err
}

func readOut(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return strings.TrimSpace(string(b))
}

func TestIdentityAndLayout(t *testing.T) {
	f := newFixture(t)
	out, log, err := f.run(context.Background(), `
$bb mkdir $out
$bb id > $out/id
$bb hostname > $out/hostname
echo $$ > $out/pid
[ -t 1 ] && echo tty > $out/tty || echo notty > $out/tty
$bb cat /etc/passwd /etc/group /etc/hosts > $out/etc
$bb ls / | $bb sort | $bb tr '\n' ' ' > $out/root
$bb ls /nix/store | $bb sort | $bb tr '\n' ' ' > $out/store
$bb ls /dev | $bb sort | $bb tr '\n' ' ' > $out/dev
$bb pwd > $out/pwd
umask > $out/umask
$bb cat /proc/self/status | $bb grep -E '^(CapEff|NoNewPrivs|Seccomp):' | $bb tr -s '\t' ' ' > $out/status
echo hello-log
echo err-log >&2
`, nil)
	if err != nil {
		t.Fatalf("build failed: %v\n%s", err, log)
	}
	for name, want := range map[string]string{
		"id":       "uid=1000(nixbld) gid=100(nixbld) groups=100(nixbld)",
		"hostname": "localhost",
		"pid":      "1",
		"tty":      "tty",
		"root":     "build dev etc nix proc tmp",
		"store":    "0000000000000000000000000000000b-busybox 00000000000000000000000000000out-test",
		"dev":      "fd full kvm null ptmx pts random shm stderr stdin stdout tty urandom zero",
		"pwd":      "/build",
		"umask":    "0022",
		"status":   "CapEff: 0000000000000000\nNoNewPrivs: 1\nSeccomp: 2",
		"etc": "root:x:0:0:Nix build user:/build:/noshell\nnixbld:x:1000:100:Nix build user:/build:/noshell\n" +
			"nobody:x:65534:65534:Nobody:/:/noshell\nroot:x:0:\nnixbld:!:100:\nnogroup:x:65534:\n127.0.0.1 localhost\n::1 localhost",
	} {
		got := readOut(t, out, name)
		if name == "dev" {
			got = strings.Replace(got, "kvm ", "", 1)
			want = strings.Replace(want, "kvm ", "", 1)
		}
		if name == "id" {
			// busybox prints no groups= when the only group is the primary.
			got = strings.TrimSuffix(got, " groups=100(nixbld)")
			want = strings.TrimSuffix(want, " groups=100(nixbld)")
		}
		if got != want {
			t.Errorf("%s:\n got %q\nwant %q", name, got, want)
		}
	}
	if log != "hello-log\nerr-log\n" {
		t.Errorf("log = %q", log)
	}
}

func TestIsolation(t *testing.T) {
	f := newFixture(t)
	// Things on the host the builder must not see or touch.
	secretDir := t.TempDir()
	secret := filepath.Join(secretDir, "secret")
	if err := os.WriteFile(secret, []byte("s3cret"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, log, err := f.run(context.Background(), `
$bb mkdir $out
r() { if $bb "$@" >/dev/null 2>&1; then echo "ALLOWED: $*"; fi; }
r cat /etc/shadow
r ls /root
r ls /home
r cat `+secret+`
r ls `+f.storePhy+`
r touch /etc/x
r touch /x
r touch /nix/store/0000000000000000000000000000000b-busybox/x
r rm /nix/store/0000000000000000000000000000000b-busybox/bin/busybox
r mkdir /nix/x/
r mount -t tmpfs none /tmp
r chmod u+s $out
r hostname evil
echo ok > /build/f && echo ok > /tmp/f && echo ok > /dev/shm/f || echo "FAILED: writable dirs"
`, nil)
	if err != nil {
		t.Fatalf("build failed: %v\n%s", err, log)
	}
	if strings.TrimSpace(log) != "" {
		t.Errorf("sandbox escape:\n%s", log)
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal(err)
	}
}

func TestNetwork(t *testing.T) {
	f := newFixture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello")
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	script := fmt.Sprintf(`echo | $bb nc -w 3 127.0.0.1 %d > $out.tmp && $bb tail -c 5 $out.tmp > $out || { echo no-connect; exit 1; }`, port)

	// Input-addressed: private network namespace, only lo.
	_, log, err := f.run(context.Background(), `$bb ip -o link | $bb cut -d: -f2 | $bb tr -d ' \n'; echo; `+script, nil)
	if err == nil {
		t.Fatalf("sandboxed builder reached the host's 127.0.0.1:%d:\n%s", port, log)
	}
	if !strings.HasPrefix(log, "lo\n") || !strings.Contains(log, "no-connect") {
		t.Errorf("unexpected log: %q", log)
	}
	// Fixed-output: host network.
	out, log, err := f.run(context.Background(), script, func(c *Config) { c.Network = true })
	if err != nil {
		t.Fatalf("fixed-output builder could not connect: %v\n%s", err, log)
	}
	if b, _ := os.ReadFile(out); string(b) != "hello" {
		t.Errorf("fetched %q", b)
	}
}

func TestFailureAndCancel(t *testing.T) {
	f := newFixture(t)
	_, _, err := f.run(context.Background(), "exit 3", nil)
	var bf *BuildFailure
	if !errors.As(err, &bf) || bf.ExitCode != 3 {
		t.Fatalf("want exit code 3, got %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err = f.run(ctx, "$bb sleep 60 & $bb sleep 60", nil)
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("cancel: err=%v after %v", err, time.Since(start))
	}
	// A missing builder is a setup error, not a hang.
	_, _, err = f.run(context.Background(), "", func(c *Config) { c.Builder = "/nix/store/nope" })
	if err == nil || !strings.Contains(err.Error(), "executing '/nix/store/nope'") {
		t.Fatalf("missing builder: %v", err)
	}
}
