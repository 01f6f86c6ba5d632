package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/onix-dev/onix/internal/build/sandbox"
	"github.com/onix-dev/onix/internal/nixcompat/derivation"
	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/nar"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
	"github.com/onix-dev/onix/internal/store"
)

// drvBaseName is the .drv file name without the hash ("foo.drv").
func drvBaseName(drvPath string) string {
	base := filepath.Base(drvPath)
	if i := strings.IndexByte(base, '-'); i >= 0 {
		return base[i+1:]
	}
	return base
}

// buildNode builds one derivation and registers (or checks) its outputs.
func (b *builder) buildNode(ctx context.Context, n *node, slot int) (err error) {
	drv := n.drv
	check := n.top && b.opts.Mode != Normal
	// Lock the outputs; if another process built them meanwhile, done.
	if valid, err := b.lockOutputs(ctx, n, check); err != nil || valid {
		return err
	}
	defer func() { n.outLocks.Release(err == nil) }()
	b.ui.started(n)
	defer func() { b.ui.finished(n, err) }()

	isBuiltin := strings.HasPrefix(drv.Builder, "builtin:")
	attrs, err := parseDrvAttrs(n.drvPath, drv)
	if err != nil {
		return err
	}
	if err := b.checkCanBuild(n, attrs); err != nil {
		return err
	}
	sandboxed := !b.opts.NoSandbox
	if drv.Env["__noChroot"] == "1" && sandboxed && b.st.RealStoreDir() == string(b.st.StoreDir()) {
		return fmt.Errorf("derivation '%s' has '__noChroot' set, but that's not allowed when 'sandbox' is 'true'", n.drvPath)
	}

	// Input closure: inputSrcs plus the wanted outputs of input drvs.
	var inputs []string
	for p, outs := range drv.InputDrvs {
		d := b.nodes[p]
		var dd *derivation.Derivation
		if d != nil {
			dd = d.drv
		} else if dd, err = b.loadDrv(ctx, p); err != nil {
			return err
		}
		for _, o := range outs {
			out, ok := dd.Outputs[o]
			if !ok || out.Path == "" {
				return fmt.Errorf("derivation '%s' has no output '%s'", p, o)
			}
			inputs = append(inputs, out.Path)
		}
	}
	inputs = append(inputs, drv.InputSrcs...)
	closure, err := b.refs.closure(ctx, inputs)
	if err != nil {
		return fmt.Errorf("computing the input closure of '%s': %w", n.drvPath, err)
	}

	outNames := drv.OutputNames()
	if check && b.opts.Mode == Check {
		for _, o := range outNames {
			if ok, err := b.st.IsValid(ctx, drv.Outputs[o].Path); err != nil {
				return err
			} else if !ok {
				return fmt.Errorf("some outputs of '%s' are not valid, so checking is not possible", n.drvPath)
			}
		}
	}

	// Log file, as Nix: <logdir>/drvs/XX/REST (uncompressed; `onix log` and
	// Nix read both this and .bz2).
	logW, closeLog, err := b.openLog(n.drvPath)
	if err != nil {
		return err
	}
	logOK := false
	defer func() {
		if cerr := closeLog(); cerr != nil && err == nil && logOK {
			err = cerr
		}
	}()
	tail := &tailBuffer{max: 10}
	out := io.MultiWriter(logW, tail, b.ui.logWriter(n))

	buildDir, err := os.MkdirTemp(b.opts.TmpDir, "nix-build-"+drvBaseName(n.drvPath)+"-")
	if err != nil {
		return fmt.Errorf("creating build directory: %w", err)
	}
	keepBuildDir := false
	defer func() {
		if !keepBuildDir {
			_ = b.sandboxes.RemoveLater(buildDir) // failures: see schedule
		}
	}()
	if err := os.Chmod(buildDir, 0o700); err != nil {
		return fmt.Errorf("build directory: %w", err)
	}
	sandboxBuildDir := "/build"
	if !sandboxed {
		sandboxBuildDir = buildDir
	}

	fixed := drv.IsFixedOutput()
	cfg := &sandbox.Config{
		InitExe:         b.opts.InitExe,
		InitArgs:        b.opts.InitArgs,
		Sandboxed:       sandboxed,
		ChrootDir:       b.st.RealPath(n.drvPath) + ".chroot",
		StoreDir:        string(b.st.StoreDir()),
		BuildDir:        buildDir,
		SandboxBuildDir: sandboxBuildDir,
		Builder:         drv.Builder,
		Args:            drv.Args,
		Network:         fixed,
		Linux32:         linux32(drv.Platform, b.opts.System),
		HostUID:         -1,
		HostGID:         -1,
		Log:             out,
		Seccomp:         !b.opts.DisableSeccomp,
		Pool:            b.sandboxes,
		Slot:            slot,
		NoPrestart:      !n.moreBuilds,
	}
	for _, p := range closure {
		cfg.Inputs = append(cfg.Inputs, sandbox.Input{Source: b.st.RealPath(p), Target: p})
	}
	if os.Geteuid() == 0 {
		uid, release, err := b.users.acquire(ctx, slot)
		if err != nil {
			return err
		}
		defer release()
		cfg.HostUID, cfg.HostGID = uid, uid
	}
	if sandboxed {
		_ = os.RemoveAll(cfg.ChrootDir)
		defer func() {
			if cerr := cfg.Cleanup(); cerr != nil && err == nil {
				err = fmt.Errorf("removing sandbox directory: %w", cerr)
			}
		}()
	} else {
		// Unsandboxed: outputs are written in place; clear stale ones.
		for _, o := range outNames {
			p := drv.Outputs[o].Path
			if ok, _ := b.st.IsValid(ctx, p); !ok {
				_ = os.RemoveAll(p)
			} else if check {
				return fmt.Errorf("checking '%s' needs the sandbox (its outputs exist in place)", n.drvPath)
			}
		}
	}

	if isBuiltin {
		err = b.runBuiltin(ctx, n, cfg, out)
	} else {
		cfg.Env, err = builderEnv(ctx, drv, string(b.st.StoreDir()), b.opts.Cores, buildDir, sandboxBuildDir, newRefGraph(b.st, closure))
		if err == nil {
			err = sandbox.Run(ctx, cfg)
		}
	}
	if err != nil {
		var bf *sandbox.BuildFailure
		if errors.As(err, &bf) {
			err = fmt.Errorf("builder for '%s' %s", n.drvPath, bf.Error())
			if b.opts.QuietBuildOutput || b.opts.MaxJobs > 1 || b.opts.Terminal {
				if t := tail.String(); t != "" {
					err = fmt.Errorf("%w;\nlast %d log lines:\n%s", err, tail.lines(), t)
				}
			}
		} else if ctx.Err() == nil {
			err = fmt.Errorf("while building '%s': %w", n.drvPath, err)
		}
		if b.opts.KeepFailed && ctx.Err() == nil {
			keepBuildDir = true
			b.ui.note(fmt.Sprintf("note: keeping build directory '%s'", buildDir))
		}
		return err
	}
	logOK = true
	err = b.finishOutputs(ctx, n, cfg, closure, check)
	if err != nil && b.opts.KeepFailed {
		keepBuildDir = true
		b.ui.note(fmt.Sprintf("note: keeping build directory '%s'", buildDir))
	}
	return err
}

// finishOutputs verifies, canonicalises, scans and registers the outputs
// (or compares them with the valid ones in check mode).
func (b *builder) finishOutputs(ctx context.Context, n *node, cfg *sandbox.Config, closure []string, check bool) error {
	drv := n.drv
	var regs []store.Output
	var mismatch error
	for _, name := range drv.OutputNames() {
		o := drv.Outputs[name]
		actual := cfg.OutputPath(o.Path)
		fi, err := os.Lstat(actual)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("builder for '%s' failed to produce output path for output '%s' at '%s'", n.drvPath, name, actual)
			}
			return fmt.Errorf("getting attributes of path '%s': %w", actual, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 && fi.Mode().Perm()&0o022 != 0 {
			return fmt.Errorf("suspicious ownership or permission on '%s' for output '%s'; rejecting this build output", actual, name)
		}
		reg := store.Output{Path: o.Path, Src: actual, Deriver: n.drvPath, Candidates: closure}
		if fx, ok, err := o.Fixed(); err != nil {
			return fmt.Errorf("derivation '%s': output '%s': %w", n.drvPath, name, err)
		} else if ok {
			got, err := contentHash(ctx, actual, fx.Method, fx.Hash.Algo)
			if err != nil {
				return err
			}
			if !got.Equal(fx.Hash) {
				mismatch = fmt.Errorf("hash mismatch in fixed-output derivation '%s':\n  specified: %s\n     got:    %s",
					n.drvPath, fx.Hash.SRI(), got.SRI())
				continue
			}
			reg.CA = storepath.ContentAddressFixed(fx.Method, got)
			reg.References = []string{}
		}
		regs = append(regs, reg)
	}
	if mismatch != nil {
		return mismatch
	}
	if check {
		return b.checkOutputs(ctx, n, regs)
	}
	if err := b.enforceOutputChecks(ctx, n, regs); err != nil {
		return err
	}
	infos, err := b.st.RegisterOutputsLocked(ctx, regs, n.outLocks)
	if err != nil {
		return fmt.Errorf("registering outputs of '%s': %w", n.drvPath, err)
	}
	for _, in := range infos {
		b.refs.add(in.Path, in.References)
	}
	return nil
}

// contentHash hashes a fixed output: the file itself (flat, which must be
// a non-executable regular file) or its NAR (recursive).
func contentHash(ctx context.Context, p string, m storepath.Method, algo hash.Algo) (hash.Hash, error) {
	if m == storepath.Recursive {
		h, _, err := nar.HashPathAlgo(ctx, algo, p, nil)
		if err != nil {
			return hash.Hash{}, fmt.Errorf("hashing '%s': %w", p, err)
		}
		return h, nil
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return hash.Hash{}, err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o100 != 0 {
		return hash.Hash{}, fmt.Errorf("output path '%s' should be a non-executable regular file since recursive hashing is not enabled (outputHashMode=flat)", p)
	}
	f, err := os.Open(p)
	if err != nil {
		return hash.Hash{}, err
	}
	defer f.Close()
	h, _, err := hash.HashReader(ctx, algo, f)
	if err != nil {
		return hash.Hash{}, fmt.Errorf("hashing '%s': %w", p, err)
	}
	return h, nil
}

// checkOutputs compares freshly built outputs with the valid ones
// (--check), naming the files that differ.
func (b *builder) checkOutputs(ctx context.Context, n *node, regs []store.Output) error {
	var register []store.Output
	for _, r := range regs {
		info, err := b.st.QueryPathInfo(ctx, r.Path)
		if err != nil {
			if errors.Is(err, store.ErrNotValid) && b.opts.Mode == Rebuild {
				register = append(register, r)
				continue
			}
			return fmt.Errorf("querying '%s': %w", r.Path, err)
		}
		got, _, err := nar.HashPath(ctx, r.Src, nil)
		if err != nil {
			return fmt.Errorf("hashing '%s': %w", r.Src, err)
		}
		if got.Equal(info.NarHash) {
			continue
		}
		diffs, derr := diffTrees(b.st.RealPath(r.Path), r.Src)
		msg := fmt.Sprintf("derivation '%s' may not be deterministic: output '%s' differs", n.drvPath, b.st.RealPath(r.Path))
		if b.opts.KeepFailed {
			dst := b.st.RealPath(r.Path) + ".check"
			_ = removeTree(dst)
			if err := os.Rename(r.Src, dst); err == nil {
				msg = fmt.Sprintf("derivation '%s' may not be deterministic: output '%s' differs from '%s'", n.drvPath, b.st.RealPath(r.Path), dst)
			}
		}
		if derr == nil && len(diffs) > 0 {
			msg += "\n  differing files:\n    " + strings.Join(diffs, "\n    ")
		}
		return errors.New(msg)
	}
	if len(register) > 0 {
		if _, err := b.st.RegisterOutputsLocked(ctx, register, n.outLocks); err != nil {
			return fmt.Errorf("registering outputs of '%s': %w", n.drvPath, err)
		}
	}
	return nil
}

// diffTrees lists the relative paths that differ between two trees (type,
// executable bit, content or symlink target); "/" for the root itself.
func diffTrees(a, bRoot string) ([]string, error) {
	type ent struct {
		kind string
		data string
	}
	collect := func(root string) (map[string]ent, error) {
		m := map[string]ent{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			rel = "/" + strings.TrimPrefix(filepath.ToSlash(rel), ".")
			rel = strings.Replace(rel, "//", "/", 1)
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			switch {
			case fi.IsDir():
				m[rel] = ent{kind: "dir"}
			case fi.Mode()&fs.ModeSymlink != 0:
				t, err := os.Readlink(p)
				if err != nil {
					return err
				}
				m[rel] = ent{kind: "symlink", data: t}
			default:
				h, _, err := hashFile(p)
				if err != nil {
					return err
				}
				kind := "file"
				if fi.Mode().Perm()&0o100 != 0 {
					kind = "exec"
				}
				m[rel] = ent{kind: kind, data: h}
			}
			return nil
		})
		return m, err
	}
	ma, err := collect(a)
	if err != nil {
		return nil, err
	}
	mb, err := collect(bRoot)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for k, va := range ma {
		seen[k] = true
		if vb, ok := mb[k]; !ok || va != vb {
			out = append(out, k)
		}
	}
	for k := range mb {
		if !seen[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out, nil
}

func hashFile(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h, n, err := hash.HashReader(context.Background(), hash.SHA256, f)
	if err != nil {
		return "", 0, err
	}
	return h.Base16(), n, nil
}

// removeTree deletes a possibly read-only tree.
func removeTree(p string) error {
	_ = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(q, 0o755)
		}
		return nil
	})
	return os.RemoveAll(p)
}

// tailBuffer keeps the last max lines written to it.
type tailBuffer struct {
	max  int
	buf  []string
	part []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	for _, c := range p {
		if c == '\n' {
			t.push(string(t.part))
			t.part = t.part[:0]
			continue
		}
		if len(t.part) < 4096 {
			t.part = append(t.part, c)
		}
	}
	return len(p), nil
}

func (t *tailBuffer) push(s string) {
	t.buf = append(t.buf, s)
	if len(t.buf) > t.max {
		t.buf = t.buf[1:]
	}
}

func (t *tailBuffer) lines() int {
	n := len(t.buf)
	if len(t.part) > 0 {
		n++
	}
	return n
}

func (t *tailBuffer) String() string {
	lines := append([]string(nil), t.buf...)
	if len(t.part) > 0 {
		lines = append(lines, string(t.part))
	}
	for i, l := range lines {
		lines[i] = "       > " + l
	}
	return strings.Join(lines, "\n")
}
