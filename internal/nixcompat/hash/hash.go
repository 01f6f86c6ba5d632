package hash

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/onix-dev/onix/internal/nixcompat/nixbase32"
)

// Hash is a digest together with the algorithm that produced it.
type Hash struct {
	Algo   Algo
	Digest []byte
}

// Encoding selects a text form for a digest.
type Encoding int

// The text encodings Nix prints. SRI always carries the algorithm.
const (
	Base16 Encoding = iota
	Base32
	Base64
	SRI
)

// Sum hashes b with algo.
func Sum(algo Algo, b []byte) Hash {
	h := algo.New()
	if h == nil {
		return Hash{Algo: algo}
	}
	h.Write(b)
	return Hash{Algo: algo, Digest: h.Sum(nil)}
}

// SumString hashes s with algo.
func SumString(algo Algo, s string) Hash { return Sum(algo, []byte(s)) }

// Base16 returns the lowercase hex digest without algorithm prefix.
func (h Hash) Base16() string { return hex.EncodeToString(h.Digest) }

// Base32 returns the nixbase32 digest without algorithm prefix.
func (h Hash) Base32() string { return nixbase32.EncodeToString(h.Digest) }

// Base64 returns the standard padded base64 digest without algorithm prefix.
func (h Hash) Base64() string { return base64.StdEncoding.EncodeToString(h.Digest) }

// SRI returns "algo-base64".
func (h Hash) SRI() string { return h.Algo.String() + "-" + h.Base64() }

// Encode formats the digest in enc; includeAlgo adds "algo:" (ignored for SRI,
// which always has its "algo-" prefix). This mirrors Nix's Hash::to_string.
func (h Hash) Encode(enc Encoding, includeAlgo bool) string {
	var s string
	switch enc {
	case Base16:
		s = h.Base16()
	case Base32:
		s = h.Base32()
	case Base64:
		s = h.Base64()
	case SRI:
		return h.SRI()
	}
	if includeAlgo {
		return h.Algo.String() + ":" + s
	}
	return s
}

// String returns "algo:nixbase32", Nix's default printed form.
func (h Hash) String() string { return h.Encode(Base32, true) }

// Equal reports whether two hashes have the same algorithm and digest.
func (h Hash) Equal(o Hash) bool {
	return h.Algo == o.Algo && string(h.Digest) == string(o.Digest)
}

// IsZero reports whether h has no algorithm set.
func (h Hash) IsZero() bool { return h.Algo == Unknown && len(h.Digest) == 0 }

// splitType splits an "algo:" or SRI "algo-" prefix off s. A ':' is looked
// for before a '-', as in Nix, so "sha256:abc-def" is not treated as SRI.
func splitType(s string) (algo Algo, rest string, isSRI, found bool, err error) {
	if i := strings.IndexByte(s, ':'); i >= 0 {
		a, err := ParseAlgo(s[:i])
		return a, s[i+1:], false, true, err
	}
	if i := strings.IndexByte(s, '-'); i >= 0 {
		a, err := ParseAlgo(s[:i])
		return a, s[i+1:], true, true, err
	}
	return Unknown, s, false, false, nil
}

// ParseAny parses a hash in any form Nix accepts: "algo:digest", SRI, or a
// bare digest when algo is given. If both the string and algo name an
// algorithm they must agree. Mirrors Hash::parseAny.
func ParseAny(s string, algo Algo) (Hash, error) {
	parsed, rest, isSRI, found, err := splitType(s)
	if err != nil {
		return Hash{}, fmt.Errorf("parse hash %q: %w", s, err)
	}
	if found {
		if algo != Unknown && parsed != algo {
			return Hash{}, fmt.Errorf("parse hash %q: hash should have type %s but got %s", s, algo, parsed)
		}
		algo = parsed
	} else if !algo.Valid() {
		return Hash{}, fmt.Errorf("parse hash %q: hash does not include a type, nor is the type otherwise known from context", s)
	}
	return decode(rest, algo, isSRI)
}

// ParseAnyPrefixed parses a hash that must carry its algorithm ("algo:" or
// SRI). Mirrors Hash::parseAnyPrefixed.
func ParseAnyPrefixed(s string) (Hash, error) {
	parsed, rest, isSRI, found, err := splitType(s)
	if err != nil {
		return Hash{}, fmt.Errorf("parse hash %q: %w", s, err)
	}
	if !found {
		return Hash{}, fmt.Errorf("parse hash %q: hash does not include a type", s)
	}
	return decode(rest, parsed, isSRI)
}

// ParseSRI parses "algo-base64" only.
func ParseSRI(s string) (Hash, error) {
	i := strings.IndexByte(s, '-')
	if i < 0 {
		return Hash{}, fmt.Errorf("parse SRI hash %q: missing '-'", s)
	}
	a, err := ParseAlgo(s[:i])
	if err != nil {
		return Hash{}, fmt.Errorf("parse SRI hash %q: %w", s, err)
	}
	return decode(s[i+1:], a, true)
}

// ParseNonSRIUnprefixed parses a bare base16/nixbase32/base64 digest of algo,
// choosing the encoding by length. Mirrors Hash::parseNonSRIUnprefixed.
func ParseNonSRIUnprefixed(s string, algo Algo) (Hash, error) {
	if !algo.Valid() {
		return Hash{}, fmt.Errorf("parse hash %q: invalid algorithm", s)
	}
	return decode(s, algo, false)
}

// Base16Len, Base32Len and Base64Len give the encoded lengths for algo.
func Base16Len(algo Algo) int { return algo.Size() * 2 }

// Base32Len is the nixbase32 length of an algo digest.
func Base32Len(algo Algo) int { return nixbase32.EncodedLen(algo.Size()) }

// Base64Len is the padded base64 length of an algo digest.
func Base64Len(algo Algo) int { return base64.StdEncoding.EncodedLen(algo.Size()) }

// decode picks the encoding by length (base16, then nixbase32, then base64),
// exactly as Nix's Hash constructor does; SRI input is always base64.
func decode(rest string, algo Algo, isSRI bool) (Hash, error) {
	size := algo.Size()
	h := Hash{Algo: algo}
	var err error
	switch {
	case !isSRI && len(rest) == Base16Len(algo):
		h.Digest, err = hex.DecodeString(rest)
		if err != nil {
			return Hash{}, fmt.Errorf("invalid base-16 hash %q", rest)
		}
	case !isSRI && len(rest) == Base32Len(algo):
		h.Digest, err = nixbase32.DecodeStringLen(rest, size)
		if err != nil {
			return Hash{}, fmt.Errorf("invalid base-32 hash %q: %w", rest, err)
		}
	case isSRI || len(rest) == Base64Len(algo):
		kind := "base-64"
		if isSRI {
			kind = "SRI"
		}
		h.Digest, err = decodeBase64(rest)
		if err != nil || len(h.Digest) != size {
			return Hash{}, fmt.Errorf("invalid %s %s hash %q", kind, algo, rest)
		}
	default:
		return Hash{}, fmt.Errorf("hash %q has wrong length for hash type %q", rest, algo.String())
	}
	return h, nil
}

// decodeBase64 accepts padded or unpadded standard base64; Nix's decoder stops
// at '=' so both forms appear in the wild (e.g. hand-written SRI hashes).
func decodeBase64(s string) ([]byte, error) {
	if strings.HasSuffix(s, "=") {
		return base64.StdEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// Compress XOR-folds digest into size bytes: out[i%size] ^= in[i]. Store path
// hash parts use 20 bytes of a sha256. Mirrors Nix's compressHash.
func Compress(digest []byte, size int) []byte {
	out := make([]byte, size)
	if size == 0 {
		return out
	}
	for i, b := range digest {
		out[i%size] ^= b
	}
	return out
}

// CompressHash is Compress on a Hash, keeping its algorithm label (as Nix
// does); the result's Digest has length size.
func CompressHash(h Hash, size int) Hash {
	return Hash{Algo: h.Algo, Digest: Compress(h.Digest, size)}
}
