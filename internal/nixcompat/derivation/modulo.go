package derivation

import (
	"context"
	"fmt"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

// Loader returns the parsed derivation stored at drvPath (a full store
// path). hashDerivationModulo needs every input .drv.
type Loader func(ctx context.Context, drvPath string) (*Derivation, error)

// Hasher computes hashDerivationModulo with memoisation per drv path. It is
// not safe for concurrent use; create one per evaluation or build.
type Hasher struct {
	StoreDir storepath.StoreDir
	Load     Loader
	memo     map[string]memoEntry
}

type memoEntry struct {
	hash    hash.Hash
	outputs map[string]Output
}

// NewHasher returns a Hasher loading input derivations with load.
func NewHasher(sd storepath.StoreDir, load Loader) *Hasher {
	return &Hasher{StoreDir: sd, Load: load, memo: map[string]memoEntry{}}
}

// Remember seeds the memo table with drv, stored at drvPath, and its
// unmasked modulo hash (e.g. computed while instantiating it), so that
// dependents need not reload it.
func (h *Hasher) Remember(drvPath string, drv *Derivation, hdm hash.Hash) {
	h.memo[drvPath] = memoEntry{hash: hdm, outputs: drv.Outputs}
}

// PathHash returns the unmasked hashDerivationModulo of the .drv at drvPath,
// which is what dependents substitute for it.
func (h *Hasher) PathHash(ctx context.Context, drvPath string) (hash.Hash, error) {
	e, err := h.pathEntry(ctx, drvPath)
	return e.hash, err
}

func (h *Hasher) pathEntry(ctx context.Context, drvPath string) (memoEntry, error) {
	if v, ok := h.memo[drvPath]; ok {
		return v, nil
	}
	fail := func(err error) (memoEntry, error) { return memoEntry{}, err }
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if h.Load == nil {
		return fail(fmt.Errorf("hash derivation %s: no loader for input derivations", drvPath))
	}
	drv, err := h.Load(ctx, drvPath)
	if err != nil {
		return fail(fmt.Errorf("hash derivation %s: %w", drvPath, err))
	}
	v, err := h.HashModulo(ctx, drv, false)
	if err != nil {
		return fail(fmt.Errorf("hash derivation %s: %w", drvPath, err))
	}
	e := memoEntry{hash: v, outputs: drv.Outputs}
	h.memo[drvPath] = e
	return e, nil
}

// HashModulo is Nix's hashDerivationModulo. A fixed-output derivation hashes
// to sha256("fixed:out:<hashAlgo>:<hash>:<outPath>") regardless of its
// builder or inputs. Otherwise each input .drv is replaced by the base16 of
// its own (unmasked) modulo hash, inputs with equal hashes merge their
// output sets, and the ATerm (masked if mask) is hashed. All outputs share
// the result.
func (h *Hasher) HashModulo(ctx context.Context, drv *Derivation, mask bool) (hash.Hash, error) {
	if drv.IsFixedOutput() {
		o := drv.Outputs["out"]
		return hash.SumString(hash.SHA256, "fixed:out:"+o.HashAlgo+":"+o.Hash+":"+o.Path), nil
	}
	if err := checkFixedShape(drv); err != nil {
		return hash.Hash{}, err
	}
	inputs := make(map[string][]string, len(drv.InputDrvs))
	for _, p := range sortedKeys(drv.InputDrvs) {
		e, err := h.pathEntry(ctx, p)
		if err != nil {
			return hash.Hash{}, err
		}
		for _, out := range drv.InputDrvs[p] {
			if _, ok := e.outputs[out]; !ok {
				return hash.Hash{}, fmt.Errorf("input derivation %s has no output %q", p, out)
			}
		}
		k := e.hash.Base16()
		inputs[k] = append(inputs[k], drv.InputDrvs[p]...)
	}
	return hash.Sum(hash.SHA256, drv.unparse(mask, inputs)), nil
}

// checkFixedShape rejects derivations mixing fixed outputs with others,
// which Nix 2.8 refuses ("only one fixed output is allowed").
func checkFixedShape(drv *Derivation) error {
	for id, o := range drv.Outputs {
		_, fixed, err := o.Fixed()
		if err != nil {
			return fmt.Errorf("output %q: %w", id, err)
		}
		if fixed {
			if len(drv.Outputs) > 1 {
				return fmt.Errorf("only one fixed output is allowed, derivation has %d outputs", len(drv.Outputs))
			}
			return fmt.Errorf("single fixed output must be named \"out\", not %q", id)
		}
	}
	return nil
}

// OutputPaths computes the output paths of drv (spec §3.5): for a
// fixed-output derivation the fixed path; otherwise "output:<id>" paths over
// the masked modulo hash.
func (h *Hasher) OutputPaths(ctx context.Context, drv *Derivation) (map[string]string, error) {
	out := make(map[string]string, len(drv.Outputs))
	if drv.IsFixedOutput() {
		f, _, _ := drv.Outputs["out"].Fixed()
		sp, err := h.StoreDir.MakeFixedOutputPath(drv.Name, f.Method, f.Hash, nil, false)
		if err != nil {
			return nil, err
		}
		out["out"] = h.StoreDir.Path(sp)
		return out, nil
	}
	masked, err := h.HashModulo(ctx, drv, true)
	if err != nil {
		return nil, err
	}
	for id := range drv.Outputs {
		sp, err := h.StoreDir.MakeOutputPath(masked, id, drv.Name)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", id, err)
		}
		out[id] = h.StoreDir.Path(sp)
	}
	return out, nil
}

// FillOutputPaths computes the output paths and writes them into both the
// outputs and the env, as builtins.derivation does before writing the .drv.
func (h *Hasher) FillOutputPaths(ctx context.Context, drv *Derivation) error {
	paths, err := h.OutputPaths(ctx, drv)
	if err != nil {
		return err
	}
	for id, p := range paths {
		o := drv.Outputs[id]
		o.Path = p
		drv.Outputs[id] = o
		drv.Env[id] = p
	}
	return nil
}
