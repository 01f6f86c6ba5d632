package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/onix-dev/onix/internal/build"
	"github.com/onix-dev/onix/internal/build/sandbox"
	"github.com/onix-dev/onix/internal/cache"
	"github.com/onix-dev/onix/internal/eval"
	"github.com/onix-dev/onix/internal/store"
)

// sandboxChildArg is the hidden verb the build sandbox re-executes onix
// with (see sandbox.ChildMain).
const sandboxChildArg = "__sandbox-child"

// SandboxChildArg is sandboxChildArg for main, which dispatches to the
// sandbox init before building the command tree.
const SandboxChildArg = sandboxChildArg

// newSandboxChildCmd is the in-namespace init of the build sandbox. It is
// not for users; it only works when started by the sandbox with its pipes.
func newSandboxChildCmd() *cobra.Command {
	return &cobra.Command{
		Use:                sandboxChildArg,
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return exitError{sandbox.ChildMain()}
		},
	}
}

// buildFlags are the options shared by `build` and `store realise`.
type buildFlags struct {
	jobs       int
	cores      int
	keepGoing  bool
	keepFailed bool
	check      bool
	rebuild    bool
	quiet      bool
	noSandbox  bool
	// settings are --option NAME VALUE pairs (and the --substituters /
	// --trusted-public-keys shorthands); offline disables substitution.
	settings []cache.Option
	offline  bool
}

func (f *buildFlags) options(st *store.Store, stderr io.Writer) (build.Options, error) {
	sub, err := substituterFor(st, f.settings, f.offline, stderr)
	if err != nil {
		return build.Options{}, err
	}
	features, err := listSetting(f.settings, "system-features", build.DefaultSystemFeatures())
	if err != nil {
		return build.Options{}, err
	}
	platforms, err := listSetting(f.settings, "extra-platforms", build.DefaultExtraPlatforms(build.HostSystem()))
	if err != nil {
		return build.Options{}, err
	}
	o := build.Options{
		SystemFeatures:   features,
		ExtraPlatforms:   platforms,
		Substituter:      sub,
		Store:            st,
		MaxJobs:          f.jobs,
		Cores:            f.cores,
		KeepGoing:        f.keepGoing,
		KeepFailed:       f.keepFailed,
		NoSandbox:        f.noSandbox,
		InitExe:          "/proc/self/exe",
		InitArgs:         []string{sandboxChildArg},
		Status:           stderr,
		Terminal:         isTerminal(stderr),
		QuietBuildOutput: f.quiet,
	}
	switch {
	case f.check:
		o.Mode = build.Check
	case f.rebuild:
		o.Mode = build.Rebuild
	}
	return o, nil
}

// listSetting is a list setting such as `system-features`: def (Nix's
// default), then $ONIX_CONF, then --option, so that `extra-NAME` adds to
// the default as in Nix.
func listSetting(settings []cache.Option, name string, def []string) ([]string, error) {
	cfg := cache.NewConfig()
	if err := cfg.Set(name, strings.Join(def, " ")); err != nil {
		return nil, err
	}
	if p := os.Getenv("ONIX_CONF"); p != "" {
		if err := cfg.ParseFile(p); err != nil {
			return nil, fmt.Errorf("loading settings: ONIX_CONF: %w", err)
		}
	}
	for _, o := range settings {
		if err := cfg.Set(o.Name, o.Value); err != nil {
			return nil, fmt.Errorf("loading settings: --option %s: %w", o.Name, err)
		}
	}
	return append([]string{}, cfg.List(name)...), nil
}

// tarballTTL is the `tarball-ttl` setting ($ONIX_CONF, then --option):
// how long fetched refs and unpinned downloads are used without asking the
// server again; Nix's default is 3600 seconds, and 0 always asks.
func tarballTTL(settings []cache.Option) (time.Duration, error) {
	cfg, err := cache.LoadConfig(os.Getenv, settings)
	if err != nil {
		return 0, fmt.Errorf("loading settings: %w", err)
	}
	secs, err := cfg.Int("tarball-ttl", 3600)
	if err != nil {
		return 0, err
	}
	if secs <= 0 {
		return eval.AlwaysRevalidate, nil
	}
	return time.Duration(secs) * time.Second, nil
}

// substituterFor builds the substituters from $ONIX_CONF and the --option
// settings (substituters, trusted-public-keys, require-sigs,
// http-connections); nil when there are none, with --offline or with
// `--option substitute false`.
func substituterFor(st *store.Store, settings []cache.Option, offline bool, stderr io.Writer) (cache.Substituter, error) {
	cfg, err := cache.LoadConfig(os.Getenv, settings)
	if err != nil {
		return nil, fmt.Errorf("loading settings: %w", err)
	}
	use, err := cfg.Bool("substitute", true)
	if err != nil {
		return nil, err
	}
	if offline || !use || len(cfg.Substituters()) == 0 {
		return nil, nil
	}
	// The build reports query and fetch failures itself; only a cache that
	// cannot be opened at all is reported from here.
	logf := func(format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		if strings.Contains(msg, " is unavailable: ") {
			fmt.Fprintln(stderr, msg)
		}
	}
	m, err := cache.NewSubstituterFromConfig(cfg, st.StoreDir(), logf)
	if err != nil {
		return nil, fmt.Errorf("configuring substituters: %w", err)
	}
	return m, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil && os.Getenv("TERM") != "dumb"
}

// parseBuildArgs parses nix-build style arguments (two-argument flags such
// as --arg NAME EXPR are why cobra's parser is not used).
type buildArgs struct {
	buildFlags
	evalArgs
	attrPaths []string
	outLink   string
	noOutLink bool
	files     []string
	storeRoot string
	help      bool
}

func parseBuildArgs(args []string) (*buildArgs, error) {
	o := &buildArgs{outLink: "result"}
	o.jobs = 1
	intArg := func(i int) (int, error) {
		if err := needArgs(args, i, 1); err != nil {
			return 0, err
		}
		if args[i+1] == "auto" {
			return runtime.NumCPU(), nil
		}
		n, err := strconv.Atoi(args[i+1])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("flag '%s' needs a non-negative integer, got '%s'", args[i], args[i+1])
		}
		return n, nil
	}
	for i := 0; i < len(args); i++ {
		if last, ok, err := o.parseFlag(args, i); ok {
			if err != nil {
				return nil, err
			}
			i = last
			continue
		}
		a := args[i]
		var err error
		switch a {
		case "-h", "--help":
			o.help = true
		case "-A", "--attr":
			if err = needArgs(args, i, 1); err == nil {
				o.attrPaths = append(o.attrPaths, args[i+1])
				i++
			}
		case "-o", "--out-link":
			if err = needArgs(args, i, 1); err == nil {
				o.outLink = args[i+1]
				i++
			}
		case "--no-out-link":
			o.noOutLink = true
		case "-j", "--max-jobs":
			o.jobs, err = intArg(i)
			i++
		case "--cores":
			o.cores, err = intArg(i)
			i++
		case "-k", "--keep-going":
			o.keepGoing = true
		case "-K", "--keep-failed":
			o.keepFailed = true
		case "--check":
			o.check = true
		case "--rebuild":
			o.rebuild = true
		case "-Q", "--no-build-output", "--quiet":
			o.quiet = true
		case "--no-sandbox":
			o.noSandbox = true
		case "--offline":
			o.offline = true
		case "--option":
			if err = needArgs(args, i, 2); err == nil {
				o.settings = append(o.settings, cache.Option{Name: args[i+1], Value: args[i+2]})
				i += 2
			}
		case "--substituters", "--extra-substituters", "--trusted-public-keys", "--extra-trusted-public-keys":
			if err = needArgs(args, i, 1); err == nil {
				o.settings = append(o.settings, cache.Option{Name: strings.TrimPrefix(a, "--"), Value: args[i+1]})
				i++
			}
		case "--store":
			if err = needArgs(args, i, 1); err == nil {
				o.storeRoot = args[i+1]
				i++
			}
		default:
			switch {
			case strings.HasPrefix(a, "-j") && len(a) > 2:
				o.jobs, err = strconv.Atoi(a[2:])
			case strings.HasPrefix(a, "--store="):
				o.storeRoot = strings.TrimPrefix(a, "--store=")
			case strings.HasPrefix(a, "-") && a != "-":
				err = fmt.Errorf("unrecognised flag '%s'", a)
			default:
				o.files = append(o.files, a)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return o, nil
}

const buildUsage = `Usage: onix build [FILE...] [options]

Build the derivations FILE evaluates to (default ./default.nix), or the
given .drv store paths, and create result symlinks (GC roots).

Options:
  -A, --attr PATH          select an attribute
  --arg NAME EXPR          pass an argument to the top-level function
  --argstr NAME STRING     pass a string argument
  -I PATH                  add to the search path
  -o, --out-link LINK      name of the result symlink (default: result)
  --no-out-link            do not create a result symlink
  -j, --max-jobs N         number of builds to run in parallel
  --cores N                value of NIX_BUILD_CORES
  -k, --keep-going         keep building independent derivations after a failure
  -K, --keep-failed        keep the build directory of failed builds
  --check                  rebuild and compare with the existing outputs
  --rebuild                rebuild even if the outputs exist (compare if valid)
  -Q, --no-build-output    do not show builder output
  --no-sandbox             run builders without the sandbox (store root / only)
  --store ROOT             physical root of the local store
  --option NAME VALUE      set a nix.conf setting (substituters,
                           trusted-public-keys, require-sigs, substitute,
                           system-features, ...)
  --substituters URLS      binary caches to substitute from (space-separated)
  --trusted-public-keys K  keys whose signatures are trusted
  --offline                do not substitute; build everything missing
`

func newBuildCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "build [FILE...] [-A attr] [--arg/--argstr/-I] [-o LINK | --no-out-link] [-j N] [--keep-going] [--keep-failed] [--check] [--rebuild]",
		Short:              "Build derivations (nix-build compatible)",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := parseBuildArgs(args)
			if err != nil {
				return fmt.Errorf("%w\nTry 'onix build --help' for more information", err)
			}
			if o.help {
				fmt.Fprint(cmd.OutOrStdout(), buildUsage)
				return nil
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			opts := store.DefaultOptions()
			if o.storeRoot != "" {
				opts.Root = o.storeRoot
			} else {
				opts.Root = storeRootFor(cmd)
			}
			st, err := store.Open(ctx, opts)
			if err != nil {
				return fmt.Errorf("opening local store: %w", err)
			}
			defer st.Close()
			return runBuild(ctx, st, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
}

func runBuild(ctx context.Context, st *store.Store, o *buildArgs, stdout, stderr io.Writer) error {
	var reqs []build.Request
	var exprFiles []string
	files := o.files
	if len(files) == 0 {
		files = []string{"./default.nix"}
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".drv") {
			p, err := storePathArg(st, f)
			if err != nil {
				return err
			}
			reqs = append(reqs, build.Request{Path: p})
			continue
		}
		exprFiles = append(exprFiles, f)
	}
	for _, f := range exprFiles {
		drvs, err := instantiateForBuild(ctx, st, f, o, stderr)
		if err != nil {
			return err
		}
		reqs = append(reqs, drvs...)
	}
	bopts, err := o.options(st, stderr)
	if err != nil {
		return err
	}
	results, berr := build.Realise(ctx, bopts, reqs)
	if berr != nil && results == nil {
		return berr
	}
	var outPaths []string
	var outNames []string
	for _, r := range results {
		if r.Err != nil {
			continue
		}
		for _, name := range sortedOutputNames(r.Outputs) {
			outPaths = append(outPaths, r.Outputs[name])
			outNames = append(outNames, name)
		}
	}
	if !o.noOutLink && !o.check {
		for i, p := range outPaths {
			link := o.outLink
			if i > 0 {
				link += "-" + strconv.Itoa(i+1)
			}
			if outNames[i] != "out" {
				link += "-" + outNames[i]
			}
			if err := makeResultLink(st, link, p); err != nil {
				return err
			}
		}
	}
	for _, p := range outPaths {
		fmt.Fprintln(stdout, p)
	}
	return berr
}

// sortedOutputNames puts "out" first, then the rest sorted (nix-build).
func sortedOutputNames(m map[string]string) []string {
	var names []string
	if _, ok := m["out"]; ok {
		names = append(names, "out")
	}
	var rest []string
	for k := range m {
		if k != "out" {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(names, rest...)
}

// makeResultLink points link at p and registers it as an indirect GC root
// (gcroots/auto), like nix-build's result symlinks.
func makeResultLink(st *store.Store, link, p string) error {
	abs, err := filepath.Abs(link)
	if err != nil {
		return err
	}
	tmp := abs + ".tmp-onix"
	_ = os.Remove(tmp)
	if err := os.Symlink(p, tmp); err != nil {
		return fmt.Errorf("creating result link: %w", err)
	}
	if err := os.Rename(tmp, abs); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("creating result link '%s': %w", abs, err)
	}
	if err := st.AddIndirectRoot(abs); err != nil {
		return fmt.Errorf("registering GC root '%s': %w", abs, err)
	}
	return nil
}

// instantiateForBuild evaluates file (with -A/--arg/-I) to derivations,
// writing their .drv files and sources into st, and returns one build
// request per derivation found, for the output the value selects (like
// nix-build, which realises drvPath!outputName).
// Evaluation warnings and traces go to stderr, as with nix-build.
func instantiateForBuild(ctx context.Context, st *store.Store, file string, o *buildArgs, stderr io.Writer) ([]build.Request, error) {
	opts := evalOptions(o.include, false, stderr)
	ttl, err := tarballTTL(o.settings)
	if err != nil {
		return nil, err
	}
	opts.TarballTTL = ttl
	opts.StoreDir = string(st.StoreDir())
	opts.Store = &evalStore{ctx: ctx, st: st}
	ev := eval.New(ctx, opts)
	v, err := ev.EvalFile(file)
	if err != nil {
		return nil, err
	}
	paths := o.attrPaths
	if len(paths) == 0 {
		paths = []string{""}
	}
	var reqs []build.Request
	for _, ap := range paths {
		r, err := ev.SelectAttrPath(v, ap, o.args)
		if err != nil {
			return nil, err
		}
		if r, err = ev.AutoCall(r, o.args); err != nil {
			return nil, err
		}
		drvs, err := ev.CollectDerivations(r)
		if err != nil {
			return nil, err
		}
		for _, d := range drvs {
			reqs = append(reqs, build.Request{Path: d.DrvPath, Outputs: []string{d.OutputName}})
		}
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("%s does not evaluate to any derivation", file)
	}
	return reqs, nil
}

func newRealiseCmd() *cobra.Command {
	f := &buildFlags{jobs: 1}
	var settings cacheFlags
	var substituters string
	cmd := &cobra.Command{
		Use:   "realise DRV...",
		Short: "Build or check the given derivations (nix-store --realise)",
		Args:  cobra.MinimumNArgs(1),
		RunE: withStore(func(ctx context.Context, cmd *cobra.Command, st *store.Store, args []string) error {
			cfgArgs, rest, err := settingPairs(settings.options, args)
			if err != nil {
				return err
			}
			f.settings = cfgArgs
			if cmd.Flags().Changed("substituters") {
				f.settings = append(f.settings, cache.Option{Name: "substituters", Value: substituters})
			}
			var reqs []build.Request
			for _, a := range rest {
				r := build.ParseRequest(a)
				p, err := storePathArg(st, r.Path)
				if err != nil {
					return err
				}
				r.Path = p
				reqs = append(reqs, r)
			}
			bopts, err := f.options(st, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			results, err := build.Realise(ctx, bopts, reqs)
			for _, r := range results {
				if r.Err != nil || f.check {
					continue
				}
				for _, name := range sortedOutputNames(r.Outputs) {
					fmt.Fprintln(cmd.OutOrStdout(), r.Outputs[name])
				}
			}
			return err
		}),
	}
	fl := cmd.Flags()
	fl.IntVarP(&f.jobs, "max-jobs", "j", 1, "number of builds to run in parallel")
	fl.IntVar(&f.cores, "cores", 0, "value of NIX_BUILD_CORES (default: number of CPUs)")
	fl.BoolVarP(&f.keepGoing, "keep-going", "k", false, "keep building independent derivations after a failure")
	fl.BoolVarP(&f.keepFailed, "keep-failed", "K", false, "keep the build directory of failed builds")
	fl.BoolVar(&f.check, "check", false, "rebuild and compare with the existing outputs")
	fl.BoolVar(&f.rebuild, "rebuild", false, "rebuild even if the outputs are valid")
	fl.BoolVarP(&f.quiet, "no-build-output", "Q", false, "do not show builder output")
	fl.BoolVar(&f.noSandbox, "no-sandbox", false, "run builders without the sandbox (store root / only)")
	fl.BoolVar(&f.offline, "offline", false, "do not substitute; build everything missing")
	fl.StringVar(&substituters, "substituters", "", "binary caches to substitute from (space-separated)")
	settings.register(cmd)
	return cmd
}

// settingPairs turns --option flags into settings: NAME=VALUE, or NAME
// whose value is taken, in order, from the front of args (Nix's
// two-argument form). It returns the remaining arguments.
func settingPairs(options, args []string) ([]cache.Option, []string, error) {
	var out []cache.Option
	for _, o := range options {
		if name, value, ok := strings.Cut(o, "="); ok {
			out = append(out, cache.Option{Name: name, Value: value})
			continue
		}
		if len(args) == 0 {
			return nil, nil, fmt.Errorf("--option %s: missing value", o)
		}
		out = append(out, cache.Option{Name: o, Value: args[0]})
		args = args[1:]
	}
	return out, args, nil
}

func newLogCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "log PATH",
		Short: "Show the build log of a derivation or of the output it built",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(func(ctx context.Context, cmd *cobra.Command, st *store.Store, args []string) error {
			p, err := storePathArg(st, args[0])
			if err != nil {
				return err
			}
			drv := p
			if !strings.HasSuffix(p, ".drv") {
				d, err := st.QueryDeriver(ctx, p)
				if err != nil {
					return err
				}
				if d == "" {
					return fmt.Errorf("build log of '%s' is not available (unknown deriver)", p)
				}
				drv = d
			}
			rc, err := build.ReadLog(st, drv)
			if err != nil {
				if errors.Is(err, build.ErrNoLog) {
					return fmt.Errorf("build log of '%s' is not available", args[0])
				}
				return err
			}
			defer rc.Close()
			_, err = io.Copy(cmd.OutOrStdout(), rc)
			return err
		}),
	}
}
