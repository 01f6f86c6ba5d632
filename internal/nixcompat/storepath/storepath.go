// Package storepath parses, validates and computes Nix store paths.
//
// A store path is <storeDir>/<hash32>-<name>. The store directory is part of
// every path hash, so it is passed around as a StoreDir value (never a global)
// and all path computations are methods on it.
package storepath

import (
	"fmt"
	"path"
	"strings"

	"github.com/onix-dev/onix/internal/nixcompat/nixbase32"
)

const (
	// HashLen is the length of the nixbase32 hash part (20 bytes encoded).
	HashLen = 32
	// HashSize is the number of digest bytes in the hash part.
	HashSize = 20
	// MaxNameLen is Nix's limit on the name part (StorePath::MaxPathLen).
	MaxNameLen = 211
)

// StoreDir is the logical store directory, e.g. "/nix/store".
type StoreDir string

// DefaultStoreDir is Nix's default store directory.
const DefaultStoreDir StoreDir = "/nix/store"

// StorePath is a parsed store path basename: hash part plus name.
type StorePath struct {
	HashPart string // 32 nixbase32 characters
	Name     string
}

// String returns the basename "<hash>-<name>".
func (p StorePath) String() string { return p.HashPart + "-" + p.Name }

// IsDerivation reports whether the name ends in ".drv".
func (p StorePath) IsDerivation() bool { return strings.HasSuffix(p.Name, ".drv") }

// Digest decodes the hash part into its 20 bytes.
func (p StorePath) Digest() ([]byte, error) {
	return nixbase32.DecodeStringLen(p.HashPart, HashSize)
}

// ValidateName checks a store path name: 1..211 characters from
// [A-Za-z0-9+-._?=], as Nix 2.8's checkName.
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("store path name is empty")
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("store path name %q is longer than %d characters", name, MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		if !validNameChar(name[i]) {
			return fmt.Errorf("store path name %q contains illegal character %q", name, name[i])
		}
	}
	return nil
}

func validNameChar(c byte) bool {
	switch {
	case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		return true
	}
	switch c {
	case '+', '-', '.', '_', '?', '=':
		return true
	}
	return false
}

// ValidateHashPart checks a 32-character nixbase32 hash part.
func ValidateHashPart(h string) error {
	if len(h) != HashLen {
		return fmt.Errorf("store path hash %q has length %d, want %d", h, len(h), HashLen)
	}
	for i := 0; i < len(h); i++ {
		if !nixbase32.IsValidChar(h[i]) {
			return fmt.Errorf("store path hash %q contains illegal character %q", h, h[i])
		}
	}
	return nil
}

// ParseBaseName parses "<hash32>-<name>".
func ParseBaseName(base string) (StorePath, error) {
	if len(base) < HashLen+2 || base[HashLen] != '-' {
		return StorePath{}, fmt.Errorf("%q is not a valid store path basename", base)
	}
	sp := StorePath{HashPart: base[:HashLen], Name: base[HashLen+1:]}
	if err := ValidateHashPart(sp.HashPart); err != nil {
		return StorePath{}, fmt.Errorf("store path %q: %w", base, err)
	}
	if err := ValidateName(sp.Name); err != nil {
		return StorePath{}, fmt.Errorf("store path %q: %w", base, err)
	}
	return sp, nil
}

// Path returns the full path of sp in d.
func (d StoreDir) Path(sp StorePath) string { return string(d) + "/" + sp.String() }

// Parse parses a full store path directly inside d. Like Nix it canonicalises
// the path first (so "/nix/store//x-y/" is accepted) and then requires that
// its parent is exactly the store dir.
func (d StoreDir) Parse(p string) (StorePath, error) {
	if !strings.HasPrefix(p, "/") {
		return StorePath{}, fmt.Errorf("path %q is not absolute", p)
	}
	c := path.Clean(p)
	if path.Dir(c) != string(d) {
		return StorePath{}, fmt.Errorf("path %q is not in the Nix store %s", p, d)
	}
	return ParseBaseName(path.Base(c))
}

// IsStorePath reports whether p parses as a store path in d.
func (d StoreDir) IsStorePath(p string) bool {
	_, err := d.Parse(p)
	return err == nil
}

// SplitPath splits a path inside the store, such as
// /nix/store/<h>-foo/bin/foo, into the store path and the remainder ("/bin/foo").
func (d StoreDir) SplitPath(p string) (StorePath, string, error) {
	c := path.Clean(p)
	prefix := string(d) + "/"
	if !strings.HasPrefix(c, prefix) {
		return StorePath{}, "", fmt.Errorf("path %q is not in the Nix store %s", p, d)
	}
	rest := c[len(prefix):]
	base, tail := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		base, tail = rest[:i], rest[i:]
	}
	sp, err := ParseBaseName(base)
	if err != nil {
		return StorePath{}, "", err
	}
	return sp, tail, nil
}
