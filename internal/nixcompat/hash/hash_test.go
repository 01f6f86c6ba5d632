package hash

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/onix-dev/onix/internal/nixcompat/internal/vectors"
)

func TestStringHashVectors(t *testing.T) {
	data := vectors.Read(t, "hashes/string-hashes.txt")
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, " | ")
		if len(f) != 6 {
			t.Fatalf("bad vector line %q", line)
		}
		input := strings.TrimSuffix(f[0], " ") // the "" input is written as " | ..."
		if f[0] == "" || f[0] == " " {
			input = ""
		}
		algo, err := ParseAlgo(f[1])
		if err != nil {
			t.Fatal(err)
		}
		h := SumString(algo, input)
		for _, c := range []struct {
			enc  Encoding
			want string
		}{{Base16, f[2]}, {Base32, f[3]}, {Base64, f[4]}, {SRI, f[5]}} {
			if got := h.Encode(c.enc, false); got != c.want {
				t.Errorf("%q %s enc %d: got %s want %s", input, algo, c.enc, got, c.want)
			}
			// Every form parses back, bare (with algo) and prefixed.
			if c.enc != SRI {
				p, err := ParseAny(c.want, algo)
				if err != nil || !p.Equal(h) {
					t.Errorf("ParseAny(%q, %s) = %v, %v", c.want, algo, p, err)
				}
				p, err = ParseAnyPrefixed(algo.String() + ":" + c.want)
				if err != nil || !p.Equal(h) {
					t.Errorf("ParseAnyPrefixed(%s:%s) = %v, %v", algo, c.want, p, err)
				}
			} else {
				p, err := ParseSRI(c.want)
				if err != nil || !p.Equal(h) {
					t.Errorf("ParseSRI(%q) = %v, %v", c.want, p, err)
				}
			}
		}
		n++
	}
	if n != 20 {
		t.Fatalf("checked %d vectors, want 20", n)
	}
}

func TestTruncateVectors(t *testing.T) {
	data := vectors.Read(t, "hashes/truncate.txt")
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, " | ")
		input := strings.TrimSpace(f[0])
		h := CompressHash(SumString(SHA256, input), 20)
		if h.Base16() != f[2] || h.Base32() != f[3] {
			t.Errorf("fold(%q) = %s %s, want %s %s", input, h.Base16(), h.Base32(), f[2], f[3])
		}
		n++
	}
	if n != 2 {
		t.Fatalf("checked %d, want 2", n)
	}
}

func TestParseTable(t *testing.T) {
	empty := SumString(SHA256, "")
	tests := []struct {
		name    string
		in      string
		algo    Algo
		want    Hash
		wantErr string
	}{
		{"base16 prefixed", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Unknown, empty, ""},
		{"base16 upper", "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", Unknown, empty, ""},
		{"base32 bare", "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73", SHA256, empty, ""},
		{"base64 bare", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", SHA256, empty, ""},
		{"sri", "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", Unknown, empty, ""},
		{"sri unpadded", "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", Unknown, empty, ""},
		{"sri matching ctx", "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", SHA256, empty, ""},
		{"type mismatch", "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", SHA1, Hash{}, "should have type"},
		{"no type", "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73", Unknown, Hash{}, "does not include a type"},
		{"bad algo", "sha3:abc", Unknown, Hash{}, "unknown hash algorithm"},
		{"wrong length", "sha256:abc", Unknown, Hash{}, "wrong length"},
		{"bad base16", "sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Unknown, Hash{}, "base-16"},
		{"bad base32", "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c7e", Unknown, Hash{}, "base-32"},
		{"sri short", "sha256-47DEQpj8HBSa", Unknown, Hash{}, "SRI"},
		{"colon before dash", "sha256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU-", Unknown, Hash{}, "base-64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAny(tc.in, tc.algo)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	if _, err := ParseAnyPrefixed("0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"); err == nil {
		t.Error("ParseAnyPrefixed accepted an unprefixed hash")
	}
	if _, err := ParseNonSRIUnprefixed("0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73", SHA256); err != nil {
		t.Error(err)
	}
}

func TestHasher(t *testing.T) {
	h, _, err := HashReader(context.Background(), SHA256, bytes.NewReader([]byte("hello")))
	if err != nil {
		t.Fatal(err)
	}
	if h.Base16() != "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" {
		t.Fatalf("got %s", h.Base16())
	}
	if _, err := NewHasher(Unknown); err == nil {
		t.Fatal("NewHasher(Unknown) succeeded")
	}
}

func FuzzParseAny(f *testing.F) {
	f.Add("sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", uint8(0))
	f.Add("sha1:143xibwh31h9bvxzalr0sjvbbvpa6ffs", uint8(2))
	f.Add("d41d8cd98f00b204e9800998ecf8427e", uint8(1))
	f.Fuzz(func(t *testing.T, s string, a uint8) {
		h, err := ParseAny(s, Algo(a%5))
		if err != nil {
			return
		}
		if len(h.Digest) != h.Algo.Size() {
			t.Fatalf("digest size %d for %s", len(h.Digest), h.Algo)
		}
		for _, enc := range []Encoding{Base16, Base32, Base64} {
			back, err := ParseAny(h.Encode(enc, true), Unknown)
			if err != nil || !back.Equal(h) {
				t.Fatalf("re-parse %s: %v", h.Encode(enc, true), err)
			}
		}
	})
}
