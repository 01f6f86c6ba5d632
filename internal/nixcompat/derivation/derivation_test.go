package derivation

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/internal/vectors"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

type vectorDrv struct {
	file  string // e.g. 07-input-drvs
	raw   []byte
	drv   *Derivation
	paths struct {
		DrvPath string            `json:"drvPath"`
		Outputs map[string]string `json:"outputs"`
	}
}

// loadVectorDrvs parses every derivations/out/*.drv and indexes it by the
// drvPath Nix reported.
func loadVectorDrvs(t *testing.T) ([]*vectorDrv, map[string]*vectorDrv) {
	dir := filepath.Join(vectors.Dir(t), "derivations", "out")
	files, err := filepath.Glob(filepath.Join(dir, "*.drv"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no .drv vectors in %s: %v", dir, err)
	}
	var list []*vectorDrv
	byPath := map[string]*vectorDrv{}
	for _, f := range files {
		v := &vectorDrv{file: strings.TrimSuffix(filepath.Base(f), ".drv")}
		v.raw, _ = os.ReadFile(f)
		pj, err := os.ReadFile(filepath.Join(dir, v.file+".paths.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(pj, &v.paths); err != nil {
			t.Fatal(err)
		}
		v.drv, err = Parse(v.paths.DrvPath, v.raw)
		if err != nil {
			t.Fatalf("%s: %v", v.file, err)
		}
		list = append(list, v)
		byPath[v.paths.DrvPath] = v
	}
	return list, byPath
}

func TestVectorDerivations(t *testing.T) {
	list, byPath := loadVectorDrvs(t)
	if len(list) != 17 {
		t.Fatalf("found %d drv vectors, want 17", len(list))
	}
	sd := storepath.DefaultStoreDir
	load := func(_ context.Context, p string) (*Derivation, error) {
		v, ok := byPath[p]
		if !ok {
			return nil, os.ErrNotExist
		}
		return v.drv, nil
	}
	h := NewHasher(sd, load)
	for _, v := range list {
		t.Run(v.file, func(t *testing.T) {
			if got := v.drv.ATerm(); !bytes.Equal(got, v.raw) {
				t.Fatalf("ATerm round trip differs:\n got %s\nwant %s", got, v.raw)
			}
			sp, err := v.drv.DrvPath(sd)
			if err != nil || sd.Path(sp) != v.paths.DrvPath {
				t.Errorf("drvPath = %s (%v), want %s", sd.Path(sp), err, v.paths.DrvPath)
			}
			outs, err := h.OutputPaths(context.Background(), v.drv)
			if err != nil {
				t.Fatal(err)
			}
			for id, want := range v.paths.Outputs {
				if outs[id] != want {
					t.Errorf("output %s = %s, want %s", id, outs[id], want)
				}
			}
			if len(outs) != len(v.paths.Outputs) {
				t.Errorf("outputs %v, want %v", outs, v.paths.Outputs)
			}
			// Masked ATerm and unmasked HDM from derived/ (skipped for
			// fixed-output drvs, whose masked ATerm is not used).
			dd := filepath.Join(vectors.Dir(t), "derivations", "derived")
			if masked, err := os.ReadFile(filepath.Join(dd, v.file+".masked.aterm")); err == nil {
				mh, err := h.HashModulo(context.Background(), v.drv, true)
				if err != nil {
					t.Fatal(err)
				}
				if !mh.Equal(hash.Sum(hash.SHA256, masked)) {
					t.Errorf("masked modulo hash differs from sha256(masked.aterm)")
				}
			}
			if notes, err := os.ReadFile(filepath.Join(dd, v.file+".notes.txt")); err == nil {
				for _, line := range strings.Split(string(notes), "\n") {
					if rest, ok := strings.CutPrefix(line, "hashDerivationModulo (unmasked, what dependents see): "); ok {
						got, err := h.PathHash(context.Background(), v.paths.DrvPath)
						if err != nil || got.Base16() != rest {
							t.Errorf("HDM = %s (%v), want %s", got.Base16(), err, rest)
						}
					}
				}
			}
			// Re-filling outputs from a blanked copy reproduces the .drv.
			c := v.drv.Clone()
			if !c.IsFixedOutput() {
				for id, o := range c.Outputs {
					o.Path = ""
					c.Outputs[id] = o
					c.Env[id] = ""
				}
			}
			if err := NewHasher(sd, load).FillOutputPaths(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(c.ATerm(), v.raw) {
				t.Errorf("FillOutputPaths did not reproduce the .drv")
			}
			// show-derivation JSON, byte for byte.
			want, err := os.ReadFile(filepath.Join(vectors.Dir(t), "derivations", "out", v.file+".show-derivation.json"))
			if err != nil {
				t.Fatal(err)
			}
			if got := ShowJSON(map[string]*Derivation{v.paths.DrvPath: v.drv}); !bytes.Equal(got, want) {
				t.Errorf("show-derivation JSON differs:\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	good := `Derive([("out","/nix/store/n58i92vcb1nyx2kn85drrz91csapq1m5-x","","")],[],[],"x86_64-linux","/bin/sh",[],[("a","1"),("b","2")])`
	if _, err := Parse("x.drv", []byte(good)); err != nil {
		t.Fatalf("good drv rejected: %v", err)
	}
	tests := []struct {
		name, in, want string
	}{
		{"trailing newline", good + "\n", "trailing data"},
		{"not derive", "Derivx(", `expected "Derive("`},
		{"unsorted env", strings.Replace(good, `("a","1"),("b","2")`, `("b","1"),("a","2")`, 1), "not sorted"},
		{"dup env", strings.Replace(good, `("a","1"),("b","2")`, `("a","1"),("a","2")`, 1), "duplicated"},
		{"relative path", strings.Replace(good, `"/nix/store/n58`, `"nix/store/n58`, 1), "bad path"},
		{"bad algo", strings.Replace(good, `"",""`, `"sha3","abc"`, 1), "unknown hash algorithm"},
		{"bad hash", strings.Replace(good, `"",""`, `"sha256","abc"`, 1), "wrong length"},
		{"unterminated", good[:40], "unterminated"},
		{"truncated", good[:len(good)-1], `expected ")"`},
	}
	for _, tc := range tests {
		_, err := Parse("/nix/store/foo.drv", []byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "/nix/store/foo.drv at offset") {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestEscapes(t *testing.T) {
	d := &Derivation{Name: "x", Outputs: map[string]Output{"out": {Path: "/nix/store/n58i92vcb1nyx2kn85drrz91csapq1m5-x"}},
		Platform: "p", Builder: "b\"\\\n\r\t\x07", Args: []string{"\x1b\x7f\u00e9"}, Env: map[string]string{"k\"": "v\\"}}
	a := d.ATerm()
	if !bytes.Contains(a, []byte(`"b\"\\\n\r\t`+"\x07"+`"`)) {
		t.Errorf("escaping wrong: %s", a)
	}
	back, err := Parse("x", a)
	if err != nil {
		t.Fatal(err)
	}
	if back.Builder != d.Builder || back.Args[0] != d.Args[0] || back.Env["k\""] != "v\\" {
		t.Errorf("unescape mismatch: %+v", back)
	}
	// Unknown escapes decode to the character itself, as in Nix.
	x, err := Parse("x", []byte(`Derive([],[],[],"p","\x\q",[],[])`))
	if err != nil || x.Builder != "xq" {
		t.Errorf("builder = %q, %v", x.Builder, err)
	}
}

func TestHashModuloMergesEqualInputs(t *testing.T) {
	// 08 and 08b depend on two fixed-output drvs with equal modulo hashes.
	list, byPath := loadVectorDrvs(t)
	_ = list
	var fod, fodB string
	for p, v := range byPath {
		switch v.file {
		case "03-fod-flat-sha256":
			fod = p
		case "03b-fod-flat-sha256-other-builder":
			fodB = p
		}
	}
	load := func(_ context.Context, p string) (*Derivation, error) { return byPath[p].drv, nil }
	h := NewHasher(storepath.DefaultStoreDir, load)
	a, _ := h.PathHash(context.Background(), fod)
	b, _ := h.PathHash(context.Background(), fodB)
	if !a.Equal(b) {
		t.Fatal("fixed-output HDMs differ")
	}
	d := &Derivation{Name: "m", Outputs: map[string]Output{"out": {}}, InputDrvs: map[string][]string{fod: {"out"}, fodB: {"out"}},
		Platform: "x", Builder: "/bin/sh", Env: map[string]string{"out": ""}}
	if _, err := h.HashModulo(context.Background(), d, true); err != nil {
		t.Fatal(err)
	}
	d.InputDrvs[fod] = []string{"dev"}
	if _, err := h.HashModulo(context.Background(), d, true); err == nil {
		t.Fatal("missing input output accepted")
	}
	keys := sortedKeys(d.InputDrvs)
	if !sort.StringsAreSorted(keys) {
		t.Fatal("unsorted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`Derive([("out","/nix/store/n58i92vcb1nyx2kn85drrz91csapq1m5-x","","")],[("/nix/store/a.drv",["out"])],["/nix/store/b"],"x86_64-linux","/bin/sh",["-c","\"x\\"],[("a","1\n"),("b","2")])`))
	f.Add([]byte(`Derive([("out","/nix/store/ld7hag6ni55fviw8yfq04gbdslddwwdi-fod-rec","r:sha256","9589bea391d3a6d3ba88d186e8be3510c8461b28762fd82de4feecb491fc82a2")],[],[],"x","/bin/sh",[],[])`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse("fuzz.drv", data)
		if err != nil {
			return
		}
		// Whatever parses must re-serialise and re-parse to the same ATerm.
		a := d.ATerm()
		d2, err := Parse("fuzz.drv", a)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", a, err)
		}
		if !bytes.Equal(d2.ATerm(), a) {
			t.Fatalf("unstable serialisation")
		}
	})
}
