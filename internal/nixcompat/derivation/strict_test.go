package derivation

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/onix-dev/onix/internal/nixcompat/internal/vectors"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

// specFromDrv rebuilds the evaluator-side Spec from a finished .drv, the way
// derivationStrict would have seen it.
func specFromDrv(t *testing.T, d *Derivation) Spec {
	s := Spec{Name: d.Name, System: d.Platform, Builder: d.Builder, Args: d.Args, Env: map[string]string{},
		InputSrcs: d.InputSrcs, InputDrvs: d.InputDrvs}
	for k, v := range d.Env {
		if _, isOut := d.Outputs[k]; !isOut {
			s.Env[k] = v
		}
	}
	vals := d.Env
	if js, ok := d.Env["__json"]; ok {
		var m map[string]any
		if err := json.Unmarshal([]byte(js), &m); err != nil {
			t.Fatal(err)
		}
		vals = map[string]string{}
		for k, v := range m {
			if str, ok := v.(string); ok {
				vals[k] = str
			}
		}
		s.Name, _ = m["name"].(string)
		if outs, ok := m["outputs"].([]any); ok {
			for _, o := range outs {
				s.Outputs = append(s.Outputs, o.(string))
			}
		}
	} else if o, ok := d.Env["outputs"]; ok {
		s.Outputs = strings.Fields(o)
	}
	if oh, ok := vals["outputHash"]; ok {
		s.HasOutputHash, s.OutputHash = true, oh
		s.OutputHashAlgo, s.OutputHashMode = vals["outputHashAlgo"], vals["outputHashMode"]
	}
	return s
}

func TestBuildReproducesVectors(t *testing.T) {
	list, byPath := loadVectorDrvs(t)
	load := func(_ context.Context, p string) (*Derivation, error) { return byPath[p].drv, nil }
	h := NewHasher(storepath.DefaultStoreDir, load)
	for _, v := range list {
		res, err := Build(context.Background(), h, specFromDrv(t, v.drv))
		if err != nil {
			t.Errorf("%s: %v", v.file, err)
			continue
		}
		if res.DrvPath != v.paths.DrvPath || string(res.Drv.ATerm()) != string(v.raw) {
			t.Errorf("%s: drvPath %s, want %s", v.file, res.DrvPath, v.paths.DrvPath)
		}
		for id, p := range v.paths.Outputs {
			if res.Outputs[id] != p {
				t.Errorf("%s: output %s = %s, want %s", v.file, id, res.Outputs[id], p)
			}
		}
	}
}

func TestBuildErrors(t *testing.T) {
	h := NewHasher(storepath.DefaultStoreDir, nil)
	base := Spec{Name: "x", System: "s", Builder: "/bin/sh", Env: map[string]string{}}
	tests := []struct {
		name string
		mod  func(*Spec)
		want string
	}{
		{"drv suffix", func(s *Spec) { s.Name = "x.drv" }, "end in '.drv'"},
		{"no builder", func(s *Spec) { s.Builder = "" }, "'builder' missing"},
		{"no system", func(s *Spec) { s.System = "" }, "'system' missing"},
		{"dup output", func(s *Spec) { s.Outputs = []string{"out", "out"} }, "duplicate derivation output"},
		{"drv output", func(s *Spec) { s.Outputs = []string{"drv"} }, "invalid derivation output name"},
		{"empty outputs", func(s *Spec) { s.Outputs = []string{} }, "empty set of outputs"},
		{"fixed multi", func(s *Spec) { s.Outputs = []string{"out", "dev"}; s.HasOutputHash = true }, "multiple outputs"},
		{"bad mode", func(s *Spec) {
			s.HasOutputHash, s.OutputHash, s.OutputHashMode = true, "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "nar"
		}, "outputHashMode"},
		{"empty hash no algo", func(s *Spec) { s.HasOutputHash = true }, "explicit hash type"},
		{"bare hash no algo", func(s *Spec) {
			s.HasOutputHash, s.OutputHash = true, "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"
		}, "does not include a type"},
	}
	for _, tc := range tests {
		s := base
		tc.mod(&s)
		if _, err := Build(context.Background(), h, s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	s := base
	s.HasOutputHash, s.OutputHashAlgo = true, "sha256"
	res, err := Build(context.Background(), h, s)
	if err != nil || res.Warning == "" {
		t.Errorf("empty hash: %v %+v", err, res)
	}
}

// TestDifferentialInstantiate instantiates random derivations with real Nix
// (into a throwaway chroot store) and compares drvPath and output paths.
func TestDifferentialInstantiate(t *testing.T) {
	vectors.RequireNix(t, "nix-instantiate")
	rng := rand.New(rand.NewSource(3))
	storeRoot := t.TempDir()
	h := NewHasher(storepath.DefaultStoreDir, nil)
	for i := 0; i < 5; i++ {
		env := map[string]string{}
		var attrs strings.Builder
		for k := 0; k < 4; k++ {
			key := fmt.Sprintf("v%c%d", 'A'+rng.Intn(40), k)
			val := randomValue(rng)
			env[key] = val
			fmt.Fprintf(&attrs, "%q = %s; ", key, nixString(val))
		}
		arg := randomValue(rng)
		outs := [][]string{{"out"}, {"out", "dev"}, {"bin", "out", "lib"}}[i%3]
		expr := fmt.Sprintf(`let d = derivation { name = "rnd-%d"; system = "x86_64-linux"; builder = "/bin/sh"; args = ["-c" %s]; outputs = [%s]; %s }; in { drvPath = d.drvPath; outs = builtins.listToAttrs (map (o: { name = o; value = d.${o}.outPath; }) d.outputs); }`,
			i, nixString(arg), `"`+strings.Join(outs, `" "`)+`"`, attrs.String())
		out := vectors.RunNix(t, storeRoot, "nix-instantiate", "--eval", "--strict", "--json", "-E", expr)
		var got struct {
			DrvPath string            `json:"drvPath"`
			Outs    map[string]string `json:"outs"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		env["name"] = fmt.Sprintf("rnd-%d", i)
		env["system"] = "x86_64-linux"
		env["builder"] = "/bin/sh"
		env["outputs"] = strings.Join(outs, " ")
		res, err := Build(context.Background(), h, Spec{Name: env["name"], System: env["system"], Builder: env["builder"],
			Args: []string{"-c", arg}, Outputs: outs, Env: env})
		if err != nil {
			t.Fatal(err)
		}
		if res.DrvPath != got.DrvPath {
			t.Errorf("drvPath = %s, nix %s", res.DrvPath, got.DrvPath)
		}
		for id, p := range got.Outs {
			if res.Outputs[id] != p {
				t.Errorf("output %s = %s, nix %s", id, res.Outputs[id], p)
			}
		}
	}
}

func randomValue(rng *rand.Rand) string {
	pieces := []string{"a", "\"", "\\", "\n", "\r", "\t", "é", "${", "$", " ", "'", "\x07", "x"}
	var b strings.Builder
	for n := rng.Intn(12); n > 0; n-- {
		b.WriteString(pieces[rng.Intn(len(pieces))])
	}
	return b.String()
}

// nixString quotes s as a Nix string literal.
func nixString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`, "${", `\${`)
	return `"` + r.Replace(s) + `"`
}
