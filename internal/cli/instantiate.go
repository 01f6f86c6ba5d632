package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/onix-dev/onix/internal/eval"
	"github.com/onix-dev/onix/internal/modules"
)

// tuneRuntime prepares the process for a batch evaluation: deep Nix
// recursion needs a large goroutine stack, and trading memory for fewer GC
// cycles pays off for short-lived evaluations.
func tuneRuntime() {
	debug.SetMaxStack(4 << 30)
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// GC policy for a batch evaluation (see startGCTuner): no collection until
// the heap reaches gcFloor (Nix/Boehm start with a large initial heap too),
// then a heap goal of max(gcFloor, live·(1+gcMinPercent/100)) (raised for
// a large live heap, see gcRetainedFactor); gcFloor
// doubles after three collections in a row that found < gcFloor/3 live.
const gcFloor, gcMinPercent = 28 << 20, 300

// A collection that finds a lot live (≥ gcFloor/2) sets the next goal to
// live·gcRetainedFactor, up to a heap of gcRetainedCap: batch
// evaluations that build large structures (module systems) otherwise pay
// for repeated marking of data that stays live to the end.
const gcRetainedFactor, gcRetainedCap = 9, 112 << 20

// startGCTuner applies the GC policy above until the returned function is
// called (which restores the previous GOGC). After every collection a
// finalizer re-arms itself and sets GOGC from the live heap. $GOGC or
// $GOMEMLIMIT in the environment turn it off; $ONIX_GC_FLOOR_MB and
// $ONIX_GC_MINPCT override the two parameters, $ONIX_GC_RETAINED_CAP_MB
// gcRetainedCap (for tuning).
func startGCTuner() func() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	floor, minPct := uint64(gcFloor), gcMinPercent
	if v, err := strconv.Atoi(os.Getenv("ONIX_GC_FLOOR_MB")); err == nil {
		floor = uint64(v) << 20
	}
	if v, err := strconv.Atoi(os.Getenv("ONIX_GC_MINPCT")); err == nil {
		minPct = v
	}
	retainedCap := uint64(gcRetainedCap)
	if v, err := strconv.Atoi(os.Getenv("ONIX_GC_RETAINED_CAP_MB")); err == nil {
		retainedCap = uint64(v) << 20
	}
	// tiny counts consecutive collections that found less than floor/3
	// live: a loop producing mostly garbage, where the fixed cost of a
	// cycle (and write barriers while marking) dominates; then the floor
	// is doubled (peak RSS stays small since little survives).
	tiny := 0
	percent := func(live uint64) int {
		pct := minPct
		if live > 0 && live < floor/3 {
			tiny++
		} else {
			tiny = 0
		}
		goal := floor
		if tiny >= 3 {
			goal = 2 * floor
		}
		// a collection that found at least floor/2 live: the evaluation
		// is building a large structure that later cycles would mostly
		// retrace, so the goal is raised to live·gcRetainedFactor, at most
		// gcRetainedCap
		if live >= floor/2 {
			goal = max(goal, min(live*gcRetainedFactor, retainedCap))
		}
		if live > 0 && live < goal {
			pct = max(pct, int((goal-live)*100/live))
		}
		return pct
	}
	var mu sync.Mutex
	stopped := false
	// before the first collection the goal is 4 MiB·GOGC/100
	prev := debug.SetGCPercent(percent(4 << 20))
	tiny = 0
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	type tick struct{ _ *int }
	var arm func()
	arm = func() {
		runtime.SetFinalizer(&tick{}, func(*tick) {
			mu.Lock()
			defer mu.Unlock()
			if stopped {
				return
			}
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 {
				debug.SetGCPercent(percent(sample[0].Value.Uint64()))
			}
			arm()
		})
	}
	arm()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		debug.SetGCPercent(prev)
	}
}

// startProfile writes a CPU profile of any onix command to $ONIX_CPUPROFILE
// (if set) until the returned function is called; $ONIX_MEMPROFILE gets a
// heap profile then.
func startProfile(stderr io.Writer) func() {
	cpu, mem := os.Getenv("ONIX_CPUPROFILE"), os.Getenv("ONIX_MEMPROFILE")
	if cpu == "" && mem == "" {
		return func() {}
	}
	var f *os.File
	if cpu != "" {
		var err error
		if f, err = os.Create(cpu); err != nil {
			fmt.Fprintf(stderr, "warning: ONIX_CPUPROFILE: %v\n", err)
		} else if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "warning: ONIX_CPUPROFILE: %v\n", err)
			f.Close()
			f = nil
		}
	}
	return func() {
		if f != nil {
			pprof.StopCPUProfile()
			f.Close()
		}
		if mem != "" {
			if mf, err := os.Create(mem); err == nil {
				runtime.GC() // publish the allocations since the last cycle
				_ = pprof.Lookup("allocs").WriteTo(mf, 0)
				mf.Close()
			}
		}
	}
}

type instantiateOpts struct {
	evalOnly, strict, json, xml, raw, noLocation, parseOnly, showTrace bool
	readWrite, fromExpr, readStdin                                     bool
	attrPaths                                                          []string
	files                                                              []string
	lintAbs, lintShort, lintURL                                        string
	maxCallDepth                                                       int
	evalArgs
}

func newInstantiateCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "instantiate [options] [FILES...]",
		Short:              "Evaluate Nix expressions (nix-instantiate compatible)",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			code := runInstantiate(cmd.Context(), args, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
			if code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
}

func parseInstantiateArgs(args []string) (*instantiateOpts, error) {
	o := &instantiateOpts{}
	for i := 0; i < len(args); i++ {
		if last, ok, err := o.parseFlag(args, i); ok {
			if err != nil {
				return nil, err
			}
			i = last
			continue
		}
		a := args[i]
		switch a {
		case "--eval", "--eval-only":
			o.evalOnly = true
		case "--strict":
			o.strict = true
		case "--json":
			o.json, o.xml, o.raw = true, false, false
		case "--xml":
			o.xml, o.json, o.raw = true, false, false
		case "--no-location":
			o.noLocation = true
		case "--parse", "--parse-only":
			o.parseOnly, o.evalOnly = true, true
		case "-":
			o.readStdin = true
		case "--raw":
			o.raw = true
		case "--show-trace":
			o.showTrace = true
		case "--read-write-mode":
			o.readWrite = true
		case "-E", "--expr":
			o.fromExpr = true
		case "-A", "--attr":
			if err := needArgs(args, i, 1); err != nil {
				return nil, err
			}
			o.attrPaths = append(o.attrPaths, args[i+1])
			i++
		case "--lint-absolute-path-literals", "--lint-short-path-literals", "--lint-url-literals":
			if err := needArgs(args, i, 1); err != nil {
				return nil, err
			}
			v := args[i+1]
			if v != "ignore" && v != "warn" && v != "fatal" {
				return nil, fmt.Errorf("option '%s' has invalid value '%s'", a, v)
			}
			if v == "ignore" {
				v = ""
			}
			switch a {
			case "--lint-absolute-path-literals":
				o.lintAbs = v
			case "--lint-short-path-literals":
				o.lintShort = v
			default:
				o.lintURL = v
			}
			i++
		case "--max-call-depth":
			if err := needArgs(args, i, 1); err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(args[i+1])
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("option '%s' has invalid value '%s'", a, args[i+1])
			}
			o.maxCallDepth = n
			i++
		case "--no-show-trace":
			o.showTrace = false
		case "--impure", "--repair", "--no-pure-eval", "--quiet", "--verbose", "-v", "--no-build-output", "-Q", "--offline", "--refresh":
		case "--extra-experimental-features", "--experimental-features", "--store", "--eval-store", "--pure-eval", "--restrict-eval", "--allowed-uris":
			if err := needArgs(args, i, 1); err != nil {
				return nil, err
			}
			i++
		case "--option":
			if err := needArgs(args, i, 2); err != nil {
				return nil, err
			}
			i += 2
		case "--add-root", "--indirect", "--dry-run":
			if a == "--add-root" {
				i++
			}
		default:
			if strings.HasPrefix(a, "-") && a != "-" {
				return nil, fmt.Errorf("unrecognised flag '%s'", a)
			}
			o.files = append(o.files, a)
		}
	}
	return o, nil
}

// evalOptions are the evaluator settings shared by instantiate and eval:
// read-only mode (store paths computed, nothing written).
func evalOptions(include []string, showTrace bool, stderr io.Writer) eval.Options {
	sd := os.Getenv("NIX_STORE_DIR")
	if sd == "" {
		sd = "/nix/store"
	}
	opts := eval.Options{SearchPath: searchPath(include), ShowTrace: showTrace, Stderr: stderr,
		StoreDir: sd, Paths: eval.ReadOnlyPaths{StoreDir: sd}, FS: builtinFS()}
	if ttl, err := tarballTTL(nil); err != nil {
		fmt.Fprintf(stderr, "warning: %v; using tarball-ttl 3600\n", err)
	} else {
		opts.TarballTTL = ttl
	}
	return opts
}

// builtinFS is what onix carries inside its binary for Nix code: <onix/lib>,
// the module system.
func builtinFS() map[string]fs.FS {
	return map[string]fs.FS{"onix": modules.FS()}
}

func searchPath(include []string) []string {
	sp := append([]string(nil), include...)
	if np := os.Getenv("NIX_PATH"); np != "" {
		sp = append(sp, strings.Split(np, ":")...)
	}
	return sp
}

func runInstantiate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	tuneRuntime()
	defer startGCTuner()()

	args, xo := splitInstantiateStoreArgs(args) // instantiate_drv.go
	defer xo.close()
	o, err := parseInstantiateArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\nTry 'nix-instantiate --help' for more information.\n", err)
		return 1
	}
	evOpts := evalOptions(o.include, o.showTrace, stderr)
	evOpts.LintAbsolutePath, evOpts.LintShortPath, evOpts.LintURL = o.lintAbs, o.lintShort, o.lintURL
	// --max-call-depth bounds calls and value nesting alike, as in Nix.
	evOpts.MaxCallDepth, evOpts.MaxNestingDepth = o.maxCallDepth, o.maxCallDepth
	if err := xo.setup(ctx, o.evalOnly || o.parseOnly, &evOpts); err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	ev := eval.New(ctx, evOpts)
	fail := func(err error) int {
		var ee *eval.Error
		if errors.As(err, &ee) {
			fmt.Fprintln(stderr, ee.Format(o.showTrace))
		} else {
			fmt.Fprintf(stderr, "error: %v\n", err)
		}
		return 1
	}
	wd, _ := os.Getwd()
	if len(o.attrPaths) == 0 {
		o.attrPaths = []string{""}
	}
	// process evaluates (or, with --parse, prints) one input.
	process := func(text, name, dir, file string) int {
		if o.parseOnly {
			var s string
			var err error
			if file != "" {
				s, err = ev.ParseFileOnly(file)
			} else {
				s, err = ev.ParseOnly(text, name, dir)
			}
			if err != nil {
				return fail(err)
			}
			fmt.Fprintln(stdout, s)
			return 0
		}
		var v *eval.Value
		var err error
		if file != "" {
			v, err = ev.EvalFile(file)
		} else {
			v, err = ev.EvalString(text, name, dir)
		}
		if err != nil {
			return fail(err)
		}
		for _, ap := range o.attrPaths {
			r, err := ev.SelectAttrPath(v, ap, o.args)
			if err != nil {
				return fail(err)
			}
			if len(o.args) > 0 {
				if r, err = ev.AutoCall(r, o.args); err != nil {
					return fail(err)
				}
			}
			if !o.evalOnly {
				if err := xo.printDerivations(ev, r, stdout, stderr); err != nil {
					return fail(err)
				}
				continue
			}
			var out string
			switch {
			case o.raw:
				out, err = ev.CoerceString(r)
				if err == nil {
					fmt.Fprint(stdout, out)
				}
			case o.xml:
				out, err = ev.ToXML(r, o.strict, !o.noLocation)
				if err == nil {
					fmt.Fprint(stdout, out)
				}
			case o.json:
				out, err = ev.ToJSON(r, true) // paths are copied, as Nix's printValueAsJSON
				if err == nil {
					fmt.Fprintln(stdout, out)
				}
			default:
				out, err = ev.PrintValue(r, o.strict)
				if err == nil {
					fmt.Fprintln(stdout, out)
				}
			}
			if err != nil {
				return fail(err)
			}
		}
		return 0
	}
	if o.readStdin {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return fail(err)
		}
		if c := process(string(b), "«stdin»", wd, ""); c != 0 {
			return c
		}
	} else if len(o.files) == 0 && !o.fromExpr {
		o.files = []string{"./default.nix"}
	}
	for _, in := range o.files {
		var c int
		if o.fromExpr {
			c = process(in, "«string»", wd, "")
		} else {
			p := in
			if len(p) > 2 && p[0] == '<' && p[len(p)-1] == '>' {
				fp, err := ev.FindFile(p[1 : len(p)-1])
				if err != nil {
					return fail(err)
				}
				p = fp
			} else if !filepath.IsAbs(p) {
				p = filepath.Join(wd, p)
			}
			c = process("", "", "", eval.ResolveExprPath(p))
		}
		if c != 0 {
			return c
		}
	}
	return 0
}
