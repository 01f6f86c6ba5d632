package eval

import (
	"fmt"
	"os"
	"testing"
)

// TestMain points the user cache (fetchGit's repositories and trees, the
// materialised module library) at a directory of this test run, so tests
// neither read nor fill the real ~/.cache/onix.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "onix-eval-test-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
