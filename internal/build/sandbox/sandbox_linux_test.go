//go:build linux

package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/onix-dev/onix/internal/procinfo"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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

// withPool runs a build on slot 0 of p.
func withPool(p *Pool, mod func(*Config)) func(*Config) {
	return func(c *Config) {
		c.Pool, c.Slot = p, 0
		if mod != nil {
			mod(c)
		}
	}
}

// TestPoolReuse runs builds on one pool slot: each gets fresh namespaces
// and a fresh init (pid 1), the root's skeleton is reused, and nothing a
// build leaves in /tmp or the store is visible to the next one.
func TestPoolReuse(t *testing.T) {
	f := newFixture(t)
	p := NewPool()
	defer func() {
		if err := p.Close(); err != nil {
			t.Errorf("closing the pool: %v", err)
		}
	}()
	script := `
$bb mkdir $out
$bb ls -A /tmp | $bb tr '\n' ' ' > $out/tmp
$bb ls -A /nix/store | $bb tr '\n' ' ' > $out/store
$bb ls -A / | $bb tr '\n' ' ' > $out/root
$bb ls -A /etc | $bb tr '\n' ' ' > $out/etc
$bb stat -c %i /etc > $out/etc-ino
for n in pid mnt net user ipc uts; do $bb readlink /proc/self/ns/$n; done | $bb tr '\n' ' ' > $out/ns
echo $$ > $out/pid
$bb id -u > $out/uid
echo junk > /tmp/junk; $bb mkdir -p /tmp/d/e; $bb chmod 0500 /tmp/d
echo junk > /nix/store/00000000000000000000000000000000-junk
$bb mkdir /nix/store/00000000000000000000000000000000-junkdir
`
	// A second input, a directory, in every third build: its mount point
	// must not be left for the builds without it.
	extraName := "0000000000000000000000000000000e-extra"
	extra := filepath.Join(f.storePhy, extraName)
	if err := os.MkdirAll(filepath.Join(extra, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	seenNS := map[string]bool{}
	inodes := map[string]int{}
	for i := 0; i < 8; i++ {
		wantStore := "0000000000000000000000000000000b-busybox 00000000000000000000000000000out-test"
		mod := func(c *Config) {}
		if i%3 == 1 {
			wantStore = "0000000000000000000000000000000b-busybox " + extraName + " 00000000000000000000000000000out-test"
			mod = func(c *Config) {
				c.Inputs = append(append([]Input(nil), c.Inputs...), Input{Source: extra, Target: "/nix/store/" + extraName})
			}
		}
		var chroot string
		out, log, err := f.run(context.Background(), script, withPool(p, func(c *Config) { mod(c); chroot = c.ChrootDir }))
		if err != nil {
			t.Fatalf("build %d failed: %v\n%s", i, err, log)
		}
		// kept for reuse, but not under the derivation's .chroot name,
		// which another process building the same derivation would use
		if _, err := os.Lstat(chroot); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("build %d: %s still exists after the build (%v)", i, chroot, err)
		}
		for name, want := range map[string]string{
			"tmp":   "",
			"store": wantStore,
			"root":  "build dev etc nix proc tmp",
			"etc":   "group hosts passwd",
			"pid":   "1",
			"uid":   "1000",
		} {
			if got := readOut(t, out, name); got != want {
				t.Errorf("build %d: %s: got %q, want %q", i, name, got, want)
			}
		}
		ns := readOut(t, out, "ns")
		if seenNS[ns] {
			t.Errorf("build %d: namespaces reused: %s", i, ns)
		}
		seenNS[ns] = true
		inodes[readOut(t, out, "etc-ino")]++
	}
	reused := false
	for _, n := range inodes {
		reused = reused || n > 1
	}
	if !reused {
		t.Errorf("the root skeleton was never reused (inodes of /etc: %v)", inodes)
	}
}

// TestPoolNetworkSwitch alternates fixed-output (host network) and normal
// builds on one slot: the init started ahead for one kind must not serve
// the other.
func TestPoolNetworkSwitch(t *testing.T) {
	f := newFixture(t)
	p := NewPool()
	defer p.Close()
	script := `$bb mkdir $out; $bb ip -o link | $bb cut -d: -f2 | $bb tr -d ' \n' > $out/links; $bb ls /etc | $bb tr '\n' ' ' > $out/etc`
	for i, network := range []bool{false, false, true, true, false, true} {
		out, log, err := f.run(context.Background(), script, withPool(p, func(c *Config) { c.Network = network }))
		if err != nil {
			t.Fatalf("build %d failed: %v\n%s", i, err, log)
		}
		links, etc := readOut(t, out, "links"), readOut(t, out, "etc")
		if !network && (links != "lo" || !strings.Contains(etc, "hosts")) {
			t.Errorf("build %d (private network): links %q, /etc %q", i, links, etc)
		}
		if network && (links == "lo" || !strings.Contains(etc, "nsswitch.conf")) {
			t.Errorf("build %d (host network): links %q, /etc %q", i, links, etc)
		}
	}
}

// TestPoolFailureAndCancel: failures, a cancelled build and a setup error
// on a pool, each followed by a good build on the same slot.
func TestPoolFailureAndCancel(t *testing.T) {
	f := newFixture(t)
	p := NewPool()
	defer p.Close()
	good := func() {
		t.Helper()
		if _, log, err := f.run(context.Background(), "echo ok > $out", withPool(p, nil)); err != nil {
			t.Fatalf("build after failure: %v\n%s", err, log)
		}
	}
	good()
	_, _, err := f.run(context.Background(), "exit 3", withPool(p, nil))
	var bf *BuildFailure
	if !errors.As(err, &bf) || bf.ExitCode != 3 {
		t.Fatalf("want exit code 3, got %v", err)
	}
	good()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, _, err = f.run(ctx, "$bb sleep 60 & $bb sleep 60", withPool(p, nil))
	if err == nil || ctx.Err() == nil {
		t.Fatalf("cancel: err=%v", err)
	}
	good()
	_, _, err = f.run(context.Background(), "", withPool(p, func(c *Config) { c.Builder = "/nix/store/nope" }))
	if err == nil || !strings.Contains(err.Error(), "executing '/nix/store/nope'") {
		t.Fatalf("missing builder: %v", err)
	}
	good()
}

// TestSkeletonReset checks the reset of a released root: what builds may
// leave is removed, any other change makes it unusable.
func TestSkeletonReset(t *testing.T) {
	storeDir := t.TempDir()
	buildDir := t.TempDir()
	make := func(t *testing.T) *skeleton {
		t.Helper()
		cfg := &Config{StoreDir: "/nix/store", SandboxBuildDir: "/build", BuildDir: buildDir, HostUID: -1, HostGID: -1}
		root := filepath.Join(storeDir, fmt.Sprintf("x-%d.drv.chroot", time.Now().UnixNano()))
		static := []staticEnt{{target: "/build", src: buildDir, dir: true}, {target: "/dev/null", src: "/dev/null"}}
		if err := makeSkeleton(cfg, root, os.Getegid(), static, true); err != nil {
			t.Fatal(err)
		}
		sk := &skeleton{dir: root, storeRel: "nix/store"}
		if err := sk.record(); err != nil {
			t.Fatal(err)
		}
		return sk
	}
	sk := make(t)
	// What a build leaves: inputs and junk in the store, junk in /tmp
	// (also read-only, and symbolic links pointing out).
	for _, d := range []string{"tmp/a/b", "nix/store/in-dir", "nix/store/out/sub"} {
		if err := os.MkdirAll(filepath.Join(sk.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	outside := filepath.Join(t.TempDir(), "keep")
	if err := os.WriteFile(outside, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"tmp/link", "nix/store/in-link"} {
		if err := os.Symlink(filepath.Dir(outside), filepath.Join(sk.dir, l)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(sk.dir, "tmp/a"), 0o500); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(sk.dir, "nix/store/out"), 0o555); err != nil {
		t.Fatal(err)
	}
	if err := sk.reset(); err != nil {
		t.Fatalf("reset after a normal build: %v", err)
	}
	for _, d := range []string{"tmp", "nix/store"} {
		if names, _ := readNames(filepath.Join(sk.dir, d)); len(names) != 0 {
			t.Errorf("%s not emptied: %v", d, names)
		}
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("reset followed a symbolic link: %v", err)
	}
	if err := sk.reset(); err != nil {
		t.Fatalf("second reset: %v", err)
	}

	for name, tamper := range map[string]func(root string) error{
		"file added to /etc": func(r string) error { return os.WriteFile(r+"/etc/shadow", nil, 0o644) },
		"file in /etc rewritten": func(r string) error {
			return os.WriteFile(r+"/etc/passwd", []byte("root:x:0:0::/:/bin/sh\n"), 0o644)
		},
		"/etc made writable":   func(r string) error { return os.Chmod(r+"/etc", 0o777) },
		"/tmp made private":    func(r string) error { return os.Chmod(r+"/tmp", 0o700) },
		"/tmp replaced":        func(r string) error { return replaceDir(r + "/tmp") },
		"store dir replaced":   func(r string) error { return replaceDir(r + "/nix/store") },
		"mount point replaced": func(r string) error { return replaceDir(r + "/build") },
		"/dev symlink changed": func(r string) error {
			if err := os.Remove(r + "/dev/fd"); err != nil {
				return err
			}
			return os.Symlink("/", r+"/dev/fd")
		},
		"hard link to /etc/group": func(r string) error { return os.Link(r+"/etc/group", r+"/tmp/g") },
		"xattr on /tmp": func(r string) error {
			return unix.Lsetxattr(r+"/tmp", "user.leak", []byte("x"), 0)
		},
		"file added to /":     func(r string) error { return os.WriteFile(r+"/x", nil, 0o644) },
		"/dev/null removed":   func(r string) error { return os.Remove(r + "/dev/null") },
		"/proc made a file":   func(r string) error { return replaceWithFile(r + "/proc") },
		"/nix made writeable": func(r string) error { return os.Chmod(r+"/nix", 0o777) },
	} {
		t.Run(name, func(t *testing.T) {
			sk := make(t)
			if err := tamper(sk.dir); err != nil {
				if name == "xattr on /tmp" {
					t.Skipf("no user xattrs here: %v", err)
				}
				t.Fatal(err)
			}
			if err := sk.reset(); err == nil {
				t.Errorf("reset accepted a root with %s", name)
			}
		})
	}
}

func replaceDir(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if err := os.Rename(p, p+".old"); err != nil {
		return err
	}
	if err := os.Mkdir(p, fi.Mode().Perm()); err != nil {
		return err
	}
	return os.Chmod(p, fi.Mode()&(fs.ModePerm|fs.ModeSticky))
}

func replaceWithFile(p string) error {
	if err := os.Remove(p); err != nil {
		return err
	}
	return os.WriteFile(p, nil, 0o755)
}

// TestPoolCloseReportsRemovalErrors: a background removal that fails is
// reported by Close, which returns only once the removals are done.
func TestPoolCloseReportsRemovalErrors(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (an immutable file)")
	}
	dir := t.TempDir()
	victim := filepath.Join(dir, "busy", "sub")
	if err := os.MkdirAll(victim, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(victim, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := setImmutable(file, true); err != nil {
		t.Skipf("cannot make a file immutable here: %v", err)
	}
	defer func() { _ = setImmutable(file, false) }()
	removable := filepath.Join(dir, "plain")
	for i := 0; i < 50; i++ {
		if err := os.MkdirAll(filepath.Join(removable, fmt.Sprint(i), "x"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := NewPool()
	if err := p.RemoveLater(filepath.Join(dir, "busy")); err != nil {
		t.Fatal(err)
	}
	if err := p.RemoveLater(removable); err != nil {
		t.Fatal(err)
	}
	err := p.Close()
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "busy")) {
		t.Errorf("Close: %v, want the failed removal of %s", err, filepath.Join(dir, "busy"))
	}
	if _, err := os.Lstat(removable); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Close returned before %s was removed (%v)", removable, err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// A closed pool removes synchronously.
	if err := os.Mkdir(removable, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := p.RemoveLater(removable); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(removable); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("closed pool did not remove %s", removable)
	}
}

// fsImmutableFL is FS_IMMUTABLE_FL from linux/fs.h.
const fsImmutableFL = 0x10

func setImmutable(p string, on bool) error {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		return err
	}
	if on {
		flags |= fsImmutableFL
	} else {
		flags &^= fsImmutableFL
	}
	return unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags))
}

// TestSkeletonKeptMounts: reset keeps the empty mount points of inputs for
// the next build, unless they were changed.
func TestSkeletonKeptMounts(t *testing.T) {
	storeDir := t.TempDir()
	buildDir := t.TempDir()
	cfg := &Config{StoreDir: "/nix/store", SandboxBuildDir: "/build", BuildDir: buildDir, HostUID: -1, HostGID: -1}
	root := filepath.Join(storeDir, "x.drv.chroot")
	if err := makeSkeleton(cfg, root, os.Getegid(), nil, true); err != nil {
		t.Fatal(err)
	}
	sk := &skeleton{dir: root, storeRel: "nix/store"}
	if err := sk.record(); err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		name string
		dir  bool
	}{{"a", true}, {"b", true}, {"c", false}} {
		if err := makeMountPoint(filepath.Join(root, "nix/store", m.name), m.dir); err != nil {
			t.Fatal(err)
		}
		if err := sk.addMount(m.name, false); err != nil {
			t.Fatal(err)
		}
	}
	// Something wrote into b (its ctime changes).
	if err := os.WriteFile(filepath.Join(root, "nix/store/b/x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := sk.reset(); err != nil {
		t.Fatalf("reset: %v", err)
	}
	names, _ := readNames(filepath.Join(root, "nix/store"))
	if strings.Join(names, " ") != "a c" {
		t.Errorf("store after reset: %v, want a c", names)
	}
	if !sk.reuseMount("a", true) || sk.reuseMount("c", true) || sk.reuseMount("b", true) {
		t.Errorf("reuseMount: wrong answers (kept: %v)", sk.kept)
	}
	if err := sk.dropUnusedMounts(); err != nil {
		t.Fatal(err)
	}
	names, _ = readNames(filepath.Join(root, "nix/store"))
	if strings.Join(names, " ") != "a" {
		t.Errorf("store after dropping unused: %v, want a", names)
	}
	if err := sk.reset(); err != nil {
		t.Fatalf("second reset: %v", err)
	}

	// A hard link to an input file is kept while the input is the same
	// file; the file's link count and ctime may change meanwhile.
	src := filepath.Join(storeDir, "f-input")
	if err := os.WriteFile(src, []byte("v1"), 0o444); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "nix/store/f")
	if err := os.Link(src, link); err != nil {
		t.Fatal(err)
	}
	if err := sk.addMount("f", true); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(src, src+".other"); err != nil {
		t.Fatal(err)
	}
	if err := sk.reset(); err != nil {
		t.Fatalf("reset with a link: %v", err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(src, &st); err != nil {
		t.Fatal(err)
	}
	if !sk.reuseLink("f", st.Ino) {
		t.Errorf("link to the same input not reused")
	}
	if sk.reuseLink("f", st.Ino+1) {
		t.Errorf("link reused for another file")
	}
	if sk.reuseMount("f", false) {
		t.Errorf("link reused as a mount point")
	}
	// The link replaced by another file: not kept.
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(link, []byte("v1"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := sk.reset(); err != nil {
		t.Fatalf("reset: %v", err)
	}
	if _, ok := sk.kept["f"]; ok {
		t.Errorf("replaced link still kept")
	}
	if _, err := os.Lstat(link); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("replaced link not removed: %v", err)
	}
	// A kept mount point that disappeared is forgotten.
	if _, ok := sk.kept["a"]; !ok {
		t.Fatalf("mount point a not kept: %v", sk.kept)
	}
	if err := os.Remove(filepath.Join(root, "nix/store/a")); err != nil {
		t.Fatal(err)
	}
	if err := sk.reset(); err != nil {
		t.Fatalf("reset: %v", err)
	}
	if sk.reuseMount("a", true) {
		t.Errorf("vanished mount point a reused")
	}
}

// TestPoolCloseWhileStarting closes pools while their spare inits are
// being started (by the spawner, itself starting): Close must neither hang
// nor leave processes behind.
func TestPoolCloseWhileStarting(t *testing.T) {
	newFixture(t)
	key := initKey{exe: "/proc/self/exe", args: childArg, uid: 30999, gid: 30999, setGroups: os.Geteuid() == 0}
	for i := 0; i < 20; i++ {
		p := NewPool()
		p.prestart(0, key)
		if i%2 == 1 {
			// Let the spawner get further.
			p.mu.Lock()
			ip := p.slots[0].init
			p.mu.Unlock()
			<-ip.started
		}
		if err := p.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if kids := childProcesses(t); len(kids) > 0 {
		t.Errorf("processes left: %v", kids)
	}
}

// childProcesses lists the child processes of this process.
func childProcesses(t *testing.T) []string {
	t.Helper()
	kids, err := procinfo.Children()
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	return kids
}

// TestSpawnerDiesAfterReply: an init whose spawner goes away right after
// starting it gets an exit status (an error) all the same, so that
// waiting for it cannot hang.
func TestSpawnerDiesAfterReply(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	sp := &spawner{sock: fds[0], replies: make(chan spawnReply, 1), exits: map[int]chan exitStatus{}, done: make(chan struct{})}
	go sp.read()
	var rights []int
	for i := 0; i < 3; i++ {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		rights = append(rights, fd)
	}
	// The reply for pid 4242, then the spawner is gone.
	if err := unix.Sendmsg(fds[1], []byte{'R', 0x92, 0x10, 0, 0}, unix.UnixRights(rights...), nil, 0); err != nil {
		t.Fatal(err)
	}
	unix.Close(fds[1])
	<-sp.done
	r, ok := <-sp.replies
	if !ok || r.err != nil || r.pid != 4242 {
		t.Fatalf("reply: %+v, %v", r, ok)
	}
	defer unix.Close(r.sock)
	defer unix.Close(r.pidfd)
	defer r.errR.Close()
	select {
	case e := <-r.exited:
		if e.err == nil {
			t.Errorf("exit status %v without error from a dead spawner", e.ws)
		}
	default:
		t.Fatal("no exit status for an init of a spawner that died")
	}
	if _, ok := <-sp.replies; ok {
		t.Error("replies not closed")
	}
	unix.Close(fds[0])
}

// TestPoolNoPrestart: a build marked as the last of its slot starts no init
// ahead (and so no spawner); one that is not does.
func TestPoolNoPrestart(t *testing.T) {
	f := newFixture(t)
	for _, last := range []bool{true, false} {
		p := NewPool()
		_, log, err := f.run(context.Background(), `$bb mkdir $out`, withPool(p, func(c *Config) { c.NoPrestart = last }))
		if err != nil {
			t.Fatalf("build failed: %v\n%s", err, log)
		}
		p.mu.Lock()
		s := p.slots[0]
		started := s != nil && s.init != nil
		p.mu.Unlock()
		p.spMu.Lock()
		spawner := p.sp != nil
		p.spMu.Unlock()
		if started == last || spawner == last {
			t.Errorf("NoPrestart=%v: init started ahead %v, spawner %v", last, started, spawner)
		}
		if err := p.Close(); err != nil {
			t.Errorf("closing the pool: %v", err)
		}
	}
	if kids := childProcesses(t); len(kids) > 0 {
		t.Errorf("processes left: %v", kids)
	}
}

// The builder gets Nix's personality, sandboxed or not: address space
// randomisation off, and with Linux32 the 32-bit personality (uname says
// i686); onix's own threads keep theirs.
func TestPersonality(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name               string
		sandboxed, linux32 bool
		want               string
	}{
		{"sandboxed", true, false, "x86_64 00040000"},
		{"sandboxed-linux32", true, true, "i686 00040008"},
		{"direct", false, false, "x86_64 00040000"},
		{"direct-linux32", false, true, "i686 00040008"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if runtime.GOARCH != "amd64" {
				t.Skip("the expected uname values are x86_64's")
			}
			// The unsandboxed builder runs as the build user: its
			// directory must be reachable by it (t.TempDir's parent is not).
			dir, err := os.MkdirTemp("", "onix-personality-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			result := filepath.Join(dir, "result")
			out, log, err := f.run(context.Background(), `{ $bb uname -m; $bb cat /proc/self/personality; } | $bb tr '\n' ' ' > $out`, func(c *Config) {
				c.Linux32 = tc.linux32
				if !tc.sandboxed {
					c.Sandboxed = false
					c.Builder = busybox
					c.Args = []string{"sh", "-c", "bb=" + busybox + "; " + c.Args[2][strings.Index(c.Args[2], ";")+2:]}
					c.Env["out"] = result
					c.BuildDir = dir
				}
			})
			if err != nil {
				t.Fatalf("build failed: %v\n%s", err, log)
			}
			if tc.sandboxed {
				result = out
			}
			b, err := os.ReadFile(result)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(b)); got != tc.want {
				t.Errorf("builder saw %q, want %q", got, tc.want)
			}
			tasks, _ := filepath.Glob("/proc/self/task/*/personality")
			for _, p := range tasks {
				if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) != "00000000" {
					t.Errorf("onix thread %s has personality %s after the build", p, strings.TrimSpace(string(b)))
				}
			}
		})
	}
}
