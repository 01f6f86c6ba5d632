package store

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/nar"
)

// TestHelperProcess is re-executed by other tests as a separate process.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv("ONIX_STORE_HELPER")
	if mode == "" {
		t.Skip("helper process only")
	}
	root := os.Getenv("ONIX_STORE_HELPER_ROOT")
	ctx := context.Background()
	s, err := Open(ctx, Options{Root: root, ReservedSpace: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	emit := func(p string) { fmt.Fprintln(out, p); out.Flush() }
	switch mode {
	case "addloop": // add ever new trees until killed
		src, _ := os.MkdirTemp("", "onixsrc")
		defer os.RemoveAll(src)
		for i := 0; ; i++ {
			d := filepath.Join(src, strconv.Itoa(i))
			for j := 0; j < 20; j++ {
				os.MkdirAll(filepath.Join(d, "sub"), 0o755)
				os.WriteFile(filepath.Join(d, "sub", strconv.Itoa(j)), []byte(strings.Repeat(fmt.Sprint(i, j), 500)), 0o644)
			}
			p, err := s.AddToStore(ctx, "tree", d, Recursive, hash.SHA256, nil, nil)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
			emit(p)
			q, err := s.AddTextToStore(ctx, "t", []byte(fmt.Sprint(i, p)), []string{p})
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
			emit(q)
		}
	case "addnarsloop": // import ever new batches of NARs with AddNARs until killed
		src, _ := os.MkdirTemp("", "onixsrc")
		defer os.RemoveAll(src)
		var prev string
		for i := 0; ; i++ {
			srcs, err := narBatch(s, src, i, prev)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
			res, err := s.AddNARs(ctx, srcs, 3)
			if err == nil {
				err = res.Err()
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
			for _, p := range res.Registered {
				emit(p)
			}
			prev = res.Registered[len(res.Registered)-1]
		}
	case "addsame": // concurrent writers of the same content
		d, _ := os.MkdirTemp("", "onixsrc")
		defer os.RemoveAll(d)
		for j := 0; j < 50; j++ {
			os.WriteFile(filepath.Join(d, strconv.Itoa(j)), []byte(strings.Repeat("same", 1000+j)), 0o644)
		}
		p, err := s.AddToStore(ctx, "same", d, Recursive, hash.SHA256, nil, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		emit(p)
	case "hold": // add a path, keep it temp-rooted until killed
		p, err := s.AddTextToStore(ctx, "held", []byte(os.Getenv("ONIX_STORE_HELPER_ARG")), nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		emit(p)
		time.Sleep(time.Hour)
	}
	os.Exit(0)
}

// narBatch makes a batch of 6 content-addressed NARs for AddNARs from
// fresh trees under dir: each refers to the one before it (the first to
// prev, if set), so the batch must be registered in dependency order.
func narBatch(s *Store, dir string, i int, prev string) ([]NARSource, error) {
	var srcs []NARSource
	for k := 0; k < 6; k++ {
		d := filepath.Join(dir, fmt.Sprintf("%d-%d", i, k))
		for j := 0; j < 10; j++ {
			if err := os.MkdirAll(filepath.Join(d, "sub"), 0o755); err != nil {
				return nil, err
			}
			content := strings.Repeat(fmt.Sprint(i, k, j), 2000)
			if err := os.WriteFile(filepath.Join(d, "sub", strconv.Itoa(j)), []byte(content), 0o644); err != nil {
				return nil, err
			}
		}
		var b bytes.Buffer
		if err := nar.DumpPath(context.Background(), &b, d, nil); err != nil {
			return nil, err
		}
		data := b.Bytes()
		nh := hash.Sum(hash.SHA256, data)
		var refs []string
		if prev != "" {
			refs = []string{prev}
		}
		sp, err := s.storeDir.MakeFixedOutputPath("batch", Recursive, nh, refs, false)
		if err != nil {
			return nil, err
		}
		path := s.storeDir.Path(sp)
		srcs = append(srcs, NARSource{
			Info: &PathInfo{Path: path, NarHash: nh, NarSize: uint64(len(data)), References: refs,
				CA: "fixed:r:" + nh.Encode(hash.Base32, true)},
			Open:   func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
			Origin: "test",
		})
		prev = path
	}
	// Hand them over referrers first: AddNARs must order them itself.
	slices.Reverse(srcs)
	return srcs, nil
}

func helper(t *testing.T, root, mode, arg string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "ONIX_STORE_HELPER="+mode, "ONIX_STORE_HELPER_ROOT="+root, "ONIX_STORE_HELPER_ARG="+arg)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, bufio.NewScanner(out)
}

// kill -9 a process that adds paths in a loop at random points; the store
// must stay valid, reported paths must be valid and whole, and leftovers
// must be cleaned up by the next Open / GC.
func TestCrashSafetyKill9(t *testing.T) {
	t.Run("add", func(t *testing.T) { testCrashSafetyKill9(t, "addloop") })
	t.Run("addnars", func(t *testing.T) { testCrashSafetyKill9(t, "addnarsloop") })
}

func testCrashSafetyKill9(t *testing.T, mode string) {
	ctx := testCtx(t)
	root := newRoot(t)
	reported := map[string]bool{}
	for round := 0; round < 10; round++ {
		cmd, sc := helper(t, root, mode, "")
		lines := make(chan string, 1000)
		go func() {
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		time.Sleep(time.Duration(60+rand.IntN(400)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		for l := range lines {
			reported[l] = true
		}
	}
	if len(reported) == 0 {
		t.Fatal("helper never added anything")
	}
	s := openTest(t, root)
	ents, _ := os.ReadDir(s.RealStoreDir())
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), tmpSuffix) {
			t.Errorf("temp entry %s survived Open", e.Name())
		}
	}
	for p := range reported {
		if ok, err := s.IsValid(ctx, p); err != nil || !ok {
			t.Errorf("reported path %s not valid: %v", p, err)
		}
	}
	v, err := s.Verify(ctx, true)
	if err != nil || !v.OK() {
		t.Fatalf("verify after kill -9: %+v %v", v, err)
	}
	t.Logf("%d paths reported over 10 crashes, %d valid", len(reported), v.Checked)
	if _, err := s.GC(ctx, GCOptions{}); err != nil {
		t.Fatal(err)
	}
	ents, _ = os.ReadDir(s.RealStoreDir())
	for _, e := range ents {
		if e.Name() != ".links" {
			t.Errorf("after GC, store dir still has %s", e.Name())
		}
	}
	if v, err := s.Verify(ctx, true); err != nil || !v.OK() || v.Checked != 0 {
		t.Errorf("verify after GC: %+v %v", v, err)
	}
}

// Several processes adding the same path at once all get it, once.
func TestConcurrentAddSamePath(t *testing.T) {
	ctx := testCtx(t)
	root := newRoot(t)
	var scs []*bufio.Scanner
	var cmds []*exec.Cmd
	for i := 0; i < 4; i++ {
		c, sc := helper(t, root, "addsame", "")
		cmds = append(cmds, c)
		scs = append(scs, sc)
	}
	var got []string
	for i, sc := range scs {
		if !sc.Scan() {
			t.Fatalf("helper %d printed nothing", i)
		}
		got = append(got, sc.Text())
		if err := cmds[i].Wait(); err != nil {
			t.Fatalf("helper %d: %v", i, err)
		}
	}
	for _, p := range got[1:] {
		if p != got[0] {
			t.Fatalf("different paths: %v", got)
		}
	}
	s := openTest(t, root)
	if v, err := s.Verify(ctx, true); err != nil || !v.OK() || v.Checked != 1 {
		t.Errorf("verify: %+v %v", v, err)
	}
}

// A temp root held by another live process protects the path from onix's
// GC and from real Nix's GC; once the process dies the path is garbage.
func TestTempRootsOfOtherProcess(t *testing.T) {
	ctx := testCtx(t)
	root := newRoot(t)
	cmd, sc := helper(t, root, "hold", "held content")
	if !sc.Scan() {
		t.Fatal("helper printed nothing")
	}
	held := sc.Text()
	s := openTest(t, root)
	roots, err := s.FindRoots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(roots[held]) != 1 || !strings.HasPrefix(roots[held][0], "{temp:") {
		t.Errorf("roots = %v", roots)
	}
	res, err := s.GC(ctx, GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.IsValid(ctx, held); !ok {
		t.Fatalf("GC deleted temp-rooted %s (deleted %v)", held, res.Deleted)
	}
	if _, err := exec.LookPath("nix-store"); err == nil {
		s.Close()
		out, err := nixErr(root, "nix-store", "--gc")
		if err != nil {
			t.Fatalf("nix-store --gc: %v\n%s", err, out)
		}
		s = openTest(t, root)
		if ok, _ := s.IsValid(ctx, held); !ok {
			t.Fatalf("Nix's GC deleted onix temp root %s", held)
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	res, err = s.GC(ctx, GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.IsValid(ctx, held); ok {
		t.Errorf("path of dead process not collected: %v", res)
	}
}

// While a GC holds the lock, another process adding a path goes through the
// GC socket, and the GC does not delete it.
func TestAddDuringGC(t *testing.T) {
	ctx := testCtx(t)
	root := newRoot(t)
	s := openTest(t, root)
	st, release, err := s.acquireGCLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = st
	cmd, sc := helper(t, root, "hold", "during gc")
	if !sc.Scan() {
		release()
		t.Fatal("helper printed nothing while GC lock held")
	}
	held := sc.Text()
	sp, _ := s.storeDir.Parse(held)
	st.mu.Lock()
	notified := st.newRoots[sp.HashPart]
	st.mu.Unlock()
	release()
	if !notified {
		t.Errorf("GC was not told about %s via the socket", held)
	}
	if _, err := s.GC(ctx, GCOptions{}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.IsValid(ctx, held); !ok {
		t.Errorf("GC deleted %s", held)
	}
	cmd.Process.Kill()
}
