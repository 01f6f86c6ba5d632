package cache

import (
	"fmt"
	"os"
	"strings"

	"github.com/onix-dev/onix/internal/nixcompat/narinfo"
)

// SecretKey and PublicKey are Nix's binary-cache ed25519 keys.
type (
	SecretKey = narinfo.SecretKey
	PublicKey = narinfo.PublicKey
)

// ParseSecretKey parses the content of a secret key file.
func ParseSecretKey(s string) (SecretKey, error) { return narinfo.ParseSecretKey(s) }

// ParsePublicKey parses `NAME:base64(32 bytes)`.
func ParsePublicKey(s string) (PublicKey, error) { return narinfo.ParsePublicKey(s) }

// GenerateKey makes a new key pair (crypto/rand).
func GenerateKey(name string) (SecretKey, error) {
	if strings.ContainsAny(name, " \t\r\n") {
		return SecretKey{}, fmt.Errorf("invalid key name %q", name)
	}
	return narinfo.GenerateKey(name, nil)
}

// ReadSecretKeyFile reads and parses a secret key file.
func ReadSecretKeyFile(path string) (*SecretKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading secret key: %w", err)
	}
	k, err := narinfo.ParseSecretKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &k, nil
}

// PublicKeys is a set of trusted keys.
type PublicKeys []PublicKey

// ParsePublicKeys parses a `trusted-public-keys` list.
func ParsePublicKeys(list []string) (PublicKeys, error) {
	ks := make(PublicKeys, 0, len(list))
	for _, s := range list {
		k, err := narinfo.ParsePublicKey(s)
		if err != nil {
			return nil, fmt.Errorf("trusted-public-keys: %w", err)
		}
		ks = append(ks, k)
	}
	return ks, nil
}

// Verify reports whether sig (`NAME:base64`) is a valid signature of msg by
// a trusted key of that name.
func (ks PublicKeys) Verify(msg, sig string) bool { return narinfo.VerifyAny([]byte(msg), sig, ks) }

// VerifyAny reports whether any of sigs verifies.
func (ks PublicKeys) VerifyAny(msg string, sigs []string) bool {
	for _, s := range sigs {
		if ks.Verify(msg, s) {
			return true
		}
	}
	return false
}

// Names lists the key names, for messages.
func (ks PublicKeys) Names() []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.Name
	}
	return out
}
