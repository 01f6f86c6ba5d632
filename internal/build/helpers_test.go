package build

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/onix-dev/onix/internal/build/sandbox"
	"github.com/onix-dev/onix/internal/nixcompat/derivation"
	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/store"
)

const childArg = "__sandbox-child"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == childArg {
		os.Exit(sandbox.ChildMain())
	}
	os.Exit(m.Run())
}

// env is a test store with busybox added as a source path.
type env struct {
	t    *testing.T
	st   *store.Store
	root string
	bb   string // store path of the busybox dir (bin/busybox)
	h    *derivation.Hasher
	out  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func needSandbox(t *testing.T) {
	t.Helper()
	if ok, why := sandbox.Available(); !ok {
		t.Skipf("sandbox unavailable: %s", why)
	}
	if err := exec.Command("unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "true").Run(); err != nil {
		t.Skipf("skipping: unshare does not work here: %v", err)
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("skipping: /bin/busybox (busybox-static) not installed")
	}
}

// busyboxDir makes dir/bin/busybox, the layout the tests add to the store.
func busyboxDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bb")
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newEnv(t *testing.T) *env {
	t.Helper()
	needSandbox(t)
	root := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Root: root, ReservedSpace: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bb, err := st.AddToStore(ctx, "busybox", busyboxDir(t), store.Method(1), hash.SHA256, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, root: root, bb: bb, out: &syncBuffer{}}
	e.h = derivation.NewHasher(st.StoreDir(), func(ctx context.Context, p string) (*derivation.Derivation, error) {
		data, err := os.ReadFile(st.RealPath(p))
		if err != nil {
			return nil, err
		}
		return derivation.Parse(filepath.Base(p), data)
	})
	return e
}

// drvSpec describes a test derivation run by busybox sh -c script.
type drvSpec struct {
	name    string
	script  string
	deps    []string // drv paths (output "out")
	srcs    []string
	env     map[string]string
	outputs []string
	// fixed output
	hash, hashAlgo, hashMode string
	builder                  string
	args                     []string
}

// add instantiates s into the store, returning the drv path and outputs.
func (e *env) add(s drvSpec) (string, map[string]string) {
	e.t.Helper()
	ctx := context.Background()
	envm := map[string]string{"name": s.name, "system": HostSystem()}
	builder := e.bb + "/bin/busybox"
	args := []string{"sh", "-c", s.script}
	if s.builder != "" {
		builder, args = s.builder, s.args
	}
	envm["builder"] = builder
	for k, v := range s.env {
		envm[k] = v
	}
	spec := derivation.Spec{
		Name: s.name, System: HostSystem(), Builder: builder, Args: args,
		Outputs: s.outputs, Env: envm, InputSrcs: append([]string{e.bb}, s.srcs...),
		InputDrvs: map[string][]string{},
	}
	if s.builder != "" {
		spec.InputSrcs = s.srcs
	}
	if sys, ok := s.env["system"]; ok {
		spec.System = sys
	}
	if s.outputs != nil {
		envm["outputs"] = strings.Join(s.outputs, " ")
	}
	for _, d := range s.deps {
		spec.InputDrvs[d] = []string{"out"}
	}
	if s.hash != "" {
		spec.HasOutputHash = true
		spec.OutputHash, spec.OutputHashAlgo, spec.OutputHashMode = s.hash, s.hashAlgo, s.hashMode
		envm["outputHash"], envm["outputHashAlgo"], envm["outputHashMode"] = s.hash, s.hashAlgo, s.hashMode
	}
	res, err := derivation.Build(ctx, e.h, spec)
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := e.st.AddTextToStore(ctx, s.name+".drv", res.Drv.ATerm(), res.Drv.References())
	if err != nil {
		e.t.Fatal(err)
	}
	if p != res.DrvPath {
		e.t.Fatalf("drv path mismatch: store %s, derivation %s", p, res.DrvPath)
	}
	return p, res.Outputs
}

func (e *env) opts() Options {
	return Options{
		Store: e.st, InitArgs: []string{childArg}, Status: e.out, TmpDir: e.t.TempDir(),
		MaxJobs: 1, Cores: 1,
	}
}

func (e *env) realise(o Options, drvs ...string) ([]Result, error) {
	e.t.Helper()
	var reqs []Request
	for _, d := range drvs {
		reqs = append(reqs, Request{Path: d})
	}
	return Realise(context.Background(), o, reqs)
}

func (e *env) read(p string, rel string) string {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.st.RealPath(p), rel))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}
