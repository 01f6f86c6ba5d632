package build

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The exported graph files have the `nix-store --register-validity`
// format without hashes or derivers, in path order; the structured form
// puts the closure's path infos into .attrs.json.
func TestExportReferencesGraphFormat(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dep2Drv, dep2 := e.add(drvSpec{name: "dep2", script: "echo dep2 > $out"})
	depDrv, dep := e.add(drvSpec{name: "dep", script: "echo " + dep2["out"] + " > $out", deps: []string{dep2Drv}})
	envDrv, envOut := e.add(drvSpec{
		name:   "graph-env",
		script: "$builder mkdir $out; $builder cp closure $out/; $builder ls > $out/ls",
		deps:   []string{depDrv},
		env:    map[string]string{"exportReferencesGraph": " closure\n" + dep["out"] + " "},
	})
	structDrv, structOut := e.add(drvSpec{
		name: "graph-structured",
		deps: []string{depDrv},
		env: map[string]string{"__json": fmt.Sprintf(`{"exportReferencesGraph":{"closure":[%q]},"builder":%q,"name":"graph-structured","system":%q}`,
			dep["out"], e.bb+"/bin/busybox", HostSystem())},
		script: `b=` + e.bb + `/bin/busybox; out=$($b grep -o '"out":"[^"]*"' .attrs.json | $b cut -d'"' -f4); $b mkdir $out; $b cp .attrs.json $out/`,
	})
	if _, err := e.realise(e.opts(), envDrv, structDrv); err != nil {
		t.Fatalf("%v\n%s", err, e.out)
	}

	entries := []string{
		dep2["out"] + "\n\n0\n",
		dep["out"] + "\n\n1\n" + dep2["out"] + "\n",
	}
	slices.Sort(entries)
	if got, want := e.read(envOut["out"], "closure"), strings.Join(entries, ""); got != want {
		t.Errorf("closure file:\n%q\nwant\n%q", got, want)
	}
	if got := e.read(envOut["out"], "ls"); got != "closure\n" {
		t.Errorf("build directory holds %q, want just the closure file", got)
	}

	var attrs struct {
		Closure []struct {
			Path        string   `json:"path"`
			NarHash     string   `json:"narHash"`
			NarSize     uint64   `json:"narSize"`
			ClosureSize uint64   `json:"closureSize"`
			References  []string `json:"references"`
		} `json:"closure"`
	}
	raw := e.read(structOut["out"], ".attrs.json")
	if err := json.Unmarshal([]byte(raw), &attrs); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	want := []string{dep["out"], dep2["out"]}
	slices.Sort(want)
	if len(attrs.Closure) != 2 || attrs.Closure[0].Path != want[0] || attrs.Closure[1].Path != want[1] {
		t.Fatalf("closure infos %+v, want paths %v", attrs.Closure, want)
	}
	sizes := map[string]uint64{}
	for _, p := range want {
		in, err := e.st.QueryPathInfo(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		sizes[p] = in.NarSize
	}
	for _, c := range attrs.Closure {
		in, _ := e.st.QueryPathInfo(ctx, c.Path)
		wantClosure := sizes[dep2["out"]]
		wantRefs := []string{}
		if c.Path == dep["out"] {
			wantClosure += sizes[dep["out"]]
			wantRefs = []string{dep2["out"]}
		}
		if c.NarHash != in.NarHash.String() || c.NarSize != in.NarSize || c.ClosureSize != wantClosure || !slices.Equal(c.References, wantRefs) {
			t.Errorf("info of %s: %+v; want narHash %s narSize %d closureSize %d references %v",
				c.Path, c, in.NarHash, in.NarSize, wantClosure, wantRefs)
		}
	}
}

// A violated check fails the build naming the offending paths, and leaves
// no output valid, also the ones that passed.
func TestOutputChecksLeaveNothingValid(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	depDrv, dep := e.add(drvSpec{name: "dep", script: "echo dep > $out"})
	drv, outs := e.add(drvSpec{
		name:    "checked",
		outputs: []string{"out", "dev"},
		deps:    []string{depDrv},
		env:     map[string]string{"allowedReferences": "dev"},
		script:  "echo $dev > $out; echo " + dep["out"] + " > $dev",
	})
	_, err := e.realise(e.opts(), drv)
	want := fmt.Sprintf("output '%s' is not allowed to refer to the following paths:\n  %s", outs["dev"], dep["out"])
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q\n%s", err, want, e.out)
	}
	for name, p := range outs {
		if ok, err := e.st.IsValid(ctx, p); err != nil || ok {
			t.Errorf("output %s is valid after the failed check (err %v)", name, err)
		}
	}

	// The same derivation with the dependency allowed builds.
	drv2, outs2 := e.add(drvSpec{
		name:    "checked",
		outputs: []string{"out", "dev"},
		deps:    []string{depDrv},
		env:     map[string]string{"allowedReferences": "dev " + dep["out"], "disallowedRequisites": "out"},
		script:  "echo $dev > $out; echo " + dep["out"] + " > $dev",
	})
	if _, err := e.realise(e.opts(), drv2); err != nil {
		t.Fatalf("%v\n%s", err, e.out)
	}
	info, err := e.st.QueryPathInfo(ctx, outs2["out"])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(info.References, []string{outs2["dev"]}) {
		t.Errorf("references of out: %v, want [%s]", info.References, outs2["dev"])
	}
}

func TestRequiredSystemFeatures(t *testing.T) {
	e := newEnv(t)
	drv, _ := e.add(drvSpec{name: "needs-feature", script: "echo > $out",
		env: map[string]string{"requiredSystemFeatures": "zz-feature big-parallel"}})
	o := e.opts()
	o.SystemFeatures = []string{"b", "a", "b"}
	_, err := e.realise(o, drv)
	want := fmt.Sprintf("a '%s' with features {big-parallel, zz-feature} is required to build '%s', but I am a '%s' with features {a, b}",
		HostSystem(), drv, HostSystem())
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant %s", err, want)
	}
	o.SystemFeatures = []string{"zz-feature", "big-parallel"}
	if _, err := e.realise(o, drv); err != nil {
		t.Fatalf("with the features: %v\n%s", err, e.out)
	}

	// Structured attributes: the value must be a list of strings.
	sdrv, _ := e.add(drvSpec{name: "bad-features", script: "echo > $out",
		env: map[string]string{"__json": `{"requiredSystemFeatures":"kvm"}`}})
	_, err = e.realise(e.opts(), sdrv)
	want = fmt.Sprintf("attribute 'requiredSystemFeatures' of derivation '%s' must be a list of strings", sdrv[len("/nix/store/"):])
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant %s", err, want)
	}
}
