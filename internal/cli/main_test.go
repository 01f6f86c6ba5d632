package cli

import (
	"os"
	"testing"

	"github.com/onix-dev/onix/internal/build/sandbox"
	"github.com/onix-dev/onix/internal/testenv"
)

// TestMain lets the test binary act as onix's sandbox child: `onix build`
// re-executes its own binary (here, this test binary) to set up the build's
// namespaces, exactly as the real onix binary does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == sandboxChildArg {
		os.Exit(sandbox.ChildMain())
	}
	os.Exit(testenv.RunWithPrivateCache(m))
}
