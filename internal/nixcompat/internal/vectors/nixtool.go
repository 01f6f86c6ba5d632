package vectors

import (
	"bytes"
	"os/exec"
	"testing"
)

// RequireNix skips the test unless the named Nix tool is on PATH; the
// differential tests use real Nix as the oracle.
func RequireNix(t testing.TB, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s not on PATH; skipping differential test against real Nix", tool)
	}
	return p
}

// RunNix runs a Nix tool and returns trimmed stdout, failing the test on error.
// NIX_REMOTE points at a throwaway chroot store so the host /nix is untouched
// (the logical store dir stays /nix/store, so hashes are unaffected).
func RunNix(t testing.TB, storeRoot string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	if storeRoot != "" {
		cmd.Env = append(cmd.Environ(), "NIX_REMOTE=local?root="+storeRoot)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return string(bytes.TrimSpace(stdout.Bytes()))
}
