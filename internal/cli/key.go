package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/onix-dev/onix/internal/cache"
)

func newKeyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Generate and convert binary cache signing keys",
	}
	cmd.AddCommand(newKeyGenerateCmd(), newKeyPublicCmd())
	return cmd
}

func newKeyGenerateCmd() *cobra.Command {
	var name, secretFile, publicFile string
	cmd := &cobra.Command{
		Use:   "generate --name NAME [--secret-key-file FILE --public-key-file FILE]",
		Short: "Generate an ed25519 key pair in Nix's format",
		Long: `Generate a binary cache key pair named NAME, like
nix-store --generate-binary-cache-key NAME SECRET PUBLIC. With the file flags
the keys are written there (the secret one with mode 0600); otherwise the
secret key is printed to stdout (like nix key generate-secret).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return errors.New("--name is required")
			}
			if (secretFile == "") != (publicFile == "") {
				return errors.New("--secret-key-file and --public-key-file go together")
			}
			k, err := cache.GenerateKey(name)
			if err != nil {
				return err
			}
			if secretFile == "" {
				_, err := fmt.Fprint(cmd.OutOrStdout(), k.String())
				return err
			}
			if err := writeNew(secretFile, k.String(), 0o600); err != nil {
				return err
			}
			return writeNew(publicFile, k.Public().String(), 0o644)
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "key name, e.g. cache.example.org-1")
	cmd.Flags().StringVar(&secretFile, "secret-key-file", "", "write the secret key here")
	cmd.Flags().StringVar(&publicFile, "public-key-file", "", "write the public key here")
	return cmd
}

// writeNew writes a key file without a trailing newline, refusing to
// overwrite an existing file.
func writeNew(path, content string, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("writing key: %w", err)
	}
	_, err = f.WriteString(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("writing key %s: %w", path, err)
	}
	return nil
}

func newKeyPublicCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "public [SECRET-KEY-FILE]",
		Short: "Print the public key of a secret key (read from the file or stdin)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var data []byte
			var err error
			if len(args) == 1 {
				data, err = os.ReadFile(args[0])
			} else {
				data, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), 64*1024))
			}
			if err != nil {
				return fmt.Errorf("reading secret key: %w", err)
			}
			k, err := cache.ParseSecretKey(string(data))
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), k.Public().String())
			return err
		},
	}
}
