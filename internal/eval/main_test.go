package eval

import (
	"os"
	"testing"

	"github.com/onix-dev/onix/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunWithPrivateCache(m)) }
