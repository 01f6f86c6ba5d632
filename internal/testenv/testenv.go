// Package testenv sets up what the test binaries of several packages need
// alike.
package testenv

import (
	"fmt"
	"os"
	"testing"
)

// RunWithPrivateCache runs m's tests with XDG_CACHE_HOME pointing at a
// directory of this run (removed afterwards), so that they neither read
// nor fill the user's ~/.cache/onix (fetchGit's repositories, the module
// library). It returns the exit code for os.Exit.
func RunWithPrivateCache(m *testing.M) int {
	dir, err := os.MkdirTemp("", "onix-test-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := os.Setenv("XDG_CACHE_HOME", dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
