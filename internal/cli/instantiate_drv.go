package cli

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/onix-dev/onix/internal/eval"
	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/nar"
	"github.com/onix-dev/onix/internal/store"
)

// instantiateStoreOpts are the instantiate flags about the store and
// instantiation (nix-instantiate without --eval), taken out of the argument
// list before the common parser sees it.
type instantiateStoreOpts struct {
	storeRoot    string
	storeSet     bool
	addRoot      string
	indirect     bool
	readWrite    bool
	features     []string
	st           *store.Store
	rootsWritten int
}

// splitInstantiateStoreArgs removes --store DIR, --add-root PATH,
// --indirect and --(extra-)experimental-features LIST from args.
func splitInstantiateStoreArgs(args []string) ([]string, *instantiateStoreOpts) {
	x := &instantiateStoreOpts{}
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case (a == "--store" || a == "--add-root" || a == "--extra-experimental-features" || a == "--experimental-features") && i+1 < len(args):
			v := args[i+1]
			i++
			switch a {
			case "--store":
				x.storeRoot, x.storeSet = v, true
			case "--add-root":
				x.addRoot = v
			default:
				x.features = append(x.features, splitFields(v)...)
			}
		case a == "--indirect":
			x.indirect = true
		case a == "--read-write-mode":
			x.readWrite = true
			rest = append(rest, a)
		default:
			rest = append(rest, a)
		}
	}
	return rest, x
}

func splitFields(s string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' || s[i] == '\t' || s[i] == '\n' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	return out
}

// setup completes the evaluator options: in --eval mode (without
// --read-write-mode) store paths are only computed; otherwise the onix
// store (--store / $ONIX_STORE) is opened and receives .drv files and
// sources. close must be called when done.
func (x *instantiateStoreOpts) setup(ctx context.Context, evalOnly bool, opts *eval.Options) error {
	opts.Features = append(opts.Features, x.features...)
	if evalOnly && !x.readWrite {
		opts.Paths = eval.ReadOnlyPaths{StoreDir: opts.StoreDir}
		return nil
	}
	so := store.DefaultOptions()
	if x.storeSet {
		so.Root = x.storeRoot
	}
	st, err := store.Open(ctx, so)
	if err != nil {
		return fmt.Errorf("opening local store: %w", err)
	}
	x.st = st
	opts.StoreDir = string(st.StoreDir())
	opts.Store = &evalStore{ctx: ctx, st: st}
	return nil
}

func (x *instantiateStoreOpts) close() {
	if x.st != nil {
		_ = x.st.Close()
		x.st = nil
	}
}

// printDerivations prints the derivations in v like nix-instantiate: one
// drv path per line, with "!<output>" when the selected output is not
// "out"; with --add-root each path is replaced by its GC root symlink.
func (x *instantiateStoreOpts) printDerivations(ev *eval.Evaluator, v *eval.Value, stdout, stderr io.Writer) error {
	drvs, err := ev.CollectDerivations(v)
	if err != nil {
		return err
	}
	for _, d := range drvs {
		p := d.DrvPath
		if x.addRoot == "" {
			if x.rootsWritten == 0 {
				fmt.Fprintln(stderr, "warning: you did not specify '--add-root'; the result might be removed by the garbage collector")
				x.rootsWritten = -1
			}
		} else {
			root, err := filepath.Abs(x.addRoot)
			if err != nil {
				return err
			}
			if x.rootsWritten < 0 {
				x.rootsWritten = 0
			}
			x.rootsWritten++
			if x.rootsWritten > 1 {
				root += "-" + strconv.Itoa(x.rootsWritten)
			}
			if err := makeGCRoot(x.st, root, p); err != nil {
				return err
			}
			p = root
		}
		if d.OutputName != "out" {
			p += "!" + d.OutputName
		}
		fmt.Fprintln(stdout, p)
	}
	return nil
}

func makeGCRoot(st *store.Store, link, target string) error {
	tmp := link + ".tmp-onix"
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("creating GC root %s: %w", link, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("creating GC root %s: %w", link, err)
	}
	if st != nil {
		return st.AddIndirectRoot(link)
	}
	return nil
}

// evalStore adapts the local store to eval.Store and eval.StoreReader.
type evalStore struct {
	ctx context.Context
	st  *store.Store
}

func (s *evalStore) AddText(name, text string, refs []string) (string, error) {
	return s.st.AddTextToStore(s.ctx, name, []byte(text), refs)
}

func (s *evalStore) AddPath(name, src string, recursive bool, filter func(string, fs.FileMode) bool) (string, error) {
	m := store.Flat
	if recursive {
		m = store.Recursive
	}
	return s.st.AddToStore(s.ctx, name, src, m, hash.SHA256, nar.Filter(filter), nil)
}

func (s *evalStore) WriteDerivation(name, aterm string, refs []string) (string, error) {
	return s.st.AddTextToStore(s.ctx, name, []byte(aterm), refs)
}

// EnsureValid adds a temporary root for p, then reports whether it is
// valid (in this order, so a GC cannot remove it in between).
func (s *evalStore) EnsureValid(p string) (bool, error) {
	if err := s.st.AddTempRoot(s.ctx, p); err != nil {
		return false, err
	}
	return s.st.IsValid(s.ctx, p)
}

func (s *evalStore) References(p string) ([]string, error) {
	return s.st.QueryReferences(s.ctx, p)
}

func (s *evalStore) ReadStoreFile(p string) ([]byte, error) {
	return os.ReadFile(s.st.RealPath(p))
}
