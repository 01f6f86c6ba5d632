package cli

import (
	"fmt"
	"os"
	"testing"

	"github.com/onix-dev/onix/internal/build/sandbox"
)

// TestMain lets the test binary act as onix's sandbox child: `onix build`
// re-executes its own binary (here, this test binary) to set up the build's
// namespaces, exactly as the real onix binary does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == sandboxChildArg {
		os.Exit(sandbox.ChildMain())
	}
	// The user cache (fetchGit's repositories, the module library) of
	// this run only, not the real ~/.cache/onix.
	dir, err := os.MkdirTemp("", "onix-cli-test-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
