package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/nar"
)

// newHashCmd implements `onix hash`, mirroring `nix hash` (Nix 2.8): path
// hashes the NAR serialisation, file hashes the flat bytes, and to-* convert
// between encodings. Output is byte-identical to Nix's.
func newHashCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hash",
		Short: "Compute and convert cryptographic hashes (like nix hash)",
	}
	cmd.AddCommand(newHashFileCmd("path", "Print the cryptographic hash of the NAR serialisation of a path", true))
	cmd.AddCommand(newHashFileCmd("file", "Print the cryptographic hash of a regular file", false))
	for _, c := range []struct {
		name string
		enc  hash.Encoding
	}{{"to-base16", hash.Base16}, {"to-base32", hash.Base32}, {"to-base64", hash.Base64}, {"to-sri", hash.SRI}} {
		cmd.AddCommand(newHashConvertCmd(c.name, c.enc))
	}
	return cmd
}

// hashEncodingFlags registers --base16/--base32/--base64/--sri; the last
// one given wins, default SRI (as in nix hash path/file).
type hashEncodingFlags struct {
	base16, base32, base64, sri bool
}

func (f *hashEncodingFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.base16, "base16", false, "print the hash in base-16 format")
	cmd.Flags().BoolVar(&f.base32, "base32", false, "print the hash in Nix base-32 format")
	cmd.Flags().BoolVar(&f.base64, "base64", false, "print the hash in base-64 format")
	cmd.Flags().BoolVar(&f.sri, "sri", false, "print the hash in SRI format (default)")
	cmd.MarkFlagsMutuallyExclusive("base16", "base32", "base64", "sri")
}

func (f *hashEncodingFlags) encoding() hash.Encoding {
	switch {
	case f.base16:
		return hash.Base16
	case f.base32:
		return hash.Base32
	case f.base64:
		return hash.Base64
	}
	return hash.SRI
}

func newHashFileCmd(name, short string, recursive bool) *cobra.Command {
	var enc hashEncodingFlags
	var typ string
	cmd := &cobra.Command{
		Use:   name + " PATH...",
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			algo, err := hash.ParseAlgo(typ)
			if err != nil {
				return err
			}
			e := enc.encoding()
			for _, p := range args {
				var h hash.Hash
				if recursive {
					h, _, err = nar.HashPathAlgo(cmd.Context(), algo, p, nil)
				} else {
					h, err = hashFlatFile(cmd, algo, p)
				}
				if err != nil {
					return fmt.Errorf("hash %s: %w", p, err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), h.Encode(e, e == hash.SRI))
			}
			return nil
		},
	}
	enc.register(cmd)
	cmd.Flags().StringVar(&typ, "type", "sha256", "hash algorithm (md5, sha1, sha256 or sha512)")
	return cmd
}

func hashFlatFile(cmd *cobra.Command, algo hash.Algo, p string) (hash.Hash, error) {
	f, err := os.Open(p)
	if err != nil {
		return hash.Hash{}, err
	}
	defer f.Close()
	h, _, err := hash.HashReader(cmd.Context(), algo, f)
	return h, err
}

func newHashConvertCmd(name string, enc hash.Encoding) *cobra.Command {
	var typ string
	cmd := &cobra.Command{
		Use:   name + " HASH...",
		Short: "Convert hashes to " + name[len("to-"):] + " (like nix hash " + name + ")",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			algo := hash.Unknown
			if typ != "" {
				var err error
				if algo, err = hash.ParseAlgo(typ); err != nil {
					return err
				}
			}
			for _, s := range args {
				h, err := hash.ParseAny(s, algo)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), h.Encode(enc, enc == hash.SRI))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&typ, "type", "", "hash algorithm of the input hashes, if they carry no prefix")
	return cmd
}
