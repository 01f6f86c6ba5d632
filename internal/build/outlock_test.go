package build

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onix-dev/onix/internal/store"
)

// lockHelperEnv makes the test binary a second onix process: it realises
// one derivation (ROOT\nDRV\nTMPDIR) and exits.
const lockHelperEnv = "ONIX_TEST_BUILD_LOCK_HELPER"

// TestBuildLockHelper is not a test: it is the body of the helper
// processes of the cross-process locking tests.
func TestBuildLockHelper(t *testing.T) {
	arg := os.Getenv(lockHelperEnv)
	if arg == "" {
		t.Skip("runs only as a helper process of TestConcurrentBuildsBuildOnce")
	}
	parts := strings.Split(arg, "\n")
	if len(parts) != 3 {
		t.Fatalf("bad %s %q", lockHelperEnv, arg)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Root: parts[0], ReservedSpace: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, err = Realise(ctx, Options{Store: st, InitArgs: []string{childArg}, Status: os.Stderr, TmpDir: parts[2], MaxJobs: 1, Cores: 1},
		[]Request{{Path: parts[1]}})
	if err != nil {
		t.Fatalf("helper build: %v", err)
	}
}

// helperProc is a process whose combined output is collected as it runs.
type helperProc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (h *helperProc) output() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.out.String()
}

func startProc(t *testing.T, cmd *exec.Cmd) *helperProc {
	t.Helper()
	h := &helperProc{cmd: cmd, done: make(chan struct{})}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			h.mu.Lock()
			h.out.WriteString(sc.Text() + "\n")
			h.mu.Unlock()
		}
		close(h.done)
	}()
	go func() {
		_ = cmd.Wait()
		pw.Close()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil && cmd.Process != nil {
			_ = cmd.Process.Kill()
		}
		<-h.done
	})
	return h
}

// startLockHelper starts a second onix process (this test binary, see
// TestBuildLockHelper) building drv in e's store.
func startLockHelper(t *testing.T, e *env, drv string) *helperProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBuildLockHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+e.root+"\n"+drv+"\n"+t.TempDir())
	return startProc(t, cmd)
}

// waitFor polls until h's output contains s.
func (h *helperProc) waitFor(t *testing.T, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(h.output(), s) {
		select {
		case <-h.done:
			t.Fatalf("process ended before printing %q:\n%s", s, h.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %q:\n%s", s, h.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *helperProc) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-h.done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("process did not finish:\n%s", h.output())
	}
	for h.cmd.ProcessState == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if !h.cmd.ProcessState.Success() {
		return fmt.Errorf("%s", h.cmd.ProcessState)
	}
	return nil
}

const slowMarker = "slow-builder-ran"

func slowDrv(e *env) (string, string) {
	drv, outs := e.add(drvSpec{name: "slow", script: "echo " + slowMarker + "; $builder sleep 2; echo done > $out"})
	return drv, outs["out"]
}

// checkStoreAfter verifies the store and that out is valid with its lock
// file gone (Nix deletes output locks once the outputs are valid).
func checkStoreAfter(t *testing.T, e *env, out string) {
	t.Helper()
	ctx := context.Background()
	if ok, err := e.st.IsValid(ctx, out); err != nil || !ok {
		t.Fatalf("%s not valid after the builds (err %v)", out, err)
	}
	if got := e.read(out, ""); got != "done\n" {
		t.Errorf("output content %q", got)
	}
	v, err := e.st.Verify(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Missing)+len(v.Modified)+len(v.Errors) > 0 {
		t.Errorf("store verification: %+v", v)
	}
	if _, err := os.Stat(e.st.RealPath(out) + ".lock"); err == nil {
		t.Errorf("lock file %s.lock left behind", e.st.RealPath(out))
	}
}

// Two onix processes building the same derivation at once: the second
// waits for the first's output locks, then finds the outputs valid and
// does not run the builder.
func TestConcurrentBuildsBuildOnce(t *testing.T) {
	e := newEnv(t)
	drv, out := slowDrv(e)
	a := startLockHelper(t, e, drv)
	a.waitFor(t, slowMarker, time.Minute) // A is inside its build
	b := startLockHelper(t, e, drv)
	errA, errB := a.wait(t), b.wait(t)
	if errA != nil || errB != nil {
		t.Fatalf("builds failed: A %v, B %v\nA:\n%s\nB:\n%s", errA, errB, a.output(), b.output())
	}
	if n := strings.Count(a.output()+b.output(), slowMarker); n != 1 {
		t.Errorf("the builder ran %d times, want once\nA:\n%s\nB:\n%s", n, a.output(), b.output())
	}
	wantWait := fmt.Sprintf("waiting for lock on '%s'", e.st.RealPath(out))
	if !strings.Contains(b.output(), wantWait) {
		t.Errorf("second build did not wait for the lock (want %q):\n%s", wantWait, b.output())
	}
	if strings.Contains(b.output(), "building '"+drv+"'") {
		t.Errorf("second build says it built:\n%s", b.output())
	}
	// The second process did not replace the build log with an empty one.
	r, err := ReadLog(e.st, drv)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if log, _ := io.ReadAll(r); !strings.Contains(string(log), slowMarker) {
		t.Errorf("build log %q lacks the builder's output", log)
	}
	checkStoreAfter(t, e, out)
}

// onix takes the same locks as Nix 2.8: a nix-store --realise started
// while onix builds waits and then reuses onix's output, and onix waits
// for a build Nix is running.
func TestBuildLocksInteroperateWithNix(t *testing.T) {
	e := newEnv(t)
	if _, err := exec.LookPath("nix-store"); err != nil {
		t.Skip("skipping: nix-store (Nix 2.8) not installed")
	}
	nixRealise := func(drv string) *helperProc {
		return startProc(t, exec.Command("nix-store", "--store", "local?root="+e.root,
			"--option", "substituters", "", "--option", "sandbox", "true", "--realise", drv))
	}

	t.Run("nix waits for onix", func(t *testing.T) {
		drv, out := slowDrv(e)
		a := startLockHelper(t, e, drv)
		a.waitFor(t, slowMarker, time.Minute)
		n := nixRealise(drv)
		errA, errN := a.wait(t), n.wait(t)
		if errA != nil || errN != nil {
			t.Fatalf("builds failed: onix %v, nix %v\nonix:\n%s\nnix:\n%s", errA, errN, a.output(), n.output())
		}
		if strings.Contains(n.output(), slowMarker) {
			t.Errorf("nix ran the builder although onix was building it:\n%s", n.output())
		}
		if !strings.Contains(n.output(), out) {
			t.Errorf("nix-store --realise did not print %s:\n%s", out, n.output())
		}
		checkStoreAfter(t, e, out)
	})

	t.Run("onix waits for nix", func(t *testing.T) {
		drv, out := e.add(drvSpec{name: "slow2", script: "echo " + slowMarker + "; $builder sleep 2; echo done > $out"})
		n := nixRealise(drv)
		n.waitFor(t, "building '"+drv+"'", time.Minute)
		time.Sleep(300 * time.Millisecond) // let Nix's builder start
		e.out = &syncBuffer{}
		if _, err := e.realise(e.opts(), drv); err != nil {
			t.Fatalf("onix: %v\n%s", err, e.out)
		}
		if err := n.wait(t); err != nil {
			t.Fatalf("nix: %v\n%s", err, n.output())
		}
		if strings.Contains(e.out.String(), slowMarker) || strings.Contains(e.out.String(), "building '") {
			t.Errorf("onix built although nix was building it:\n%s", e.out)
		}
		if !strings.Contains(e.out.String(), "waiting for lock on '"+e.st.RealPath(out["out"])+"'") {
			t.Errorf("onix did not wait for nix's lock:\n%s", e.out)
		}
		checkStoreAfter(t, e, out["out"])
	})
}
