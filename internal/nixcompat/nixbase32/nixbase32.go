// Package nixbase32 implements Nix's base-32 encoding.
//
// Nix's base32 is not RFC 4648: it uses the alphabet
// "0123456789abcdfghijklmnpqrsvwxyz" (digits plus lowercase letters without
// e, o, u and t, so that encoded hashes cannot spell most words), and it treats
// the input as one little-endian integer printed most significant 5-bit group
// first. Store path hash parts and many typed hash strings use it.
package nixbase32

import (
	"fmt"
)

// Alphabet is the Nix base-32 digit set; the index of a character is its value.
const Alphabet = "0123456789abcdfghijklmnpqrsvwxyz"

// decodeTable maps a byte to its digit value, or 0xff when it is not a digit.
// It is a constant-valued array built once; never mutated after init.
var decodeTable = func() [256]byte {
	var t [256]byte
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(Alphabet); i++ {
		t[Alphabet[i]] = byte(i)
	}
	return t
}()

// EncodedLen returns the length of the encoding of n bytes: ceil(8n/5).
func EncodedLen(n int) int {
	if n == 0 {
		return 0
	}
	return (n*8-1)/5 + 1
}

// DecodedLen returns the number of bytes an encoding of length n decodes to.
// It is the inverse of EncodedLen for lengths EncodedLen can produce.
func DecodedLen(n int) int {
	return n * 5 / 8
}

// IsValidChar reports whether c is a nixbase32 digit.
func IsValidChar(c byte) bool { return decodeTable[c] != 0xff }

// EncodeToString encodes src the way Nix's printHash32 does.
func EncodeToString(src []byte) string {
	n := EncodedLen(len(src))
	out := make([]byte, n)
	for k := 0; k < n; k++ {
		b := uint(5 * (n - 1 - k))
		i, j := b/8, b%8
		v := src[i] >> j
		if int(i)+1 < len(src) {
			v |= src[i+1] << (8 - j)
		}
		out[k] = Alphabet[v&31]
	}
	return string(out)
}

// DecodeString decodes s strictly: every character must be in the alphabet,
// and bits beyond the decoded length must be zero (as Nix requires), so every
// byte string has exactly one accepted encoding.
func DecodeString(s string) ([]byte, error) {
	out := make([]byte, DecodedLen(len(s)))
	if err := decodeInto(out, s); err != nil {
		return nil, err
	}
	return out, nil
}

// DecodeStringLen decodes s, which must encode exactly size bytes.
func DecodeStringLen(s string, size int) ([]byte, error) {
	if len(s) != EncodedLen(size) {
		return nil, fmt.Errorf("nixbase32: length %d, want %d for %d bytes", len(s), EncodedLen(size), size)
	}
	out := make([]byte, size)
	if err := decodeInto(out, s); err != nil {
		return nil, err
	}
	return out, nil
}

func decodeInto(out []byte, s string) error {
	n := len(s)
	for pos := 0; pos < n; pos++ {
		c := s[n-1-pos]
		d := decodeTable[c]
		if d == 0xff {
			return fmt.Errorf("nixbase32: invalid character %q at offset %d", c, n-1-pos)
		}
		b := uint(pos * 5)
		i, j := int(b/8), b%8
		if i >= len(out) {
			if d != 0 {
				return fmt.Errorf("nixbase32: non-zero padding bits in %q", s)
			}
			continue
		}
		out[i] |= d << j
		carry := d >> (8 - j)
		if j > 3 && carry != 0 {
			if i+1 >= len(out) {
				return fmt.Errorf("nixbase32: non-zero padding bits in %q", s)
			}
			out[i+1] |= carry
		}
	}
	return nil
}
