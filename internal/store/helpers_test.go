package store

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newRoot returns a short temporary store root (short keeps the GC socket
// path under the unix socket limit, though long ones work too).
func newRoot(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "onixst")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = removeTree(d) })
	return d
}

func openTest(t *testing.T, root string) *Store {
	t.Helper()
	s, err := Open(testCtx(t), Options{Root: root, BusyTimeout: 2 * time.Second, ReservedSpace: -1})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if strings.HasPrefix(content, "->") {
			if err := os.Symlink(content[2:], p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
}

func requireNix(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s not installed", tool)
	}
}

// nix runs a real Nix tool against the store at root (never the host /nix).
func nix(t *testing.T, root string, tool string, args ...string) string {
	t.Helper()
	out, err := nixErr(root, tool, args...)
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
	}
	return out
}

func nixErr(root string, tool string, args ...string) (string, error) {
	full := append([]string{"--store", "local?root=" + root}, args...)
	if tool == "nix" {
		full = append([]string{"--extra-experimental-features", "nix-command"}, full...)
	}
	cmd := exec.Command(tool, full...)
	cmd.Env = append(os.Environ(), "NIX_REMOTE=local?root="+root, "HOME="+root+"/home", "XDG_CACHE_HOME="+root+"/cache")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return strings.TrimSpace(stdout.String()), nil
}

func sortStrings(l []string) {
	for i := 1; i < len(l); i++ {
		for j := i; j > 0 && l[j] < l[j-1]; j-- {
			l[j], l[j-1] = l[j-1], l[j]
		}
	}
}
