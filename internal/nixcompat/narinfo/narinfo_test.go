package narinfo

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/internal/vectors"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

func TestVectorNarinfos(t *testing.T) {
	dir := filepath.Join(vectors.Dir(t), "binary-cache")
	sd := storepath.DefaultStoreDir
	sk, err := ParseSecretKey(string(vectors.Read(t, "binary-cache/keys/secret.key")))
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ParsePublicKey(string(vectors.Read(t, "binary-cache/keys/public.key")))
	if err != nil {
		t.Fatal(err)
	}
	if sk.Public().String() != pk.String() || sk.String() != string(vectors.Read(t, "binary-cache/keys/secret.key")) {
		t.Fatal("key round trip / public derivation mismatch")
	}
	fps := map[string]string{}
	for _, line := range strings.Split(string(vectors.Read(t, "binary-cache/fingerprints.derived.txt")), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok && !strings.HasPrefix(line, "#") {
			fps[k] = v
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "cache-*", "*.narinfo"))
	if len(files) != 18 {
		t.Fatalf("found %d narinfos, want 18", len(files))
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		ni, err := Parse(sd, f, data)
		if err != nil {
			t.Fatal(err)
		}
		if got := ni.String(); got != string(data) {
			t.Errorf("%s: round trip differs:\n%s\nwant\n%s", f, got, data)
		}
		fp, err := ni.Fingerprint(sd)
		if err != nil || fp != fps[filepath.Base(f)] {
			t.Errorf("%s: fingerprint %q (%v), want %q", f, fp, err, fps[filepath.Base(f)])
		}
		if n, err := ni.Verify(sd, []PublicKey{pk}); err != nil || n != 1 {
			t.Errorf("%s: %d signatures verified (%v)", f, n, err)
		}
		old := append([]string(nil), ni.Sigs...)
		if err := ni.Sign(sd, sk); err != nil || strings.Join(ni.Sigs, ",") != strings.Join(old, ",") {
			t.Errorf("%s: re-signing gave %v, want %v", f, ni.Sigs, old)
		}
		// The referenced NAR file hashes to FileHash (and, uncompressed, NarHash).
		nar, err := os.ReadFile(filepath.Join(filepath.Dir(f), ni.URL))
		if err != nil {
			t.Fatal(err)
		}
		if !hash.Sum(hash.SHA256, nar).Equal(ni.FileHash) || uint64(len(nar)) != ni.FileSize {
			t.Errorf("%s: NAR file hash/size mismatch", f)
		}
		if ni.Compression == "none" && !ni.NarHash.Equal(ni.FileHash) {
			t.Errorf("%s: uncompressed NarHash != FileHash", f)
		}
	}
	// A tampered fingerprint must not verify.
	if pk.Verify([]byte("1;/nix/store/x;sha256:0;1;"), sk.Sign([]byte("other"))) {
		t.Fatal("verified a signature over a different message")
	}
}

func TestParseErrors(t *testing.T) {
	good := "StorePath: /nix/store/m39rb289f2i56rjm2iak0i79421xiwp5-with-inputs\nURL: nar/x.nar\nNarHash: sha256:0sri2akkqhd6kkhb8qkj2vkr1827l0gk8hbaclksbg2qb70njvcf\nNarSize: 176\nReferences: \n"
	ni, err := Parse(storepath.DefaultStoreDir, "good", []byte(good+"Deriver: unknown-deriver\nUnknown: x\n"))
	if err != nil || ni.Compression != "bzip2" || ni.Deriver != "" {
		t.Fatalf("good: %+v %v", ni, err)
	}
	tests := map[string]string{
		"no newline":   strings.TrimSuffix(good, "\n"),
		"no storepath": strings.Replace(good, "StorePath: /nix/store/m39rb289f2i56rjm2iak0i79421xiwp5-with-inputs\n", "", 1),
		"zero size":    strings.Replace(good, "NarSize: 176", "NarSize: 0", 1),
		"bad size":     strings.Replace(good, "NarSize: 176", "NarSize: x", 1),
		"unprefixed":   strings.Replace(good, "sha256:0sri", "0sri", 1),
		"bad ref":      strings.Replace(good, "References: ", "References: foo", 1),
		"dup refs":     good + "References: \n",
		"no colon":     good + "garbage\n",
		"bad ca":       good + "CA: fixed:what\n",
	}
	for name, in := range tests {
		if _, err := Parse(storepath.DefaultStoreDir, name, []byte(in)); err == nil || !strings.Contains(err.Error(), "is corrupt") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestKeys(t *testing.T) {
	sk, err := GenerateKey("k1", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseSecretKey(sk.String())
	if err != nil || back.String() != sk.String() {
		t.Fatal(err)
	}
	sig := sk.Sign([]byte("msg"))
	if !strings.HasPrefix(sig, "k1:") || !VerifyAny([]byte("msg"), sig, []PublicKey{sk.Public()}) {
		t.Fatal("sign/verify")
	}
	other, _ := GenerateKey("k1", rand.Reader)
	if VerifyAny([]byte("msg"), sig, []PublicKey{other.Public()}) {
		t.Fatal("verified with wrong key")
	}
	for _, bad := range []string{"", "nokey", ":AAAA", "k:!!!", "k:AAAA"} {
		if _, err := ParseSecretKey(bad); err == nil {
			t.Errorf("ParseSecretKey(%q) accepted", bad)
		}
	}
}

// TestDifferentialGenerateKey checks that keys made by Nix parse and that the
// public half matches our derivation from the secret.
func TestDifferentialGenerateKey(t *testing.T) {
	vectors.RequireNix(t, "nix-store")
	dir := t.TempDir()
	sp, pp := filepath.Join(dir, "sk"), filepath.Join(dir, "pk")
	vectors.RunNix(t, "", "nix-store", "--generate-binary-cache-key", "diff-key-1", sp, pp)
	skb, _ := os.ReadFile(sp)
	pkb, _ := os.ReadFile(pp)
	sk, err := ParseSecretKey(string(skb))
	if err != nil {
		t.Fatal(err)
	}
	if sk.Public().String() != string(pkb) || sk.String() != string(skb) {
		t.Fatalf("public key %s, nix %s", sk.Public(), pkb)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("StorePath: /nix/store/m39rb289f2i56rjm2iak0i79421xiwp5-with-inputs\nURL: nar/x.nar\nCompression: xz\nFileHash: sha256:0sri2akkqhd6kkhb8qkj2vkr1827l0gk8hbaclksbg2qb70njvcf\nFileSize: 1\nNarHash: sha256:0sri2akkqhd6kkhb8qkj2vkr1827l0gk8hbaclksbg2qb70njvcf\nNarSize: 176\nReferences: 91dkhdfrdzngb4m62zak427y2vpamanj-plain\nDeriver: 9afqnjbqaanamv37533nk8dqnkqvmx1k-with-inputs.drv\nSig: k:abc\nCA: fixed:r:sha256:18l2zj8v9v7ywhnxhbvn50dldj0h6nzfi1nii2xd79nkj6ivx2cm\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sd := storepath.DefaultStoreDir
		ni, err := Parse(sd, "fuzz", data)
		if err != nil {
			return
		}
		// Our output must parse back to the same rendering.
		again, err := Parse(sd, "fuzz2", []byte(ni.String()))
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, ni.String())
		}
		if again.String() != ni.String() {
			t.Fatalf("unstable rendering")
		}
	})
}
