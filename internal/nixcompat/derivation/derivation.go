// Package derivation reads, writes and hashes Nix .drv files (ATerm), and
// builds derivations the way builtins.derivationStrict does in Nix 2.8.
package derivation

import (
	"fmt"
	"sort"
	"strings"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

// Output is one derivation output as stored in the ATerm. For an
// input-addressed output HashAlgo and Hash are empty; for a fixed-output one
// HashAlgo is "[r:]algo" and Hash is the bare base16 digest.
type Output struct {
	Path     string
	HashAlgo string
	Hash     string
}

// Derivation is the content of a .drv file. Name is not part of the ATerm;
// Nix derives it from the .drv file name and it enters output path and drv
// path computations.
type Derivation struct {
	Name      string
	Outputs   map[string]Output
	InputDrvs map[string][]string // drv path -> wanted output names
	InputSrcs []string
	Platform  string
	Builder   string
	Args      []string
	Env       map[string]string
}

// FixedOutput is the parsed hashAlgo/hash of a fixed output.
type FixedOutput struct {
	Method storepath.Method
	Hash   hash.Hash
}

// ParseHashAlgo splits a .drv hashAlgo field like "r:sha256".
func ParseHashAlgo(s string) (storepath.Method, hash.Algo, error) {
	m := storepath.Flat
	if rest, ok := strings.CutPrefix(s, "r:"); ok {
		m, s = storepath.Recursive, rest
	}
	a, err := hash.ParseAlgo(s)
	return m, a, err
}

// Fixed returns the fixed-output hash of o, or ok=false when o is not a
// fixed output (input-addressed, floating or impure).
func (o Output) Fixed() (FixedOutput, bool, error) {
	if o.HashAlgo == "" || o.Hash == "" || o.Hash == "impure" {
		return FixedOutput{}, false, nil
	}
	m, a, err := ParseHashAlgo(o.HashAlgo)
	if err != nil {
		return FixedOutput{}, false, err
	}
	h, err := hash.ParseNonSRIUnprefixed(o.Hash, a)
	if err != nil {
		return FixedOutput{}, false, err
	}
	return FixedOutput{Method: m, Hash: h}, true, nil
}

// IsFixedOutput reports whether d is a fixed-output derivation: exactly one
// output, named "out", with a fixed hash.
func (d *Derivation) IsFixedOutput() bool {
	if len(d.Outputs) != 1 {
		return false
	}
	o, ok := d.Outputs["out"]
	if !ok {
		return false
	}
	_, fixed, err := o.Fixed()
	return fixed && err == nil
}

// OutputNames returns the output ids sorted.
func (d *Derivation) OutputNames() []string {
	names := make([]string, 0, len(d.Outputs))
	for k := range d.Outputs {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// References returns the .drv file's references: inputSrcs ∪ inputDrvs as
// a sorted set (a .drv can appear in both; vector 13).
func (d *Derivation) References() []string {
	refs := append([]string(nil), d.InputSrcs...)
	for p := range d.InputDrvs {
		refs = append(refs, p)
	}
	return storepath.SortedRefs(refs)
}

// DrvPath computes the store path of the .drv file: a text path named
// "<name>.drv" over the ATerm bytes, referencing References().
func (d *Derivation) DrvPath(sd storepath.StoreDir) (storepath.StorePath, error) {
	if d.Name == "" {
		return storepath.StorePath{}, fmt.Errorf("derivation has no name")
	}
	aterm := d.ATerm()
	sp, err := sd.MakeTextPath(d.Name+".drv", hash.Sum(hash.SHA256, aterm), d.References())
	if err != nil {
		return storepath.StorePath{}, fmt.Errorf("derivation %s: %w", d.Name, err)
	}
	return sp, nil
}

// Clone returns a deep copy, so callers can mask or fill outputs safely.
func (d *Derivation) Clone() *Derivation {
	c := *d
	c.Outputs = make(map[string]Output, len(d.Outputs))
	for k, v := range d.Outputs {
		c.Outputs[k] = v
	}
	c.InputDrvs = make(map[string][]string, len(d.InputDrvs))
	for k, v := range d.InputDrvs {
		c.InputDrvs[k] = append([]string(nil), v...)
	}
	c.InputSrcs = append([]string(nil), d.InputSrcs...)
	c.Args = append([]string(nil), d.Args...)
	c.Env = make(map[string]string, len(d.Env))
	for k, v := range d.Env {
		c.Env[k] = v
	}
	return &c
}
