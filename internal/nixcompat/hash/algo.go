// Package hash implements Nix's typed hashes: the four algorithms Nix knows,
// their text encodings (base16, nixbase32, base64, SRI) and the parsing rules
// of Nix 2.8's Hash::parseAny family, plus the XOR fold used for store paths.
package hash

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	stdhash "hash"
)

// Algo is a hash algorithm Nix supports. The zero value means "unknown", which
// parse functions use for "take the algorithm from the string".
type Algo uint8

// The algorithms Nix 2.8 supports. Their names are the only valid spellings.
const (
	Unknown Algo = iota
	MD5
	SHA1
	SHA256
	SHA512
)

// ParseAlgo parses a lowercase algorithm name (md5, sha1, sha256, sha512).
func ParseAlgo(s string) (Algo, error) {
	switch s {
	case "md5":
		return MD5, nil
	case "sha1":
		return SHA1, nil
	case "sha256":
		return SHA256, nil
	case "sha512":
		return SHA512, nil
	}
	return Unknown, fmt.Errorf("unknown hash algorithm %q", s)
}

// String returns the Nix name of the algorithm.
func (a Algo) String() string {
	switch a {
	case MD5:
		return "md5"
	case SHA1:
		return "sha1"
	case SHA256:
		return "sha256"
	case SHA512:
		return "sha512"
	}
	return fmt.Sprintf("Algo(%d)", uint8(a))
}

// Valid reports whether a is one of the supported algorithms.
func (a Algo) Valid() bool { return a >= MD5 && a <= SHA512 }

// Size returns the digest size in bytes, or 0 for an invalid algorithm.
func (a Algo) Size() int {
	switch a {
	case MD5:
		return md5.Size
	case SHA1:
		return sha1.Size
	case SHA256:
		return sha256.Size
	case SHA512:
		return sha512.Size
	}
	return 0
}

// New returns a fresh hash.Hash for the algorithm, or nil if a is invalid.
func (a Algo) New() stdhash.Hash {
	switch a {
	case MD5:
		return md5.New()
	case SHA1:
		return sha1.New()
	case SHA256:
		return sha256.New()
	case SHA512:
		return sha512.New()
	}
	return nil
}
