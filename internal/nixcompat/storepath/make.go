package storepath

import (
	"fmt"
	"sort"
	"strings"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/nixbase32"
)

// Method is how file content was ingested to compute a fixed-output hash.
type Method int

// Flat hashes the file bytes; Recursive hashes the NAR serialisation.
const (
	Flat Method = iota
	Recursive
)

// Prefix returns "r:" for Recursive and "" for Flat, as in Nix's
// makeFileIngestionPrefix; it appears in CA strings and .drv hashAlgo.
func (m Method) Prefix() string {
	if m == Recursive {
		return "r:"
	}
	return ""
}

// String returns "flat" or "recursive" (the outputHashMode spelling).
func (m Method) String() string {
	if m == Recursive {
		return "recursive"
	}
	return "flat"
}

// Fingerprint returns the string whose sha256 determines a store path:
// "<type>:sha256:<hex inner>:<storeDir>:<name>".
func (d StoreDir) Fingerprint(typ string, inner hash.Hash, name string) string {
	return typ + ":" + inner.Encode(hash.Base16, true) + ":" + string(d) + ":" + name
}

// MakeStorePath is Nix's one hashing rule: the path hash is the 20-byte XOR
// fold of sha256(fingerprint), printed in nixbase32. inner must be sha256.
func (d StoreDir) MakeStorePath(typ string, inner hash.Hash, name string) (StorePath, error) {
	if inner.Algo != hash.SHA256 {
		return StorePath{}, fmt.Errorf("make store path %q: inner hash must be sha256, got %s", name, inner.Algo)
	}
	if err := ValidateName(name); err != nil {
		return StorePath{}, fmt.Errorf("make store path: %w", err)
	}
	fp := hash.SumString(hash.SHA256, d.Fingerprint(typ, inner, name))
	return StorePath{HashPart: nixbase32.EncodeToString(hash.Compress(fp.Digest, HashSize)), Name: name}, nil
}

// SortedRefs returns refs sorted and deduplicated; Nix treats references as
// a set, so duplicates must not change the fingerprint (vector 13).
func SortedRefs(refs []string) []string {
	out := append([]string(nil), refs...)
	sort.Strings(out)
	w := 0
	for i, r := range out {
		if i > 0 && r == out[w-1] {
			continue
		}
		out[w] = r
		w++
	}
	return out[:w]
}

// MakeType builds a path type with references: type, then ":<ref>" for each
// reference in sorted order, then ":self" for a self reference.
func MakeType(typ string, refs []string, selfRef bool) string {
	var b strings.Builder
	b.WriteString(typ)
	for _, r := range SortedRefs(refs) {
		b.WriteByte(':')
		b.WriteString(r)
	}
	if selfRef {
		b.WriteString(":self")
	}
	return b.String()
}

// MakeTextPath computes the path of a text object (builtins.toFile, .drv
// files). contentHash is sha256 of the contents; refs are full store paths.
func (d StoreDir) MakeTextPath(name string, contentHash hash.Hash, refs []string) (StorePath, error) {
	if contentHash.Algo != hash.SHA256 {
		return StorePath{}, fmt.Errorf("make text path %q: hash must be sha256, got %s", name, contentHash.Algo)
	}
	return d.MakeStorePath(MakeType("text", refs, false), contentHash, name)
}

// MakeFixedOutputPath computes a content-addressed path. Recursive sha256 is
// a "source" path (which may carry references and a self reference); every
// other combination goes through "output:out" with the inner string
// "fixed:out:[r:]algo:hex:" and must not have references.
func (d StoreDir) MakeFixedOutputPath(name string, method Method, h hash.Hash, refs []string, selfRef bool) (StorePath, error) {
	if method == Recursive && h.Algo == hash.SHA256 {
		return d.MakeStorePath(MakeType("source", refs, selfRef), h, name)
	}
	if len(refs) > 0 || selfRef {
		return StorePath{}, fmt.Errorf("make fixed-output path %q: only recursive sha256 paths may have references", name)
	}
	if !h.Algo.Valid() || len(h.Digest) != h.Algo.Size() {
		return StorePath{}, fmt.Errorf("make fixed-output path %q: invalid hash", name)
	}
	inner := hash.SumString(hash.SHA256, "fixed:out:"+method.Prefix()+h.Encode(hash.Base16, true)+":")
	return d.MakeStorePath("output:out", inner, name)
}

// MakeSourcePath is the path of `nix-store --add`: recursive sha256 of the NAR.
func (d StoreDir) MakeSourcePath(name string, narHash hash.Hash, refs []string, selfRef bool) (StorePath, error) {
	return d.MakeFixedOutputPath(name, Recursive, narHash, refs, selfRef)
}

// OutputPathName is drvName for output "out" and drvName-<output> otherwise.
func OutputPathName(drvName, outputName string) string {
	if outputName == "out" {
		return drvName
	}
	return drvName + "-" + outputName
}

// MakeOutputPath computes an input-addressed derivation output path from the
// (masked) hashDerivationModulo of the derivation.
func (d StoreDir) MakeOutputPath(drvHashModulo hash.Hash, outputName, drvName string) (StorePath, error) {
	return d.MakeStorePath("output:"+outputName, drvHashModulo, OutputPathName(drvName, outputName))
}

// ContentAddress formats the CA field for a fixed-output path:
// "fixed:[r:]algo:<nixbase32>".
func ContentAddressFixed(method Method, h hash.Hash) string {
	return "fixed:" + method.Prefix() + h.Encode(hash.Base32, true)
}

// ContentAddressText formats the CA field for a text path: "text:sha256:<nixbase32>".
func ContentAddressText(h hash.Hash) string { return "text:" + h.Encode(hash.Base32, true) }

// ContentAddress is a parsed CA string.
type ContentAddress struct {
	Text   bool   // "text:" rather than "fixed:"
	Method Method // for fixed
	Hash   hash.Hash
}

// String formats the content address as Nix writes it.
func (c ContentAddress) String() string {
	if c.Text {
		return ContentAddressText(c.Hash)
	}
	return ContentAddressFixed(c.Method, c.Hash)
}

// ParseContentAddress parses "text:sha256:..." or "fixed:[r:]algo:...".
func ParseContentAddress(s string) (ContentAddress, error) {
	var ca ContentAddress
	rest := s
	switch {
	case strings.HasPrefix(rest, "text:"):
		ca.Text = true
		rest = rest[len("text:"):]
	case strings.HasPrefix(rest, "fixed:"):
		rest = rest[len("fixed:"):]
		if strings.HasPrefix(rest, "r:") {
			ca.Method = Recursive
			rest = rest[2:]
		}
	default:
		return ContentAddress{}, fmt.Errorf("parse content address %q: unknown prefix", s)
	}
	h, err := hash.ParseAnyPrefixed(rest)
	if err != nil {
		return ContentAddress{}, fmt.Errorf("parse content address %q: %w", s, err)
	}
	if ca.Text && h.Algo != hash.SHA256 {
		return ContentAddress{}, fmt.Errorf("parse content address %q: text hashes must be sha256", s)
	}
	ca.Hash = h
	return ca, nil
}

// MakeContentAddressedPath computes the store path for a CA, with refs.
func (d StoreDir) MakeContentAddressedPath(name string, ca ContentAddress, refs []string, selfRef bool) (StorePath, error) {
	if ca.Text {
		if selfRef {
			return StorePath{}, fmt.Errorf("make text path %q: text paths cannot refer to themselves", name)
		}
		return d.MakeTextPath(name, ca.Hash, refs)
	}
	return d.MakeFixedOutputPath(name, ca.Method, ca.Hash, refs, selfRef)
}
