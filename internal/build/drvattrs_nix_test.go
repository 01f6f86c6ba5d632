package build

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/onix-dev/onix/internal/store"
)

// attrsNix exercises exportReferencesGraph (both forms), the reference and
// size checks of outputs (env form and structured outputChecks) and
// requiredSystemFeatures. TestDerivationAttrsAgainstNix builds every
// attribute with nix-build (sandbox on) and with onix, and compares.
const attrsNix = `
let
  bb = builtins.path { path = ./bb; name = "busybox"; };
  sh = script: [ "sh" "-c" script ];
  mk = attrs: derivation ({ system = builtins.currentSystem; builder = "${bb}/bin/busybox"; } // attrs);
  # structured derivations have no $out; read it from .attrs.json
  sout = ''b=${bb}/bin/busybox; out=$($b grep -o '"out":"[^"]*"' .attrs.json | $b cut -d'"' -f4); '';
  smk = attrs: mk ({ __structuredAttrs = true; } // attrs);
  discard = builtins.unsafeDiscardStringContext;
in rec {
  dep2 = mk { name = "dep2"; args = sh "echo dep2 > $out"; };
  dep = mk { name = "dep"; args = sh "echo ${dep2} > $out"; };

  # exportReferencesGraph, env form: closures of an output, of a .drv
  # (with the outputs of the derivations in it) and of a path inside a
  # store object.
  graph = mk {
    name = "graph";
    exportReferencesGraph = [ "g" dep "drv" (builtins.unsafeDiscardOutputDependency dep.drvPath) "sub.x" "${bb}/bin" ];
    x = "${dep}";
    args = sh "$builder mkdir $out; $builder cp g drv sub.x $out/; $builder ls -a > $out/ls";
  };
  # structured form: closure infos as JSON in .attrs.json.
  sgraph = smk {
    name = "sgraph";
    exportReferencesGraph = { g = [ dep ]; single = dep; both = [ dep bb ]; };
    args = sh (sout + "$b mkdir $out; $b cp .attrs.json .attrs.sh $out/");
  };
  graphOdd = mk { name = "graph-odd"; exportReferencesGraph = [ "g" ]; args = sh "echo > $out"; };
  graphName = mk { name = "graph-name"; exportReferencesGraph = [ "0g" dep ]; args = sh "echo > $out"; };
  graphNonStore = mk { name = "graph-nonstore"; exportReferencesGraph = [ "g" "/etc/passwd" ]; args = sh "echo > $out"; };
  graphNotInput = mk { name = "graph-notinput"; exportReferencesGraph = [ "g" (discard "${dep}") ]; args = sh "echo > $out"; };

  # reference checks that pass
  refsOk = mk { name = "refs-ok"; allowedReferences = [ dep ]; args = sh "echo ${dep} > $out"; };
  reqOk = mk { name = "req-ok"; allowedRequisites = [ dep dep2 ]; args = sh "echo ${dep} $out > $out"; };
  selfOk = mk { name = "self-ok"; allowedReferences = [ "out" ]; args = sh "echo $out > $out"; };
  disOk = mk { name = "dis-ok"; disallowedReferences = [ dep2 ]; disallowedRequisites = [ bb ]; args = sh "echo ${dep} > $out"; };
  multiOk = mk {
    name = "multi-ok"; outputs = [ "out" "dev" ];
    allowedReferences = [ "dev" dep ];
    args = sh "echo $dev > $out; echo ${dep} > $dev";
  };
  structOk = smk {
    name = "struct-ok";
    outputChecks.out = { allowedReferences = [ dep ]; allowedRequisites = [ "out" dep dep2 ]; maxSize = 1000; maxClosureSize = 10000; };
    args = sh (sout + "echo ${dep} > $out");
  };

  # reference and size checks that fail
  refsBad = mk { name = "refs-bad"; allowedReferences = []; args = sh "echo ${dep} > $out"; };
  reqBad = mk { name = "req-bad"; allowedRequisites = [ dep ]; args = sh "echo ${dep} > $out"; };
  disRefBad = mk { name = "disref-bad"; disallowedReferences = [ dep bb ]; args = sh "echo ${dep} ${bb} > $out"; };
  disReqBad = mk { name = "disreq-bad"; disallowedRequisites = [ dep2 ]; args = sh "echo ${dep} > $out"; };
  selfBad = mk { name = "self-bad"; allowedReferences = [ dep ]; args = sh "echo $out ${dep} > $out"; };
  illegal = mk { name = "illegal"; allowedReferences = [ "nonsense" ]; args = sh "echo > $out"; };
  multiBad = mk {
    name = "multi-bad"; outputs = [ "out" "dev" ];
    disallowedReferences = [ dep ];
    args = sh "echo $dev > $out; echo ${dep} > $dev";
  };
  structSelf = smk {
    name = "struct-self";
    outputChecks.out.allowedRequisites = [ dep dep2 ];
    args = sh (sout + "echo ${dep} > $out");
  };
  structRefs = smk {
    name = "struct-refs";
    outputChecks.out.disallowedReferences = [ dep ];
    args = sh (sout + "echo ${dep} > $out");
  };
  structSize = smk { name = "struct-size"; outputChecks.out.maxSize = 100; args = sh (sout + "echo ${dep} > $out"); };
  structClosure = smk { name = "struct-closure"; outputChecks.out.maxClosureSize = 300; args = sh (sout + "echo ${dep} > $out"); };

  # requiredSystemFeatures
  featKvm = mk { name = "feat-kvm"; requiredSystemFeatures = [ "kvm" "onix-test-feature" ]; args = sh "echo > $out"; };
  featFoo = mk { name = "feat-foo"; requiredSystemFeatures = [ "foo" ]; args = sh "echo foo > $out"; };
  sfeatFoo = smk { name = "sfeat-foo"; requiredSystemFeatures = [ "foo" "zzz" ]; args = sh (sout + "echo > $out"); };

  # extra-platforms: what the builder sees of the machine
  personality = "$builder uname -m > $out; $builder cat /proc/self/personality >> $out";
  i686 = mk { name = "i686"; system = "i686-linux"; args = sh personality; };
  native = mk { name = "native"; args = sh personality; };
  armv7l = mk { name = "armv7l"; system = "armv7l-linux"; args = sh "echo > $out"; };
  i686b = mk { name = "i686-b"; system = "i686-linux"; args = sh "echo > $out"; };
}
`

// nixRun runs a Nix tool against the store at root (sandbox on, no
// substituters) and returns stdout, stderr and the error.
func nixRun(root string, extra []string, args ...string) (string, string, error) {
	base := []string{"--store", "local?root=" + root, "--option", "substituters", "", "--option", "sandbox", "true"}
	cmd := exec.Command(args[0], append(append(base, extra...), args[1:]...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return strings.TrimSpace(stdout.String()), stderr.String(), err
}

// nixErrorMessage is the message of the last "error: " of Nix's stderr
// with whitespace normalised (Nix indents continuation lines).
func nixErrorMessage(stderr string) string {
	i := strings.LastIndex(stderr, "error: ")
	if i < 0 {
		return ""
	}
	return normSpace(stderr[i+len("error: "):])
}

func normSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

type attrsFixture struct {
	dir, file         string
	nixRoot, onixRoot string
	st                *store.Store
}

func newAttrsFixture(t *testing.T) *attrsFixture {
	t.Helper()
	needSandbox(t)
	if _, err := exec.LookPath("nix-build"); err != nil {
		t.Skip("skipping: nix-build (Nix 2.8) not installed")
	}
	f := &attrsFixture{dir: t.TempDir(), nixRoot: t.TempDir(), onixRoot: t.TempDir()}
	if err := os.Rename(busyboxDir(t), filepath.Join(f.dir, "bb")); err != nil {
		t.Fatal(err)
	}
	f.file = filepath.Join(f.dir, "default.nix")
	if err := os.WriteFile(f.file, []byte(attrsNix), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), store.Options{Root: f.onixRoot, ReservedSpace: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.st = st
	return f
}

// instantiate writes the attribute's .drv (and inputs) into onix's store
// with nix-instantiate.
func (f *attrsFixture) instantiate(t *testing.T, attr string) string {
	t.Helper()
	return nixTool(t, f.onixRoot, "nix-instantiate", f.file, "-A", attr)
}

func (f *attrsFixture) onixBuild(t *testing.T, o Options, drvs ...string) ([]Result, string, error) {
	t.Helper()
	status := &syncBuffer{}
	o.Store, o.InitArgs, o.Status, o.TmpDir, o.MaxJobs, o.Cores = f.st, []string{childArg}, status, t.TempDir(), 1, 1
	var reqs []Request
	for _, d := range drvs {
		reqs = append(reqs, Request{Path: d})
	}
	res, err := Realise(context.Background(), o, reqs)
	return res, status.String(), err
}

// compareBuilt checks that onix and Nix built the same paths with the same
// NAR hashes and references (see compareWithNix).
func (f *attrsFixture) compareBuilt(t *testing.T, nixOuts []string, res []Result) {
	t.Helper()
	compareWithNix(t, f.st, f.nixRoot, f.onixRoot, nixOuts, res)
}

// compareWithNix checks that the outputs onix built into st (under
// onixRoot) are exactly nixOuts, built by Nix under nixRoot, with the same
// NAR hashes and references, and that Nix reads onix's registrations.
func compareWithNix(t *testing.T, st *store.Store, nixRoot, onixRoot string, nixOuts []string, res []Result) {
	t.Helper()
	var onixOuts []string
	for _, r := range res {
		onixOuts = append(onixOuts, sortedOuts(r.Outputs)...)
	}
	nixOuts = slices.Clone(nixOuts)
	slices.Sort(nixOuts)
	slices.Sort(onixOuts)
	if !slices.Equal(nixOuts, onixOuts) {
		t.Fatalf("output paths differ:\nnix  %v\nonix %v", nixOuts, onixOuts)
	}
	for _, p := range nixOuts {
		nixHash := nixTool(t, nixRoot, "nix-store", "-q", "--hash", p)
		nixRefs := nixTool(t, nixRoot, "nix-store", "-q", "--references", p)
		info, err := st.QueryPathInfo(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		// nix-store -q --references prints in topological order.
		nixRefList := strings.Fields(nixRefs)
		slices.Sort(nixRefList)
		if info.NarHash.String() != nixHash || !slices.Equal(info.References, nixRefList) {
			t.Errorf("%s differs:\n nix  %s refs %q\n onix %s refs %q", p, nixHash, nixRefs, info.NarHash, info.References)
			diffDirs(t, filepath.Join(nixRoot, p), filepath.Join(onixRoot, p))
		}
		// Nix itself accepts onix's registration.
		if h := nixTool(t, onixRoot, "nix-store", "-q", "--hash", p); h != nixHash {
			t.Errorf("nix reads onix's hash for %s as %s", p, h)
		}
	}
}

// expectBothFail builds attr with Nix and onix, both of which must fail
// with the same message, leaving none of the derivation's outputs valid.
func (f *attrsFixture) expectBothFail(t *testing.T, attr string, nixExtra []string, o Options) {
	t.Helper()
	_, stderr, err := nixRun(f.nixRoot, nixExtra, "nix-build", "--no-out-link", f.file, "-A", attr)
	if err == nil {
		t.Errorf("%s: nix-build succeeded, want failure", attr)
		return
	}
	want := nixErrorMessage(stderr)
	if want == "" {
		t.Fatalf("%s: no error message from nix-build:\n%s", attr, stderr)
	}
	drv := f.instantiate(t, attr)
	res, status, berr := f.onixBuild(t, o, drv)
	if berr == nil {
		t.Errorf("%s: onix built it, want failure like Nix's: %s\n%s", attr, want, status)
		return
	}
	if got := normSpace(berr.Error()); !strings.Contains(got, want) {
		t.Errorf("%s: error messages differ:\n nix  %s\n onix %s", attr, want, got)
	}
	t.Logf("%s: both fail with: %s", attr, want)
	for _, r := range res {
		for name, p := range r.Outputs {
			if ok, err := f.st.IsValid(context.Background(), p); err != nil || ok {
				t.Errorf("%s: output %s (%s) is valid in onix's store after the failure (err %v)", attr, name, p, err)
			}
			if _, _, err := nixRun(f.nixRoot, nil, "nix-store", "--check-validity", p); err == nil {
				t.Errorf("%s: output %s (%s) is valid in Nix's store after the failure", attr, name, p)
			}
		}
	}
}

func TestDerivationAttrsAgainstNix(t *testing.T) {
	f := newAttrsFixture(t)

	// Successful builds: same outputs, byte for byte.
	good := []string{"graph", "sgraph", "refsOk", "reqOk", "selfOk", "disOk", "multiOk", "structOk"}
	args := []string{"nix-build", "--no-out-link", f.file}
	for _, a := range good {
		args = append(args, "-A", a)
	}
	out, stderr, err := nixRun(f.nixRoot, nil, args...)
	if err != nil {
		t.Fatalf("nix-build: %v\n%s", err, stderr)
	}
	nixOuts := strings.Fields(out)
	var drvs []string
	for _, a := range good {
		drvs = append(drvs, f.instantiate(t, a))
	}
	res, status, berr := f.onixBuild(t, Options{}, drvs...)
	if berr != nil {
		t.Fatalf("onix build: %v\n%s", berr, status)
	}
	// multiOk's dev output is built but not printed by nix-build -A multiOk.
	for _, r := range res {
		if dev, ok := r.Outputs["dev"]; ok {
			nixOuts = append(nixOuts, dev)
		}
	}
	f.compareBuilt(t, nixOuts, res)

	// The exported graphs are really there (not just equally absent).
	g := readStoreFile(t, f.onixRoot, res[0].Outputs["out"], "g")
	if !strings.Contains(g, "-dep2\n\n0\n") || !strings.Contains(g, "-dep\n\n1\n") {
		t.Errorf("graph/g does not look like a validity registration:\n%s", g)
	}
	if js := readStoreFile(t, f.onixRoot, res[1].Outputs["out"], ".attrs.json"); !strings.Contains(js, `"closureSize":`) {
		t.Errorf("sgraph/.attrs.json has no closure infos:\n%s", js)
	}

	// Failures: same message, nothing valid.
	for _, a := range []string{
		"graphOdd", "graphName", "graphNonStore", "graphNotInput",
		"refsBad", "reqBad", "disRefBad", "disReqBad", "selfBad", "illegal", "multiBad",
		"structSelf", "structRefs", "structSize", "structClosure",
	} {
		t.Run(a, func(t *testing.T) { f.expectBothFail(t, a, nil, Options{}) })
	}
}

func TestSystemFeaturesAgainstNix(t *testing.T) {
	f := newAttrsFixture(t)
	// Default features: Nix's defaults on this machine must be onix's.
	f.expectBothFail(t, "featKvm", nil, Options{})
	// Configured features, env and structured attributes.
	fooBar := []string{"--option", "system-features", "foo bar"}
	f.expectBothFail(t, "featKvm", fooBar, Options{SystemFeatures: []string{"foo", "bar"}})
	f.expectBothFail(t, "sfeatFoo", fooBar, Options{SystemFeatures: []string{"foo", "bar"}})
	f.expectBothFail(t, "featFoo", []string{"--option", "system-features", ""}, Options{SystemFeatures: []string{}})

	// A feature the machine has: both build it.
	out, stderr, err := nixRun(f.nixRoot, fooBar, "nix-build", "--no-out-link", f.file, "-A", "featFoo")
	if err != nil {
		t.Fatalf("nix-build featFoo: %v\n%s", err, stderr)
	}
	res, status, berr := f.onixBuild(t, Options{SystemFeatures: []string{"bar", "foo"}}, f.instantiate(t, "featFoo"))
	if berr != nil {
		t.Fatalf("onix build featFoo: %v\n%s", berr, status)
	}
	f.compareBuilt(t, []string{out}, res)
}

// extra-platforms: by default (Nix's: i686-linux on x86_64-linux) an
// i686-linux derivation builds, in the 32-bit personality with address
// space randomisation off, as with Nix, and the native one gets the same
// personality flags Nix gives; configured away, or for a platform not
// listed, both refuse with the same message.
func TestExtraPlatformsAgainstNix(t *testing.T) {
	if HostSystem() != "x86_64-linux" {
		t.Skip("the default extra platform (i686-linux) exists only on x86_64-linux hosts")
	}
	f := newAttrsFixture(t)
	out, stderr, err := nixRun(f.nixRoot, nil, "nix-build", "--no-out-link", f.file, "-A", "i686", "-A", "native")
	if err != nil {
		t.Fatalf("nix-build i686 native: %v\n%s", err, stderr)
	}
	res, status, berr := f.onixBuild(t, Options{}, f.instantiate(t, "i686"), f.instantiate(t, "native"))
	if berr != nil {
		t.Fatalf("onix build i686 native: %v\n%s", berr, status)
	}
	f.compareBuilt(t, strings.Fields(out), res)
	if got := readStoreFile(t, f.onixRoot, res[0].Outputs["out"], ""); got != "i686\n00040008\n" {
		t.Errorf("i686 build saw %q, want uname i686 and personality PER_LINUX32|ADDR_NO_RANDOMIZE", got)
	}

	f.expectBothFail(t, "armv7l", nil, Options{})
	none := []string{"--option", "extra-platforms", ""}
	f.expectBothFail(t, "i686b", none, Options{ExtraPlatforms: []string{}})
}

func readStoreFile(t *testing.T, root, p, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, p, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
