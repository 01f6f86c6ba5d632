package hash

import (
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/onix-dev/onix/internal/nixcompat/internal/vectors"
)

// TestDifferentialNixHash compares flat hashes of random inputs and the
// nixbase32/base64/SRI conversions against nix-hash / nix hash.
func TestDifferentialNixHash(t *testing.T) {
	vectors.RequireNix(t, "nix-hash")
	rng := rand.New(rand.NewSource(42))
	dir := t.TempDir()
	for i := 0; i < 4; i++ {
		buf := make([]byte, rng.Intn(5000))
		rng.Read(buf)
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, algo := range []Algo{MD5, SHA1, SHA256, SHA512} {
			h := Sum(algo, buf)
			got := vectors.RunNix(t, "", "nix-hash", "--type", algo.String(), "--flat", p)
			if got != h.Base16() {
				t.Errorf("%s flat: nix %s ours %s", algo, got, h.Base16())
			}
			got = vectors.RunNix(t, "", "nix-hash", "--type", algo.String(), "--to-base32", h.Base16())
			if got != h.Base32() {
				t.Errorf("%s to-base32: nix %s ours %s", algo, got, h.Base32())
			}
			if algo == SHA256 {
				got = vectors.RunNix(t, "", "nix-hash", "--type", "sha256", "--flat", "--truncate", p)
				if want := CompressHash(h, 20).Base16(); got != want {
					t.Errorf("truncate: nix %s ours %s", got, want)
				}
				got = vectors.RunNix(t, "", "nix", "--extra-experimental-features", "nix-command", "hash", "to-sri", "--type", "sha256", h.Base32())
				if got != h.SRI() {
					t.Errorf("to-sri: nix %s ours %s", got, h.SRI())
				}
			}
		}
	}
}
