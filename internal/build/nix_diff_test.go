package build

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onix-dev/onix/internal/store"
)

// diffNix is a set of derivations whose outputs capture what a builder can
// observe (environment, identity, /etc, file modes, passAsFile, structured
// attrs), plus multiple outputs, references and fixed outputs. Built by Nix
// 2.8 and by onix they must give identical output paths, NAR hashes and
// references.
const diffNix = `
let
  bb = builtins.path { path = ./bb; name = "busybox"; };
  sh = script: [ "sh" "-c" script ];
  mk = attrs: derivation ({ system = builtins.currentSystem; builder = "${bb}/bin/busybox"; } // attrs);
in rec {
  envdump = mk {
    name = "envdump";
    outputs = [ "out" "dev" ];
    passAsFile = [ "big" ];
    big = "passed as a file";
    args = sh ''
      b=$builder
      $b mkdir $out $dev
      cd $out
      $b env | $b sort > $dev/env
      $b id > id
      $b cat /etc/passwd /etc/group /etc/hosts > etc
      $b hostname > hostname
      [ -t 1 ] && echo tty > tty || echo notty > tty
      [ -t 0 ] && echo tty > stdin || echo notty > stdin
      umask > umask
      echo "$0" "$@" > args
      echo $$ > pid
      $b stat -c '%n %a %u %g' / /tmp /build /nix /nix/store /etc /dev /dev/null /proc > modes
      $b ls / > root
      $b ls -a /build > build
      $b ls /dev | $b grep -v kvm > dev
      $b cat "$bigPath" > big
      $b grep -E '^(CapEff|CapPrm|CapInh|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status > caps
      $b ip -o link | $b cut -d: -f2 > net
      $b cat /proc/self/uid_map /proc/self/gid_map | $b awk '{print $1, $3}' > maps
      $b ls /nix/store > $dev/store
      $b chmod u+s big 2> suid || echo suid-denied >> suid
      echo $out > $dev/ref
      $b ln -s $out $dev/link
      echo builder-output
    '';
  };
  structured = mk {
    name = "structured";
    __structuredAttrs = true;
    str = "a 'quoted' \"string\"\n";
    int = 42;
    flt = 1.5;
    bool = true;
    nul = null;
    list = [ "x" 1 false ];
    set = { k = "v"; n = 2; };
    nested = { a = [ 1 ]; };
    args = sh ''
      b=${bb}/bin/busybox
      out=$($b sed -n 's/.*"outputs":{"out":"\([^"]*\)".*/\1/p' /build/.attrs.json)
      $b mkdir $out
      $b cat /build/.attrs.json > $out/attrs.json
      $b cat /build/.attrs.sh > $out/attrs.sh
      $b env | $b grep -v NIX_ATTRS_ | $b sort > $out/env
      $b ls -a /build > $out/build
    '';
  };
  fixedFlat = mk {
    name = "fixed-flat";
    outputHash = "sha256-WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM=";
    args = sh "echo hello > $out; echo NIX_OUTPUT_CHECKED=$NIX_OUTPUT_CHECKED";
  };
  fixedRec = mk {
    name = "fixed-rec";
    outputHashMode = "recursive";
    outputHashAlgo = "sha512";
    outputHash = "@SHA512@";
    args = sh "$builder mkdir -p $out/bin; echo hi > $out/f; $builder cp $builder $out/bin/; $builder ln -s f $out/l";
  };
  user = mk {
    name = "user";
    args = sh "$builder mkdir $out; $builder cat ${envdump.dev}/ref > $out/copied; echo ${fixedFlat} > $out/refs";
  };
}
`

// nixTool is nixRun that fails the test when the tool fails.
func nixTool(t *testing.T, root string, args ...string) string {
	t.Helper()
	out, stderr, err := nixRun(root, nil, args...)
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

func TestDifferentialAgainstNix(t *testing.T) {
	needSandbox(t)
	if _, err := exec.LookPath("nix-build"); err != nil {
		t.Skip("skipping: nix-build (Nix 2.8) not installed")
	}
	dir := t.TempDir()
	if err := os.Rename(busyboxDir(t), filepath.Join(dir, "bb")); err != nil {
		t.Fatal(err)
	}
	// The recursive fixed output's hash: let Nix tell us (first build fails
	// with a mismatch naming the real hash).
	expr := strings.ReplaceAll(diffNix, "@SHA512@", "")
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, "default.nix"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(expr)
	probe := t.TempDir()
	cmd := exec.Command("nix-build", "--store", "local?root="+probe, "--option", "substituters", "", "--option", "sandbox", "true",
		"--no-out-link", filepath.Join(dir, "default.nix"), "-A", "fixedRec")
	msg, _ := cmd.CombinedOutput()
	i := strings.Index(string(msg), "got:    sha512-")
	if i < 0 {
		t.Fatalf("could not probe the recursive hash:\n%s", msg)
	}
	got := strings.Fields(string(msg)[i+len("got:"):])[0]
	write(strings.ReplaceAll(diffNix, "@SHA512@", got))

	attrs := []string{"envdump", "structured", "fixedFlat", "fixedRec", "user"}
	nixRoot, onixRoot := t.TempDir(), t.TempDir()
	var nixOuts []string
	for _, a := range append(attrs, "envdump.dev") {
		nixOuts = append(nixOuts, strings.Fields(nixTool(t, nixRoot, "nix-build", "--no-out-link", filepath.Join(dir, "default.nix"), "-A", a))...)
	}
	var drvs []string
	for _, a := range attrs {
		drvs = append(drvs, strings.Fields(nixTool(t, onixRoot, "nix-instantiate", filepath.Join(dir, "default.nix"), "-A", a))...)
	}

	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Root: onixRoot, ReservedSpace: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var reqs []Request
	for _, d := range drvs {
		reqs = append(reqs, Request{Path: d})
	}
	status := &syncBuffer{}
	res, err := Realise(ctx, Options{Store: st, InitArgs: []string{childArg}, Status: status, TmpDir: t.TempDir(), MaxJobs: 2, Cores: 2}, reqs)
	if err != nil {
		t.Fatalf("onix build: %v\n%s", err, status)
	}
	compareWithNix(t, st, nixRoot, onixRoot, nixOuts, res)
	nixTool(t, onixRoot, "nix-store", "--verify", "--check-contents")
	if !strings.Contains(status.String(), "envdump> builder-output") {
		t.Errorf("builder output not shown:\n%s", status)
	}
}

func sortedOuts(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// diffDirs reports differing files between two trees, for diagnosis.
func diffDirs(t *testing.T, a, b string) {
	t.Helper()
	out, _ := exec.Command("diff", "-r", a, b).CombinedOutput()
	t.Logf("diff -r nix onix:\n%s", out)
}
