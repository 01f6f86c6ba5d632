package build

import (
	"fmt"
	"github.com/onix-dev/onix/internal/procinfo"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSandboxPoolSession builds chains on two slots, which reuse sandbox
// roots and inits started ahead: no build sees what an earlier one left in
// /tmp, the store or /build, and when Realise returns, everything the
// session started in the background is done: build and sandbox
// directories removed, spare inits and the spawner reaped.
func TestSandboxPoolSession(t *testing.T) {
	e := newEnv(t)
	script := `bb=` + e.bb + `/bin/busybox
check() { l=$($bb ls -A "$1"); if [ -n "$l" ]; then echo "leftover in $1: $l"; exit 1; fi; }
check /tmp
check /build
for p in $($bb ls /nix/store); do
  case " $inputs " in *" /nix/store/$p "*) ;; *) echo "unexpected in store: $p"; exit 1;; esac
done
echo junk > /tmp/junk; $bb mkdir -p /tmp/ro/x; $bb chmod 0500 /tmp/ro
echo junk > /build/junk
# Enough for the removal of /build to take a while.
$bb mkdir /build/many; (cd /build/many && $bb seq $many | $bb xargs $bb touch)
echo junk > /nix/store/00000000000000000000000000000000-junk
echo $inputs > $out`
	var tops []string
	for c := 0; c < 2; c++ {
		prev, inputs := "", []string{e.bb}
		for i := 0; i < 4; i++ {
			s := drvSpec{name: fmt.Sprintf("c%d-%d", c, i), script: script,
				env: map[string]string{"inputs": strings.Join(inputs, " "), "many": "1"}}
			if i == 3 {
				s.env["many"] = "1000"
			}
			if prev != "" {
				s.deps = []string{prev}
			}
			drv, outs := e.add(s)
			prev = drv
			inputs = append(inputs, outs["out"])
		}
		tops = append(tops, prev)
	}
	o := e.opts()
	o.MaxJobs = 2
	res, err := e.realise(o, tops...)
	if err != nil {
		t.Fatalf("realise: %v\n%s", err, e.out.String())
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("%s: %v\n%s", r.DrvPath, r.Err, e.out.String())
		}
	}
	if left := tmpLeftovers(t, o.TmpDir); len(left) > 0 {
		t.Errorf("build directories left after Realise: %v", left)
	}
	if left := chrootLeftovers(t, e.st.RealStoreDir()); len(left) > 0 {
		t.Errorf("sandbox directories left after Realise: %v", left)
	}
	if kids := children(t); len(kids) > 0 {
		t.Errorf("processes left after Realise: %v", kids)
	}
}

// children lists the child processes of this process.
func children(t *testing.T) []string {
	t.Helper()
	kids, err := procinfo.Children()
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	return kids
}

// tmpLeftovers lists what is left in dir.
func tmpLeftovers(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func chrootLeftovers(t *testing.T, storeDir string) []string {
	t.Helper()
	var out []string
	for _, n := range tmpLeftovers(t, storeDir) {
		if strings.HasSuffix(n, ".chroot") {
			out = append(out, filepath.Join(storeDir, n))
		}
	}
	return out
}
