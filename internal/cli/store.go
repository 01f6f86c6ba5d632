package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/nar"
	"github.com/onix-dev/onix/internal/store"
)

// addGlobalStoreFlag registers the persistent --store DIR flag (physical
// store root; default $ONIX_STORE, else /).
func addGlobalStoreFlag(root *cobra.Command) {
	root.PersistentFlags().String("store", "", "physical root of the local store (default $"+store.EnvStore+" or /)")
}

// storeRootFor returns the store root chosen by --store or $ONIX_STORE.
func storeRootFor(cmd *cobra.Command) string {
	if fl := cmd.Flag("store"); fl != nil && fl.Changed {
		return fl.Value.String()
	}
	return os.Getenv(store.EnvStore)
}

func openLocalStore(ctx context.Context, cmd *cobra.Command) (*store.Store, error) {
	opts := store.DefaultOptions()
	opts.Root = storeRootFor(cmd)
	opts.Logf = func(format string, args ...any) { fmt.Fprintf(cmd.ErrOrStderr(), format+"\n", args...) }
	st, err := store.Open(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("opening local store: %w", err)
	}
	return st, nil
}

// withStore wraps a RunE that needs an open store.
func withStore(fn func(ctx context.Context, cmd *cobra.Command, st *store.Store, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		st, err := openLocalStore(ctx, cmd)
		if err != nil {
			return err
		}
		defer st.Close()
		return fn(ctx, cmd, st, args)
	}
}

// storePathArg accepts a store path, a path inside one, or a symlink to one
// (like `result`), as nix-store does (followLinksToStorePath).
func storePathArg(st *store.Store, arg string) (string, error) {
	p := arg
	if !strings.HasPrefix(p, string(st.StoreDir())+"/") {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", err
		}
		p = abs
		for i := 0; i < 40; i++ {
			fi, err := os.Lstat(p)
			if err != nil || fi.Mode()&os.ModeSymlink == 0 {
				break
			}
			t, err := os.Readlink(p)
			if err != nil {
				break
			}
			if !filepath.IsAbs(t) {
				t = filepath.Join(filepath.Dir(p), t)
			}
			p = t
			if strings.HasPrefix(p, string(st.StoreDir())+"/") {
				break
			}
		}
	}
	sp, err := st.ToStorePath(p)
	if err != nil {
		return "", fmt.Errorf("%s: %w", arg, err)
	}
	return sp, nil
}

// storePathArgs resolves each argument with storePathArg.
func storePathArgs(st *store.Store, args []string) ([]string, error) {
	var paths []string
	for _, a := range args {
		p, err := storePathArg(st, a)
		if err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// addPaths adds each path to the store and prints its store path.
func addPaths(ctx context.Context, cmd *cobra.Command, st *store.Store, paths []string, m store.Method, algo hash.Algo) error {
	for _, a := range paths {
		p, err := st.AddToStore(ctx, "", a, m, algo, nil, nil)
		if err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), p)
	}
	return nil
}

func newStoreCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Manipulate the local Nix-compatible store (like nix-store)",
	}
	cmd.AddCommand(newStoreAddCmd(), newRealiseCmd(), newStoreAddFixedCmd(), newStoreDumpCmd(), newStoreRestoreCmd(),
		newStorePathInfoCmd(), newStoreQueryCmd(), newStoreVerifyCmd(), newStoreDeleteCmd(), newStoreGCCmd())
	return cmd
}

func newStoreAddCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "add PATH...",
		Short: "Add paths to the store (like nix-store --add) and print their store paths",
		Args:  cobra.MinimumNArgs(1),
		RunE: withStore(func(ctx context.Context, cmd *cobra.Command, st *store.Store, args []string) error {
			return addPaths(ctx, cmd, st, args, store.Recursive, hash.SHA256)
		}),
	}
}

func newStoreAddFixedCmd() *cobra.Command {
	var recursive bool
	cmd := &cobra.Command{
		Use:   "add-fixed [--recursive] ALGO PATH...",
		Short: "Add paths as fixed-output paths (like nix-store --add-fixed)",
		Args:  cobra.MinimumNArgs(2),
		RunE: withStore(func(ctx context.Context, cmd *cobra.Command, st *store.Store, args []string) error {
			algo, err := hash.ParseAlgo(args[0])
			if err != nil {
				return err
			}
			m := store.Flat
			if recursive {
				m = store.Recursive
			}
			return addPaths(ctx, cmd, st, args[1:], m, algo)
		}),
	}
	cmd.Flags().BoolVar(&recursive, "recursive", false, "hash the NAR serialisation instead of the file bytes")
	return cmd
}

func newStoreDumpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "dump PATH",
		Short: "Write the NAR serialisation of PATH to stdout (like nix-store --dump)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := args[0]
			// A logical store path of a chrooted store maps to its real location.
			if root := storeRootFor(cmd); root != "" && root != "/" && strings.HasPrefix(p, "/nix/store/") {
				if _, err := os.Lstat(p); err != nil {
					p = filepath.Join(root, p)
				}
			}
			// No extra buffering: nar.Writer batches the small tokens and
			// passes file contents through in 1 MiB writes. Nothing here
			// needs the store database or its locks.
			out := cmd.OutOrStdout()
			if f, ok := out.(*os.File); ok {
				growPipe(f)
			}
			return nar.DumpPath(cmd.Context(), out, p, nil)
		},
	}
}

func newStoreRestoreCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "restore DIR",
		Short: "Unpack a NAR from stdin into DIR (like nix-store --restore)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return nar.Restore(cmd.Context(), bufio.NewReaderSize(cmd.InOrStdin(), 1<<20), args[0])
		},
	}
}

// pathInfoJSON has `nix path-info --json`'s fields in Nix 2.8's order.
type pathInfoJSON struct {
	Path             string   `json:"path"`
	NarHash          string   `json:"narHash"`
	NarSize          uint64   `json:"narSize"`
	References       []string `json:"references"`
	CA               string   `json:"ca,omitempty"`
	ClosureSize      *uint64  `json:"closureSize,omitempty"`
	Deriver          string   `json:"deriver,omitempty"`
	RegistrationTime int64    `json:"registrationTime,omitempty"`
	Ultimate         bool     `json:"ultimate,omitempty"`
	Signatures       []string `json:"signatures,omitempty"`
}

func newStorePathInfoCmd() *cobra.Command {
	var asJSON, recursive, closureSize bool
	cmd := &cobra.Command{
		Use:   "path-info [--json] [-r] [-S] PATH...",
		Short: "Show information about store paths (like nix path-info)",
		Args:  cobra.MinimumNArgs(1),
		RunE: withStore(func(ctx context.Context, cmd *cobra.Command, st *store.Store, args []string) error {
			paths, err := storePathArgs(st, args)
			if err != nil {
				return err
			}
			if recursive {
				cl, err := st.QueryRequisites(ctx, paths, false)
				if err != nil {
					return err
				}
				paths = cl
			}
			sort.Strings(paths)
			out := cmd.OutOrStdout()
			var list []pathInfoJSON
			for _, p := range paths {
				info, err := st.QueryPathInfo(ctx, p)
				if err != nil {
					return err
				}
				j := pathInfoJSON{Path: p, NarHash: info.NarHash.SRI(), NarSize: info.NarSize,
					References: info.References, CA: info.CA, Deriver: info.Deriver,
					RegistrationTime: info.RegistrationTime.Unix(), Ultimate: info.Ultimate, Signatures: info.Sigs}
				if j.References == nil {
					j.References = []string{}
				}
				if closureSize {
					cl, err := st.QueryRequisites(ctx, []string{p}, false)
					if err != nil {
						return err
					}
					var n uint64
					for _, q := range cl {
						qi, err := st.QueryPathInfo(ctx, q)
						if err != nil {
							return err
						}
						n += qi.NarSize
					}
					j.ClosureSize = &n
				}
				if asJSON {
					list = append(list, j)
				} else if closureSize {
					fmt.Fprintf(out, "%s\t%d\n", p, *j.ClosureSize)
				} else {
					fmt.Fprintln(out, p)
				}
			}
			if asJSON {
				if list == nil {
					list = []pathInfoJSON{}
				}
				b, err := json.Marshal(list)
				if err != nil {
					return err
				}
				fmt.Fprintln(out, string(b))
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON like nix path-info --json")
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "apply to the closure of the paths")
	cmd.Flags().BoolVarP(&closureSize, "closure-size", "S", false, "print the closure size")
	return cmd
}

func newStoreQueryCmd() *cobra.Command {
	var refs, referrers, requisites, deriver, tree, graph, includeOutputs bool
	cmd := &cobra.Command{
		Use:   "query --references|--referrers|--requisites|--deriver|--tree|--graph PATH...",
		Short: "Query store path relations (like nix-store --query)",
		Args:  cobra.MinimumNArgs(1),
		RunE: withStore(func(ctx context.Context, cmd *cobra.Command, st *store.Store, args []string) error {
			paths, err := storePathArgs(st, args)
			if err != nil {
				return err
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			defer w.Flush()
			printSet := func(get func(string) ([]string, error)) error {
				set := map[string]bool{}
				for _, p := range paths {
					l, err := get(p)
					if err != nil {
						return err
					}
					for _, x := range l {
						set[x] = true
					}
				}
				out := make([]string, 0, len(set))
				for x := range set {
					out = append(out, x)
				}
				sort.Strings(out)
				for _, x := range out {
					fmt.Fprintln(w, x)
				}
				return nil
			}
			switch {
			case refs:
				return printSet(func(p string) ([]string, error) { return st.QueryReferences(ctx, p) })
			case referrers:
				return printSet(func(p string) ([]string, error) { return st.QueryReferrers(ctx, p) })
			case requisites:
				cl, err := st.QueryRequisites(ctx, paths, includeOutputs)
				if err != nil {
					return err
				}
				sorted, err := st.TopoSort(ctx, cl)
				if err != nil {
					return err
				}
				for i := len(sorted) - 1; i >= 0; i-- {
					fmt.Fprintln(w, sorted[i])
				}
			case deriver:
				for _, p := range paths {
					d, err := st.QueryDeriver(ctx, p)
					if err != nil {
						return err
					}
					if d == "" {
						d = "unknown-deriver"
					}
					fmt.Fprintln(w, d)
				}
			case tree:
				done := map[string]bool{}
				for _, p := range paths {
					if err := printStoreTree(ctx, w, st, p, "", "", done); err != nil {
						return err
					}
				}
			case graph:
				return printStoreGraph(ctx, w, st, paths)
			default:
				return fmt.Errorf("query: give one of --references, --referrers, --requisites, --deriver, --tree, --graph")
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.BoolVar(&refs, "references", false, "print the references")
	f.BoolVar(&referrers, "referrers", false, "print the referrers")
	f.BoolVarP(&requisites, "requisites", "R", false, "print the closure")
	f.BoolVar(&includeOutputs, "include-outputs", false, "with --requisites, include outputs of derivations")
	f.BoolVarP(&deriver, "deriver", "d", false, "print the deriver")
	f.BoolVar(&tree, "tree", false, "print the closure as a tree")
	f.BoolVar(&graph, "graph", false, "print the closure as a Graphviz graph")
	cmd.MarkFlagsMutuallyExclusive("references", "referrers", "requisites", "deriver", "tree", "graph")
	return cmd
}

// printStoreTree matches nix-store -q --tree.
func printStoreTree(ctx context.Context, w io.Writer, st *store.Store, p, firstPad, tailPad string, done map[string]bool) error {
	if done[p] {
		fmt.Fprintf(w, "%s%s [...]\n", firstPad, p)
		return nil
	}
	done[p] = true
	fmt.Fprintf(w, "%s%s\n", firstPad, p)
	refs, err := st.QueryReferences(ctx, p)
	if err != nil {
		return err
	}
	sorted, err := st.TopoSort(ctx, refs)
	if err != nil {
		return err
	}
	for i := len(sorted) - 1; i >= 0; i-- {
		last := i == 0
		conn, line := "├───", "│   "
		if last {
			conn, line = "└───", "    "
		}
		if err := printStoreTree(ctx, w, st, sorted[i], tailPad+conn, tailPad+line, done); err != nil {
			return err
		}
	}
	return nil
}

// printStoreGraph matches nix-store -q --graph.
func printStoreGraph(ctx context.Context, w io.Writer, st *store.Store, roots []string) error {
	base := func(p string) string { return filepath.Base(p) }
	fmt.Fprintln(w, "digraph G {")
	work := map[string]bool{}
	for _, r := range roots {
		work[r] = true
	}
	done := map[string]bool{}
	for len(work) > 0 {
		// Nix takes the smallest path (by base name) first.
		var next string
		for p := range work {
			if next == "" || base(p) < base(next) {
				next = p
			}
		}
		delete(work, next)
		if done[next] {
			continue
		}
		done[next] = true
		name := base(next)[33:]
		fmt.Fprintf(w, "%s [label = %s, shape = box, style = filled, fillcolor = \"#ff0000\"];\n", strconv.Quote(base(next)), strconv.Quote(name))
		refs, err := st.QueryReferences(ctx, next)
		if err != nil {
			return err
		}
		for _, r := range refs {
			if r != next {
				work[r] = true
				fmt.Fprintf(w, "%s -> %s [color = \"black\"];\n", strconv.Quote(base(r)), strconv.Quote(base(next)))
			}
		}
	}
	fmt.Fprintln(w, "}")
	return nil
}

func newStoreVerifyCmd() *cobra.Command {
	var checkContents bool
	cmd := &cobra.Command{
		Use:   "verify [--check-contents]",
		Short: "Check the store's consistency (like nix-store --verify)",
		Args:  cobra.NoArgs,
		RunE: withStore(func(ctx context.Context, cmd *cobra.Command, st *store.Store, _ []string) error {
			errw := cmd.ErrOrStderr()
			fmt.Fprintln(errw, "checking path existence...")
			if checkContents {
				fmt.Fprintln(errw, "checking contents...")
			}
			res, err := st.Verify(ctx, checkContents)
			if err != nil {
				return err
			}
			for _, p := range res.Missing {
				fmt.Fprintf(errw, "path '%s' disappeared, but it is still valid in the database!\n", p)
			}
			for _, m := range res.Modified {
				fmt.Fprintf(errw, "path '%s' was modified! expected hash '%s', got '%s'\n", m.Path,
					m.Expected.Encode(hash.Base32, true), m.Actual.Encode(hash.Base32, true))
			}
			for _, e := range res.Errors {
				fmt.Fprintln(errw, e)
			}
			if !res.OK() {
				return exitError{code: 1}
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&checkContents, "check-contents", false, "recompute the NAR hash of every path")
	return cmd
}

func newStoreDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete PATH...",
		Short: "Delete store paths that are unreferenced and unrooted (like nix-store --delete)",
		Args:  cobra.MinimumNArgs(1),
		RunE: withStore(func(ctx context.Context, cmd *cobra.Command, st *store.Store, args []string) error {
			paths, err := storePathArgs(st, args)
			if err != nil {
				return err
			}
			freed, err := st.Delete(ctx, paths)
			if err != nil {
				return err
			}
			for _, p := range paths {
				fmt.Fprintf(cmd.ErrOrStderr(), "deleting '%s'\n", p)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d store paths deleted, %s freed\n", len(paths), showBytes(freed))
			return nil
		}),
	}
}

func newStoreGCCmd() *cobra.Command {
	var printRoots, printDead bool
	var maxFreed int64
	cmd := &cobra.Command{
		Use:   "gc [--print-roots|--print-dead|--max-freed N]",
		Short: "Delete unreachable store paths (like nix-store --gc)",
		Args:  cobra.NoArgs,
		RunE: withStore(func(ctx context.Context, cmd *cobra.Command, st *store.Store, _ []string) error {
			out := bufio.NewWriter(cmd.OutOrStdout())
			defer out.Flush()
			if printRoots {
				roots, err := st.PrintRoots(ctx)
				if err != nil {
					return err
				}
				for _, r := range roots {
					fmt.Fprintf(out, "%s -> %s\n", r.Link, r.Path)
				}
				return nil
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "finding garbage collector roots...")
			res, err := st.GC(ctx, store.GCOptions{DryRun: printDead, MaxFreed: maxFreed})
			if printDead && res != nil {
				for _, p := range res.Dead {
					fmt.Fprintln(out, p)
				}
				return err
			}
			if res != nil {
				for _, p := range res.Deleted {
					fmt.Fprintf(cmd.ErrOrStderr(), "deleting '%s'\n", p)
				}
				fmt.Fprintf(out, "%d store paths deleted, %s freed\n", len(res.Deleted), showBytes(res.BytesFreed))
			}
			return err
		}),
	}
	cmd.Flags().BoolVar(&printRoots, "print-roots", false, "print the GC roots")
	cmd.Flags().BoolVar(&printDead, "print-dead", false, "print the paths that would be deleted")
	cmd.Flags().Int64Var(&maxFreed, "max-freed", 0, "stop after freeing this many bytes")
	cmd.MarkFlagsMutuallyExclusive("print-roots", "print-dead")
	return cmd
}

// showBytes formats like Nix's showBytes ("%.2f MiB").
func showBytes(n int64) string {
	return fmt.Sprintf("%.2f MiB", float64(n)/(1024*1024))
}

// growPipe enlarges f's pipe buffer (when f is a pipe) from 64 KiB to
// 1 MiB, so that `onix store dump | consumer` switches between the two
// processes 16 times less often. Failure just keeps the default.
func growPipe(f *os.File) {
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	_, _ = unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, 1<<20)
}
