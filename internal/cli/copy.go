package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/onix-dev/onix/internal/cache"
	"github.com/onix-dev/onix/internal/store"
)

// cacheFlags are the nix.conf-style --option overrides shared by copy and
// cache serve. The local store comes from the global --store flag.
type cacheFlags struct {
	options []string
}

func (f *cacheFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.options, "option", nil, "set a nix.conf setting: --option NAME VALUE or --option NAME=VALUE (repeatable)")
}

// config loads ONIX_CONF plus --option pairs. For `--option NAME VALUE`
// (Nix's two-argument form) the values are taken, in order, from the front
// of the positional arguments; the remaining arguments are returned.
func (f *cacheFlags) config(args []string) (*cache.Config, []string, error) {
	var opts []cache.Option
	for _, o := range f.options {
		if name, value, ok := strings.Cut(o, "="); ok {
			opts = append(opts, cache.Option{Name: name, Value: value})
			continue
		}
		if len(args) == 0 {
			return nil, nil, fmt.Errorf("--option %s: missing value", o)
		}
		opts = append(opts, cache.Option{Name: o, Value: args[0]})
		args = args[1:]
	}
	cfg, err := cache.LoadConfig(os.Getenv, opts)
	if err != nil {
		return nil, nil, err
	}
	return cfg, args, nil
}

func newCopyCmd() *cobra.Command {
	var (
		flags       cacheFlags
		to, from    string
		signKeyFile string
		jobs        int
		noCheckSigs bool
	)
	cmd := &cobra.Command{
		Use:   "copy (--to URL | --from URL) PATH...",
		Short: "Copy store path closures to or from a binary cache",
		Long: `Copy the closures of store paths between the local store and a Nix binary
cache (file:///DIR or http(s)://HOST/PATH, with Nix's ?compression=xz|zstd|none,
?secret-key=FILE and ?priority=N parameters).

With --to http(s)://..., files are uploaded with HTTP PUT as Nix does
(nix-cache-info first, each NAR before its narinfo, references before
referrers), e.g. to 'onix cache serve --cache DIR --writable'. Credentials
can be given in the URL (http://USER:PASSWORD@HOST/), sent as basic auth.

With --from, every narinfo must carry a signature by a key in
trusted-public-keys (from $ONIX_CONF or --option) unless require-sigs is false
or --no-check-sigs is given, and every NAR must match its NarHash and NarSize
before the path becomes valid.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if (to == "") == (from == "") {
				return errors.New("exactly one of --to and --from is required")
			}
			cfg, paths, err := flags.config(args)
			if err != nil {
				return err
			}
			if len(paths) == 0 {
				return errors.New("no store paths given")
			}
			st, err := openLocalStore(ctx, cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			if to != "" {
				return copyTo(ctx, st, to, signKeyFile, jobs, paths, cmd.ErrOrStderr())
			}
			return copyFrom(ctx, st, cfg, from, noCheckSigs, jobs, paths, cmd.ErrOrStderr())
		},
	}
	flags.register(cmd)
	cmd.Flags().StringVar(&to, "to", "", "destination binary cache URL")
	cmd.Flags().StringVar(&from, "from", "", "source binary cache URL")
	cmd.Flags().StringVar(&signKeyFile, "sign-key", "", "secret key file to sign narinfos with (with --to)")
	cmd.Flags().IntVarP(&jobs, "jobs", "j", 0, "parallel transfers (default: based on CPUs)")
	cmd.Flags().BoolVar(&noCheckSigs, "no-check-sigs", false, "do not require signatures (with --from)")
	return cmd
}

// copyTo copies args' closures from st to url; on a terminal, stderr
// shows a progress line meanwhile.
func copyTo(ctx context.Context, st *store.Store, url, signKeyFile string, jobs int, args []string, stderr io.Writer) error {
	var key *cache.SecretKey
	if signKeyFile != "" {
		k, err := cache.ReadSecretKeyFile(signKeyFile)
		if err != nil {
			return err
		}
		key = k
	}
	paths := make([]string, 0, len(args))
	for _, a := range args {
		p, err := st.ToStorePath(a)
		if err != nil {
			return err
		}
		paths = append(paths, p)
	}
	c, err := cache.Open(ctx, url, cache.Options{StoreDir: st.StoreDir()})
	if err != nil {
		return err
	}
	progress, onPath := copyProgress(ctx, st, stderr)
	copied, err := cache.CopyTo(ctx, st, c, paths, cache.CopyToOptions{SignKey: key, Jobs: jobs, Progress: onPath})
	progress.done()
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "copied %d paths to %s\n", len(copied), c.URL())
	return nil
}

// copyProgress is the progress line of a copy and the per-path callback
// that feeds it (nil off a terminal, so nothing is looked up for it).
func copyProgress(ctx context.Context, st *store.Store, stderr io.Writer) (*progressLine, func(string)) {
	progress := newProgressLine(stderr, "copied")
	if !progress.live {
		return progress, nil
	}
	return progress, func(p string) {
		var size uint64
		if info, err := st.QueryPathInfo(ctx, p); err == nil {
			size = info.NarSize
		}
		progress.add(size)
	}
}

// copyFrom substitutes args' closures from url into st; on a terminal,
// stderr shows a progress line meanwhile.
func copyFrom(ctx context.Context, st *store.Store, cfg *cache.Config, url string, noCheckSigs bool, jobs int, args []string, stderr io.Writer) error {
	requireSigs, err := cfg.RequireSigs()
	if err != nil {
		return err
	}
	if noCheckSigs {
		requireSigs = false
	}
	sd := st.StoreDir()
	paths := make([]string, 0, len(args))
	for _, a := range args {
		sp, _, err := sd.SplitPath(a)
		if err != nil {
			return err
		}
		paths = append(paths, sd.Path(sp))
	}
	c, err := cache.Open(ctx, url, cache.Options{StoreDir: sd})
	if err != nil {
		return err
	}
	progress, onPath := copyProgress(ctx, st, stderr)
	copied, err := cache.CopyFrom(ctx, c, paths, st, cache.CopyFromOptions{
		TrustedPublicKeys: cfg.TrustedPublicKeys(),
		RequireSigs:       requireSigs,
		Jobs:              jobs,
		Progress:          onPath,
	})
	progress.done()
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "copied %d paths from %s\n", len(copied), c.URL())
	return nil
}
