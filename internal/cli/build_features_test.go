package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/onix-dev/onix/internal/build"
	"github.com/onix-dev/onix/internal/cache"
	"github.com/onix-dev/onix/internal/eval"
)

// The system-features setting reaches the builder from --option and from
// $ONIX_CONF (where extra-system-features adds to Nix's defaults).
func TestBuildSystemFeaturesSetting(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("onix build's sandbox needs root here (namespaces and uid maps)")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("no /bin/busybox (apt-get install busybox-static)")
	}
	dir, _ := writeBuildFixture(t)
	file := filepath.Join(dir, "features.nix")
	src := `let bb = builtins.path { path = ./bb; name = "busybox"; }; in
derivation { name = "needs-feature"; system = builtins.currentSystem; builder = "${bb}/busybox";
  requiredSystemFeatures = [ "onix-feat" ]; args = [ "sh" "-c" "echo ok > $out" ]; }
`
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	storeDir := filepath.Join(dir, "store")
	run := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		root := newRoot()
		root.SetArgs(append([]string{"--store", storeDir, "build", file, "--no-out-link"}, args...))
		root.SetOut(&out)
		root.SetErr(&errb)
		err := root.ExecuteContext(context.Background())
		return out.String() + errb.String(), err
	}

	t.Setenv("ONIX_CONF", "")
	_, err := run()
	want := "but I am a '" + hostSystemForTest() + "' with features {" + strings.Join(build.DefaultSystemFeatures(), ", ") + "}"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("default features: error %v, want one ending %q", err, want)
	}
	_, err = run("--option", "system-features", "y x")
	if err == nil || !strings.Contains(err.Error(), "with features {onix-feat} is required") || !strings.Contains(err.Error(), "with features {x, y}") {
		t.Fatalf("--option system-features: error %v", err)
	}

	conf := filepath.Join(dir, "onix.conf")
	if err := os.WriteFile(conf, []byte("extra-system-features = onix-feat\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ONIX_CONF", conf)
	out, err := run()
	if err != nil {
		t.Fatalf("with extra-system-features: %v\n%s", err, out)
	}
	if !strings.Contains(out, "-needs-feature") {
		t.Errorf("no output path printed:\n%s", out)
	}
}

// extra-platforms: an i686-linux derivation builds by default on x86_64
// (in the 32-bit personality) and not once the setting is emptied, from
// --option or from $ONIX_CONF.
func TestBuildExtraPlatformsSetting(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("onix build's sandbox needs root here (namespaces and uid maps)")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("no /bin/busybox (apt-get install busybox-static)")
	}
	if hostSystemForTest() != "x86_64-linux" {
		t.Skip("the default extra platform (i686-linux) exists only on x86_64-linux hosts")
	}
	dir, _ := writeBuildFixture(t)
	file := filepath.Join(dir, "i686.nix")
	src := `let bb = builtins.path { path = ./bb; name = "busybox"; }; in
{ n }: derivation { name = "i686-${n}"; system = "i686-linux"; builder = "${bb}/busybox"; args = [ "sh" "-c" "uname -m > $out" ]; }
`
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	storeDir := filepath.Join(dir, "store")
	run := func(n string, args ...string) (string, error) {
		var out, errb bytes.Buffer
		root := newRoot()
		root.SetArgs(append([]string{"--store", storeDir, "build", file, "--no-out-link", "--argstr", "n", n}, args...))
		root.SetOut(&out)
		root.SetErr(&errb)
		err := root.ExecuteContext(context.Background())
		return strings.TrimSpace(out.String()), err
	}
	t.Setenv("ONIX_CONF", "")
	out, err := run("default")
	if err != nil {
		t.Fatalf("default extra-platforms: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(storeDir, out)); err != nil || string(b) != "i686\n" {
		t.Errorf("i686 build wrote %q (%v), want i686", b, err)
	}
	refused := "a 'i686-linux' with features {} is required"
	if _, err := run("option", "--option", "extra-platforms", ""); err == nil || !strings.Contains(err.Error(), refused) {
		t.Errorf("--option extra-platforms '': error %v", err)
	}
	conf := filepath.Join(dir, "onix.conf")
	if err := os.WriteFile(conf, []byte("extra-platforms = armv7l-linux\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ONIX_CONF", conf)
	if _, err := run("conf"); err == nil || !strings.Contains(err.Error(), refused) {
		t.Errorf("ONIX_CONF extra-platforms = armv7l-linux: error %v", err)
	}
	if _, err := run("extra", "--option", "extra-extra-platforms", "i686-linux"); err != nil {
		t.Errorf("extra-extra-platforms i686-linux: %v", err)
	}
}

func hostSystemForTest() string {
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "riscv64": "riscv64"}[runtime.GOARCH]
	return arch + "-" + runtime.GOOS
}

// tarball-ttl comes from $ONIX_CONF and --option, with Nix's default and
// 0 meaning "always ask".
func TestTarballTTLSetting(t *testing.T) {
	t.Setenv("ONIX_CONF", "")
	for _, c := range []struct {
		opts []cache.Option
		want time.Duration
	}{
		{nil, time.Hour},
		{[]cache.Option{{Name: "tarball-ttl", Value: "60"}}, time.Minute},
		{[]cache.Option{{Name: "tarball-ttl", Value: "0"}}, eval.AlwaysRevalidate},
	} {
		if got, err := tarballTTL(c.opts); err != nil || got != c.want {
			t.Errorf("%v: %v, %v; want %v", c.opts, got, err, c.want)
		}
	}
	conf := filepath.Join(t.TempDir(), "onix.conf")
	if err := os.WriteFile(conf, []byte("tarball-ttl = 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ONIX_CONF", conf)
	if got, err := tarballTTL(nil); err != nil || got != 5*time.Second {
		t.Errorf("from ONIX_CONF: %v, %v", got, err)
	}
	if _, err := tarballTTL([]cache.Option{{Name: "tarball-ttl", Value: "soon"}}); err == nil {
		t.Error("tarball-ttl = soon accepted")
	}
}
