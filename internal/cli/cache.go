package cli

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/onix-dev/onix/internal/cache"
)

func newCacheCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Work with Nix binary caches",
	}
	cmd.AddCommand(newCacheServeCmd())
	return cmd
}

func newCacheServeCmd() *cobra.Command {
	var (
		listen      string
		cacheDir    string
		signKeyFile string
		writable    bool
		authFile    string
	)
	cmd := &cobra.Command{
		Use:   "serve --listen ADDR (--store DIR | --cache DIR [--writable [--auth-file FILE]]) [--sign-key FILE]",
		Short: "Serve the local store or a file cache over HTTP, like nix-serve",
		Long: `Serve a binary cache over HTTP (GET/HEAD of /nix-cache-info, /HASH.narinfo
and /nar/...). With --cache DIR an on-disk cache written by nix copy or onix copy
is served as is; otherwise the local store (--store DIR, default $ONIX_STORE or /)
is served like nix-serve: narinfos generated on demand (signed with --sign-key)
and uncompressed NARs dumped on the fly.

With --cache DIR --writable the cache also accepts uploads (HTTP PUT of
nix-cache-info, HASH.narinfo and nar/FILEHASH.nar[.EXT]), so that
'onix copy --to http://...' and 'nix copy --to http://...' can write to it.
Uploads are written atomically; NARs must match the hash in their name and
narinfos must parse and follow their NAR. With --auth-file FILE uploads need
the credential in FILE: a bearer token, or USER:PASSWORD for basic auth (what
Nix sends from its netrc file).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if listen == "" {
				return errors.New("--listen is required")
			}
			srv := &cache.Server{Logf: func(format string, a ...any) {
				fmt.Fprintf(cmd.ErrOrStderr(), format+"\n", a...)
			}}
			if signKeyFile != "" {
				k, err := cache.ReadSecretKeyFile(signKeyFile)
				if err != nil {
					return err
				}
				srv.SignKey = k
			}
			if (writable || authFile != "") && cacheDir == "" {
				return errors.New("--writable and --auth-file need --cache DIR")
			}
			if authFile != "" {
				if !writable {
					return errors.New("--auth-file applies to --writable only")
				}
				data, err := os.ReadFile(authFile)
				if err != nil {
					return fmt.Errorf("reading --auth-file: %w", err)
				}
				line, _, _ := strings.Cut(string(data), "\n")
				if srv.WriteAuth = strings.TrimSpace(line); srv.WriteAuth == "" {
					return fmt.Errorf("--auth-file %s is empty", authFile)
				}
			}
			srv.Writable = writable
			if cacheDir != "" {
				if fl := cmd.Flag("store"); fl != nil && fl.Changed {
					return errors.New("--store and --cache are mutually exclusive")
				}
				if srv.SignKey != nil {
					return errors.New("--sign-key applies to --store only (a file cache is served as written)")
				}
				if writable {
					if err := os.MkdirAll(cacheDir, 0o755); err != nil {
						return fmt.Errorf("cache directory: %w", err)
					}
				}
				fi, err := os.Stat(cacheDir)
				if err != nil {
					return fmt.Errorf("cache directory: %w", err)
				}
				if !fi.IsDir() {
					return fmt.Errorf("cache directory %s is not a directory", cacheDir)
				}
				srv.Dir = cacheDir
			} else {
				st, err := openLocalStore(ctx, cmd)
				if err != nil {
					return err
				}
				defer st.Close()
				srv.Store = st
			}
			return cache.ListenAndServe(ctx, listen, srv, func(a net.Addr) {
				fmt.Fprintf(cmd.ErrOrStderr(), "serving binary cache on http://%s\n", a)
			})
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "address to listen on, e.g. 127.0.0.1:5000")
	cmd.Flags().StringVar(&cacheDir, "cache", "", "serve this file cache directory instead of the store")
	cmd.Flags().StringVar(&signKeyFile, "sign-key", "", "secret key file to sign generated narinfos with")
	cmd.Flags().BoolVar(&writable, "writable", false, "accept uploads (HTTP PUT) into the --cache directory")
	cmd.Flags().StringVar(&authFile, "auth-file", "", "file with the bearer token or USER:PASSWORD uploads must present (with --writable)")
	return cmd
}
