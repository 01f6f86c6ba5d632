package derivation

import (
	"context"
	"fmt"
	"strings"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

// Spec is what builtins.derivationStrict has gathered from the attribute
// set, already coerced to plain strings by the evaluator (spec §3.6–3.7).
// It carries no evaluator types so this package stays evaluation-agnostic.
type Spec struct {
	Name    string
	System  string // the "system" attribute, becomes the platform
	Builder string
	Args    []string
	// Outputs in the order given (the env keeps that order in "outputs",
	// which the evaluator puts into Env itself). Nil means ["out"].
	Outputs []string
	// Env is the complete environment before output paths are filled in:
	// in ordinary mode every attribute (except args, __ignoreNulls and the
	// CA flags) coerced to a string; in structured-attrs mode just
	// {"__json": <compact sorted JSON>}. Output variables are added here.
	Env map[string]string
	// Fixed-output settings. OutputHash is considered only if HasOutputHash
	// (an explicit empty string means the all-zero hash, as in Nix).
	HasOutputHash  bool
	OutputHash     string
	OutputHashAlgo string // "" when absent
	OutputHashMode string // "", "flat" or "recursive"
	// Context-derived inputs.
	InputSrcs []string
	InputDrvs map[string][]string // drv path -> outputs
}

// Result is an instantiated derivation.
type Result struct {
	Drv     *Derivation
	DrvPath string            // full store path of the .drv
	Outputs map[string]string // output id -> full output path
	// Warning is non-empty when Nix would warn (empty outputHash).
	Warning string
}

// Build constructs the .drv for spec exactly as Nix 2.8's derivationStrict:
// it validates the name and outputs, resolves fixed-output hashes, computes
// output paths (via h for input derivations), fills them into outputs and
// env, and computes the drv path. It also records the new derivation in h
// so later dependents need not load it.
func Build(ctx context.Context, h *Hasher, spec Spec) (*Result, error) {
	fail := func(format string, args ...any) (*Result, error) {
		return nil, fmt.Errorf("derivation %q: %s", spec.Name, fmt.Sprintf(format, args...))
	}
	if spec.Name == "" {
		return fail("required attribute 'name' missing")
	}
	if strings.HasSuffix(spec.Name, ".drv") {
		return fail("derivation names are not allowed to end in '.drv'")
	}
	if err := storepath.ValidateName(spec.Name); err != nil {
		return fail("%v", err)
	}
	if spec.Builder == "" {
		return fail("required attribute 'builder' missing")
	}
	if spec.System == "" {
		return fail("required attribute 'system' missing")
	}
	outputs := spec.Outputs
	if outputs == nil {
		outputs = []string{"out"}
	}
	if len(outputs) == 0 {
		return fail("derivation cannot have an empty set of outputs")
	}
	seen := map[string]bool{}
	for _, o := range outputs {
		if seen[o] {
			return fail("duplicate derivation output '%s'", o)
		}
		if o == "drv" {
			return fail("invalid derivation output name 'drv'")
		}
		seen[o] = true
	}
	d := &Derivation{
		Name:      spec.Name,
		Outputs:   map[string]Output{},
		InputDrvs: map[string][]string{},
		InputSrcs: storepath.SortedRefs(spec.InputSrcs),
		Platform:  spec.System,
		Builder:   spec.Builder,
		Args:      append([]string{}, spec.Args...),
		Env:       make(map[string]string, len(spec.Env)+len(outputs)),
	}
	for k, v := range spec.Env {
		d.Env[k] = v
	}
	for p, outs := range spec.InputDrvs {
		d.InputDrvs[p] = sortedSet(append(d.InputDrvs[p], outs...))
	}
	res := &Result{Drv: d, Outputs: map[string]string{}}
	sd := h.StoreDir
	if spec.HasOutputHash {
		if len(outputs) != 1 || outputs[0] != "out" {
			return fail("multiple outputs are not supported in fixed-output derivations")
		}
		method := storepath.Flat
		switch spec.OutputHashMode {
		case "", "flat":
		case "recursive":
			method = storepath.Recursive
		default:
			return fail("invalid value '%s' for 'outputHashMode' attribute", spec.OutputHashMode)
		}
		// Like parseHashTypeOpt, an unknown or empty algo means "unknown".
		algo, _ := hash.ParseAlgo(spec.OutputHashAlgo)
		var oh hash.Hash
		if spec.OutputHash == "" {
			if !algo.Valid() {
				return fail("empty hash requires explicit hash type")
			}
			oh = hash.Hash{Algo: algo, Digest: make([]byte, algo.Size())}
			res.Warning = fmt.Sprintf("found empty hash, assuming '%s'", oh.SRI())
		} else {
			var err error
			if oh, err = hash.ParseAny(spec.OutputHash, algo); err != nil {
				return fail("%v", err)
			}
		}
		sp, err := sd.MakeFixedOutputPath(spec.Name, method, oh, nil, false)
		if err != nil {
			return fail("%v", err)
		}
		p := sd.Path(sp)
		d.Env["out"] = p
		d.Outputs["out"] = Output{Path: p, HashAlgo: method.Prefix() + oh.Algo.String(), Hash: oh.Base16()}
	} else {
		for _, o := range outputs {
			d.Env[o] = ""
			d.Outputs[o] = Output{}
		}
		if err := h.FillOutputPaths(ctx, d); err != nil {
			return fail("%v", err)
		}
	}
	for id, o := range d.Outputs {
		res.Outputs[id] = o.Path
	}
	sp, err := d.DrvPath(sd)
	if err != nil {
		return nil, err
	}
	res.DrvPath = sd.Path(sp)
	unmasked, err := h.HashModulo(ctx, d, false)
	if err != nil {
		return fail("%v", err)
	}
	h.Remember(res.DrvPath, d, unmasked)
	return res, nil
}
