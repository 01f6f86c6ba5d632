package flakelock

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/internal/vectors"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

func TestVectorLock(t *testing.T) {
	data := vectors.Read(t, "flake/flake.lock")
	l, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Marshal(); !bytes.Equal(got, data) {
		t.Fatalf("round trip differs:\n%s", got)
	}
	if f := l.Nodes["pathdep"].Inputs["gitdep"].Follows; len(f) != 1 || f[0] != "gitdep" {
		t.Errorf("follows = %v", f)
	}
	if l.Nodes["rawdata"].Flake || !l.Nodes["gitdep"].Flake {
		t.Error("flake flag")
	}
	if l.Nodes["gitdep"].Locked["revCount"] != int64(2) {
		t.Errorf("revCount = %#v", l.Nodes["gitdep"].Locked["revCount"])
	}
	// The metadata's store path is the "source" path of locked.narHash.
	var meta struct {
		Path   string `json:"path"`
		Locked struct {
			NarHash string `json:"narHash"`
		} `json:"locked"`
	}
	if err := json.Unmarshal(vectors.Read(t, "flake/top.metadata.json"), &meta); err != nil {
		t.Fatal(err)
	}
	h, err := hash.ParseSRI(meta.Locked.NarHash)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := storepath.DefaultStoreDir.MakeSourcePath("source", h, nil, false)
	if err != nil || storepath.DefaultStoreDir.Path(sp) != meta.Path {
		t.Errorf("source path %s, want %s", storepath.DefaultStoreDir.Path(sp), meta.Path)
	}
}

func TestMarshalEscapesAndEmpty(t *testing.T) {
	l := &Lock{Version: 7, Root: "root", Nodes: map[string]*Node{
		"root": {Flake: true, Inputs: map[string]Input{"a": {Node: "a"}, "b": {Follows: []string{}}}},
		"a":    {Flake: true, Locked: Attrs{"type": "path", "path": "/x\"\b\x01é", "n": int64(1)}, Original: Attrs{}},
	}}
	got := string(l.Marshal())
	for _, want := range []string{`"path": "/x\"\b\u0001é"`, `"b": []`, `"original": {}`, "\n  \"version\": 7\n}\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	back, err := Parse([]byte(got))
	if err != nil || string(back.Marshal()) != got {
		t.Fatalf("round trip: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	for name, in := range map[string]string{
		"version":     `{"nodes":{"root":{}},"root":"root","version":8}`,
		"no root":     `{"nodes":{},"root":"root","version":7}`,
		"dangling":    `{"nodes":{"root":{"inputs":{"a":"b"}}},"root":"root","version":7}`,
		"float":       `{"nodes":{"root":{"inputs":{"a":"a"}},"a":{"locked":{"x":1.5},"original":{}}},"root":"root","version":7}`,
		"no locked":   `{"nodes":{"root":{"inputs":{"a":"a"}},"a":{"original":{}}},"root":"root","version":7}`,
		"bad input":   `{"nodes":{"root":{"inputs":{"a":1}}},"root":"root","version":7}`,
		"not json":    `{`,
		"nested attr": `{"nodes":{"root":{"inputs":{"a":"a"}},"a":{"locked":{"x":{}},"original":{}}},"root":"root","version":7}`,
	} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"nodes":{"root":{"inputs":{"a":"a","b":["a"]}},"a":{"flake":false,"locked":{"n":1,"s":"x","b":true},"original":{}}},"root":"root","version":7}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse(data)
		if err != nil {
			return
		}
		out := l.Marshal()
		l2, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		if !bytes.Equal(l2.Marshal(), out) {
			t.Fatal("unstable rendering")
		}
	})
}
