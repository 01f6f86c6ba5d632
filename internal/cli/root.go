// Package cli wires onix's command tree. Each verb lives in its own file and
// delegates the real work to the package that owns it; this package only
// parses flags and formats results.
package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// exitError carries a process exit code through cobra without printing twice.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Main runs onix with args and returns the process exit code.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	root.SetArgs(args)
	stopProfile := startProfile(os.Stderr)
	err := root.ExecuteContext(ctx)
	stopProfile()
	if err != nil {
		if ee, ok := err.(exitError); ok {
			return ee.code
		}
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		return 1
	}
	return 0
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "onix",
		Short: "Reproducible, drift-free infrastructure in one binary, compatible with Nix",
		Long: `onix evaluates Nix expressions, manages a Nix-compatible store, builds
derivations hermetically and moves store paths through Nix binary caches.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	addGlobalStoreFlag(root)
	// One line per top-level verb; each constructor lives in its own file.
	root.AddCommand(
		newVersionCmd(),
		newHashCmd(),
		newCopyCmd(), newKeyCmd(), newCacheCmd(),
		newInstantiateCmd(), newEvalCmd(),
		newStoreCmd(),
		newBuildCmd(), newLogCmd(), newSandboxChildCmd(),
		newOptionsCmd(),
	)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print onix's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "onix 0.1.0 (Nix language and formats compatible with Nix 2.8+)")
		},
	}
}
