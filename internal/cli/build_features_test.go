package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/onix-dev/onix/internal/build"
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

func hostSystemForTest() string {
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "riscv64": "riscv64"}[runtime.GOARCH]
	return arch + "-" + runtime.GOOS
}
