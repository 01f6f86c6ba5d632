package narinfo

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
)

// SecretKey is a Nix signing key: "<name>:<base64 of 64-byte ed25519 key>"
// (libsodium layout: seed then public key, the same as Go's PrivateKey).
type SecretKey struct {
	Name string
	Key  ed25519.PrivateKey
}

// PublicKey is "<name>:<base64 of 32-byte ed25519 public key>".
type PublicKey struct {
	Name string
	Key  ed25519.PublicKey
}

func splitKey(s, what string, size int) (string, []byte, error) {
	s = strings.TrimSpace(s)
	name, b64, ok := strings.Cut(s, ":")
	if !ok || name == "" {
		return "", nil, fmt.Errorf("%s key is corrupt: missing name", what)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", nil, fmt.Errorf("%s key %q is corrupt: %w", what, name, err)
	}
	if len(raw) != size {
		return "", nil, fmt.Errorf("%s key %q is corrupt: %d bytes, want %d", what, name, len(raw), size)
	}
	return name, raw, nil
}

// ParseSecretKey parses a secret key file's contents.
func ParseSecretKey(s string) (SecretKey, error) {
	name, raw, err := splitKey(s, "secret", ed25519.PrivateKeySize)
	if err != nil {
		return SecretKey{}, err
	}
	return SecretKey{Name: name, Key: ed25519.PrivateKey(raw)}, nil
}

// ParsePublicKey parses a public key (as in trusted-public-keys).
func ParsePublicKey(s string) (PublicKey, error) {
	name, raw, err := splitKey(s, "public", ed25519.PublicKeySize)
	if err != nil {
		return PublicKey{}, err
	}
	return PublicKey{Name: name, Key: ed25519.PublicKey(raw)}, nil
}

// ParsePublicKeys parses a whitespace-separated trusted-public-keys list.
func ParsePublicKeys(s string) ([]PublicKey, error) {
	var out []PublicKey
	for _, f := range strings.Fields(s) {
		k, err := ParsePublicKey(f)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// String renders the key file contents (no trailing newline, as Nix writes).
func (k SecretKey) String() string {
	return k.Name + ":" + base64.StdEncoding.EncodeToString(k.Key)
}

// String renders the public key.
func (k PublicKey) String() string {
	return k.Name + ":" + base64.StdEncoding.EncodeToString(k.Key)
}

// Public returns the matching public key.
func (k SecretKey) Public() PublicKey {
	return PublicKey{Name: k.Name, Key: k.Key.Public().(ed25519.PublicKey)}
}

// Sign returns "<name>:<base64 signature>" over msg.
func (k SecretKey) Sign(msg []byte) string {
	return k.Name + ":" + base64.StdEncoding.EncodeToString(ed25519.Sign(k.Key, msg))
}

// GenerateKey creates a key pair like nix-store --generate-binary-cache-key.
func GenerateKey(name string, rand io.Reader) (SecretKey, error) {
	if name == "" || strings.Contains(name, ":") {
		return SecretKey{}, fmt.Errorf("generate key: invalid key name %q", name)
	}
	_, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return SecretKey{}, fmt.Errorf("generate key %s: %w", name, err)
	}
	return SecretKey{Name: name, Key: priv}, nil
}

// Verify checks one "<name>:<base64>" signature against k.
func (k PublicKey) Verify(msg []byte, sig string) bool {
	name, b64, ok := strings.Cut(sig, ":")
	if !ok || name != k.Name {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(k.Key, msg, raw)
}

// VerifyAny reports whether sig verifies under any key with its name.
func VerifyAny(msg []byte, sig string, keys []PublicKey) bool {
	for _, k := range keys {
		if k.Verify(msg, sig) {
			return true
		}
	}
	return false
}
