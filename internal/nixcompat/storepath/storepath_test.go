package storepath

import (
	"bytes"
	"encoding/hex"
	"math/rand"
	"strings"
	"testing"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/internal/vectors"
)

func TestParse(t *testing.T) {
	d := DefaultStoreDir
	long := strings.Repeat("a", MaxNameLen)
	tests := []struct {
		in      string
		wantErr bool
	}{
		{"/nix/store/qjqcrhqkjmdgv3yqcgcd9fa7qi234hga-file.txt", false},
		{"/nix/store/8j2ykgac98kygi061j4yavmbxvk8fa2l-odd+name=with?chars_.-1.0.drv", false},
		{"/nix/store//qjqcrhqkjmdgv3yqcgcd9fa7qi234hga-file.txt/", false},
		{"/nix/store/qjqcrhqkjmdgv3yqcgcd9fa7qi234hga-" + long, false},
		{"/nix/store/qjqcrhqkjmdgv3yqcgcd9fa7qi234hga-" + long + "a", true},
		{"/nix/store/qjqcrhqkjmdgv3yqcgcd9fa7qi234hge-file.txt", true},   // 'e'
		{"/nix/store/QJQCRHQKJMDGV3YQCGCD9FA7QI234HGA-file.txt", true},   // upper
		{"/nix/store/qjqcrhqkjmdgv3yqcgcd9fa7qi234hga-", true},           // empty name
		{"/nix/store/qjqcrhqkjmdgv3yqcgcd9fa7qi234hga-a b", true},        // space
		{"/nix/store/qjqcrhqkjmdgv3yqcgcd9fa7qi234hga-file.txt/x", true}, // not direct child
		{"/nix/sto/qjqcrhqkjmdgv3yqcgcd9fa7qi234hga-file.txt", true},
		{"nix/store/qjqcrhqkjmdgv3yqcgcd9fa7qi234hga-file.txt", true},
		{"/nix/store/short-x", true},
		{"/nix/store/qjqcrhqkjmdgv3yqcgcd9fa7qi234hgaxfile.txt", true},
	}
	for _, tc := range tests {
		sp, err := d.Parse(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("Parse(%q) err = %v, wantErr %v", tc.in, err, tc.wantErr)
			continue
		}
		if err == nil && d.Path(sp) != strings.TrimSuffix(strings.Replace(tc.in, "//", "/", 1), "/") {
			t.Errorf("Parse(%q) round trip = %q", tc.in, d.Path(sp))
		}
	}
	sp, rest, err := d.SplitPath("/nix/store/qjqcrhqkjmdgv3yqcgcd9fa7qi234hga-file.txt/bin/x")
	if err != nil || sp.Name != "file.txt" || rest != "/bin/x" {
		t.Errorf("SplitPath = %v %q %v", sp, rest, err)
	}
}

// TestAddedStorePathFingerprints recomputes every fingerprint and path in
// hashes/added-store-paths.derived.txt from its parts.
func TestAddedStorePathFingerprints(t *testing.T) {
	data := string(vectors.Read(t, "hashes/added-store-paths.derived.txt"))
	lines := strings.Split(data, "\n")
	n := 0
	d := DefaultStoreDir
	for i := 0; i+2 < len(lines); i++ {
		fp, ok := strings.CutPrefix(strings.TrimSpace(lines[i+1]), "fingerprint: ")
		if !ok {
			continue
		}
		want := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(lines[i+2]), "path:"))
		// fingerprint = type:sha256:<hex>:/nix/store:name
		idx := strings.Index(fp, ":sha256:")
		typ := fp[:idx]
		rest := fp[idx+len(":sha256:"):]
		hx, tail, _ := strings.Cut(rest, ":")
		name := strings.TrimPrefix(tail, "/nix/store:")
		inner, err := hash.ParseNonSRIUnprefixed(hx, hash.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Fingerprint(typ, inner, name); got != fp {
			t.Errorf("fingerprint = %q, want %q", got, fp)
		}
		sp, err := d.MakeStorePath(typ, inner, name)
		if err != nil || d.Path(sp) != want {
			t.Errorf("%s: got %s (%v), want %s", lines[i], d.Path(sp), err, want)
		}
		n++
	}
	if n != 9 {
		t.Fatalf("checked %d fingerprints, want 9", n)
	}
}

func TestMakePaths(t *testing.T) {
	d := DefaultStoreDir
	hello := hash.SumString(hash.SHA256, "hello\n")
	narHex := "1c37d01af40be2e80691de3cc3df44377a699afbb17c68f080964b2fd071fc13"
	narDigest, _ := hex.DecodeString(narHex)
	narHash := hash.Hash{Algo: hash.SHA256, Digest: narDigest}
	dirRef := "/nix/store/7j2aw8i1ls04ky4p33av4z82ni3cm2wk-dir"
	tests := []struct {
		name string
		got  func() (StorePath, error)
		want string
	}{
		{"text", func() (StorePath, error) { return d.MakeTextPath("file.txt", hello, nil) }, "/nix/store/mcf0f9hv4kswp2fgqi49hv1kh80xin4m-file.txt"},
		{"fixed flat sha256", func() (StorePath, error) { return d.MakeFixedOutputPath("file.txt", Flat, hello, nil, false) }, "/nix/store/z1rahp9fy11h8yvihxhgj8vr2pb6db1a-file.txt"},
		{"fixed flat sha1", func() (StorePath, error) {
			return d.MakeFixedOutputPath("file.txt", Flat, hash.SumString(hash.SHA1, "hello\n"), nil, false)
		}, "/nix/store/saz56sqca1hwr9kl6nifa7sxp08crgg7-file.txt"},
		{"fixed flat md5", func() (StorePath, error) {
			return d.MakeFixedOutputPath("file.txt", Flat, hash.SumString(hash.MD5, "hello\n"), nil, false)
		}, "/nix/store/14jkq42hdy6md5659r4q5gjfd9q9bf6v-file.txt"},
		{"source", func() (StorePath, error) { return d.MakeSourcePath("file.txt", narHash, nil, false) }, "/nix/store/qjqcrhqkjmdgv3yqcgcd9fa7qi234hga-file.txt"},
		{"source via CA", func() (StorePath, error) {
			ca, err := ParseContentAddress("fixed:r:sha256:04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw")
			if err != nil {
				return StorePath{}, err
			}
			return d.MakeContentAddressedPath("file.txt", ca, nil, false)
		}, "/nix/store/qjqcrhqkjmdgv3yqcgcd9fa7qi234hga-file.txt"},
		{"text with dup refs", func() (StorePath, error) {
			return d.MakeTextPath("refs.txt", mustHex(t, "12509f4e9c70fdcfda884b921f55b849ed050444ccb512ad2d2d94037b9fad6e"), []string{dirRef, dirRef})
		}, "/nix/store/wghp5822ndh9bxysz96v0hsry4f56qzy-refs.txt"},
	}
	for _, tc := range tests {
		sp, err := tc.got()
		if err != nil || d.Path(sp) != tc.want {
			t.Errorf("%s: got %s (%v), want %s", tc.name, d.Path(sp), err, tc.want)
		}
	}
	if _, err := d.MakeFixedOutputPath("x", Flat, hello, []string{dirRef}, false); err == nil {
		t.Error("flat path with references accepted")
	}
	if _, err := d.MakeTextPath("bad name", hello, nil); err == nil {
		t.Error("invalid name accepted")
	}
	if OutputPathName("foo", "out") != "foo" || OutputPathName("foo", "dev") != "foo-dev" {
		t.Error("OutputPathName")
	}
}

func mustHex(t *testing.T, s string) hash.Hash {
	h, err := hash.ParseNonSRIUnprefixed(s, hash.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestContentAddressRoundTrip(t *testing.T) {
	for _, s := range []string{
		"text:sha256:04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw",
		"fixed:sha256:04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw",
		"fixed:r:sha1:wz60bbf44cw7nswp1wv8vcsyfg155sqd",
	} {
		ca, err := ParseContentAddress(s)
		if err != nil || ca.String() != s {
			t.Errorf("%s: %v %v", s, ca.String(), err)
		}
	}
	for _, s := range []string{"text:sha1:wz60bbf44cw7nswp1wv8vcsyfg155sqd", "blob:sha256:x", "fixed:r:"} {
		if _, err := ParseContentAddress(s); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
}

func TestRefScanner(t *testing.T) {
	a := "91dkhdfrdzngb4m62zak427y2vpamanj"
	b := "c8dlmrfjxmbj5bnh499rhqcky8d2xr22"
	c := "7j2aw8i1ls04ky4p33av4z82ni3cm2wk"
	data := []byte("xx/nix/store/" + a + "-plain\x00zzz" + b + "-multi-dev")
	for split := 0; split <= len(data); split++ {
		s := NewRefScanner([]string{a, b, c, "not-a-hash"})
		s.Write(data[:split])
		s.Write(data[split:])
		got := s.Found()
		if len(got) != 2 || got[0] != a && got[1] != a {
			t.Fatalf("split %d: found %v", split, got)
		}
	}
	// Byte-at-a-time writes must still find matches across boundaries.
	s := NewRefScanner([]string{a, b, c})
	for i := range data {
		s.Write(data[i : i+1])
	}
	if len(s.Found()) != 2 {
		t.Fatalf("byte-wise: found %v", s.Found())
	}
	paths := s.FoundPaths(DefaultStoreDir, []string{"/nix/store/" + a + "-plain", "/nix/store/" + c + "-dir"})
	if len(paths) != 1 {
		t.Fatalf("FoundPaths = %v", paths)
	}
}

// TestRefScannerRandom checks the streaming scanner against a naive search.
func TestRefScannerRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	alpha := "0123456789abcdfghijklmnpqrsvwxyz"
	for iter := 0; iter < 200; iter++ {
		var cands []string
		for k := 0; k < 5; k++ {
			b := make([]byte, 32)
			for i := range b {
				b[i] = alpha[rng.Intn(32)]
			}
			cands = append(cands, string(b))
		}
		var buf bytes.Buffer
		for buf.Len() < 3000 {
			if rng.Intn(10) == 0 {
				buf.WriteString(cands[rng.Intn(5)])
			} else {
				buf.WriteByte(alpha[rng.Intn(32)])
			}
		}
		data := buf.Bytes()
		s := NewRefScanner(cands)
		for off := 0; off < len(data); {
			n := min(len(data)-off, rng.Intn(100))
			s.Write(data[off : off+n])
			off += n
		}
		var want []string
		for _, c := range cands {
			if bytes.Contains(data, []byte(c)) {
				want = append(want, c)
			}
		}
		want = SortedRefs(want)
		if strings.Join(s.Found(), ",") != strings.Join(want, ",") {
			t.Fatalf("iter %d: found %v want %v", iter, s.Found(), want)
		}
	}
}

func BenchmarkRefScanner(b *testing.B) {
	data := make([]byte, 1<<20)
	rand.New(rand.NewSource(1)).Read(data)
	cands := []string{"91dkhdfrdzngb4m62zak427y2vpamanj", "c8dlmrfjxmbj5bnh499rhqcky8d2xr22"}
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		s := NewRefScanner(cands)
		s.Write(data)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("/nix/store/qjqcrhqkjmdgv3yqcgcd9fa7qi234hga-file.txt")
	f.Add("/nix/store/8j2ykgac98kygi061j4yavmbxvk8fa2l-odd+name=with?chars_.-1.0.drv")
	f.Add("/nix/store/../etc")
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := DefaultStoreDir.Parse(s)
		if err != nil {
			return
		}
		if ValidateName(sp.Name) != nil || ValidateHashPart(sp.HashPart) != nil {
			t.Fatalf("accepted invalid %q", s)
		}
		back, err := DefaultStoreDir.Parse(DefaultStoreDir.Path(sp))
		if err != nil || back != sp {
			t.Fatalf("round trip %q: %v", s, err)
		}
	})
}
