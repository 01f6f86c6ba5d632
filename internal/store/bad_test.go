package store

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/nar"
)

func narOf(t *testing.T, p string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := nar.DumpPath(context.Background(), &b, p, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestAddNARGoodAndBad(t *testing.T) {
	ctx := testCtx(t)
	root := newRoot(t)
	s := openTest(t, root)
	src := t.TempDir()
	writeTree(t, src+"/d", map[string]string{"a": "hello\n", "x.sh": "#!/bin/sh\n"})
	data := narOf(t, src+"/d")
	nh := hash.Sum(hash.SHA256, data)
	sp, err := s.storeDir.MakeFixedOutputPath("d", Recursive, nh, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	path := s.storeDir.Path(sp)
	info := &PathInfo{Path: path, NarHash: nh, NarSize: uint64(len(data)), CA: "fixed:r:" + nh.Encode(hash.Base32, true)}

	// Truncated, corrupted and wrongly-hashed NARs are rejected cleanly.
	bad := map[string][]byte{
		"truncated": data[:len(data)/2],
		"corrupt":   append(append([]byte{}, data[:40]...), bytes.Repeat([]byte{0xff}, len(data)-40)...),
		"flipped":   bytes.Replace(data, []byte("hello"), []byte("jello"), 1),
	}
	for name, b := range bad {
		err := s.AddNAR(ctx, info, bytes.NewReader(b))
		if err == nil {
			t.Errorf("%s NAR accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error does not name the path: %v", name, err)
		}
		if ok, _ := s.IsValid(ctx, path); ok {
			t.Fatalf("%s NAR made %s valid", name, path)
		}
	}
	// Wrong CA for correct contents.
	wrong := *info
	wrong.CA = "fixed:r:sha256:" + strings.Repeat("0", 52)
	if err := s.AddNAR(ctx, &wrong, bytes.NewReader(data)); err == nil {
		t.Errorf("wrong CA accepted")
	}
	if err := s.AddNAR(ctx, info, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	got, err := s.QueryPathInfo(ctx, path)
	if err != nil || !got.NarHash.Equal(nh) || got.CA != info.CA {
		t.Errorf("info = %+v, %v", got, err)
	}
	v, err := s.Verify(ctx, true)
	if err != nil || !v.OK() || v.Checked != 1 {
		t.Errorf("verify: %+v %v", v, err)
	}
	// Verify reports a modified and a missing path.
	real := s.RealPath(path)
	os.Chmod(real, 0o755)
	os.Chmod(real+"/a", 0o644)
	os.WriteFile(real+"/a", []byte("tampered"), 0o444)
	txt := addText(t, s, "gone", "gone")
	os.Remove(s.RealPath(txt))
	v, err = s.Verify(ctx, true)
	if err != nil || len(v.Modified) != 1 || v.Modified[0].Path != path || len(v.Missing) != 1 || v.Missing[0] != txt {
		t.Errorf("verify of damaged store: %+v %v", v, err)
	}
}

func TestLockedAndCorruptDatabase(t *testing.T) {
	requireNix(t, "sqlite3")
	ctx := testCtx(t)
	root := newRoot(t)
	s := openTest(t, root)
	a := addText(t, s, "a", "a")
	// Another process holds an exclusive write lock on the database.
	cmd := exec.Command("sqlite3", s.dbPath())
	cmd.Stdin = strings.NewReader("begin exclusive; insert into ValidPaths (path, hash, registrationTime) values ('/x','y',1);\n.shell sleep 5\n")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	_, err := s.AddTextToStore(ctx, "b", []byte("b"), nil)
	if err == nil || !strings.Contains(err.Error(), "db.sqlite") || !strings.Contains(err.Error(), "locked") {
		t.Errorf("write under lock: %v (after %v)", err, time.Since(start))
	}
	cmd.Process.Kill()
	cmd.Wait()
	if v, err := s.Verify(ctx, true); err != nil || !v.OK() || v.Checked != 1 {
		t.Errorf("verify after lock failure: %+v %v", v, err)
	}
	ents, _ := os.ReadDir(s.RealStoreDir())
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), tmpSuffix) || strings.HasSuffix(e.Name(), "-b") {
			t.Errorf("leftover %s after failed add", e.Name())
		}
	}
	_ = a
	s.Close()

	// A corrupt database file gives an error naming it.
	db := filepath.Join(root, "nix/var/nix/db/db.sqlite")
	os.Remove(db + "-wal")
	os.Remove(db + "-shm")
	if err := os.WriteFile(db, bytes.Repeat([]byte("garbage!"), 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, Options{Root: root, ReservedSpace: -1})
	if err == nil || !strings.Contains(err.Error(), db) {
		t.Errorf("open of corrupt db: %v", err)
	}
	// A wrong schema version is refused.
	root2 := newRoot(t)
	openTest(t, root2).Close()
	os.WriteFile(filepath.Join(root2, "nix/var/nix/db/schema"), []byte("11"), 0o644)
	if _, err := Open(ctx, Options{Root: root2, ReservedSpace: -1}); err == nil || !strings.Contains(err.Error(), "schema version 11") {
		t.Errorf("schema 11: %v", err)
	}
	var _ = sql.ErrNoRows
}

// fullDiskStore opens a store on a 1 MiB tmpfs (unmounted when the test
// ends) holding one small valid path, which it returns too.
func fullDiskStore(t *testing.T) (*Store, string) {
	t.Helper()
	root := newRoot(t)
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", root).Run(); err != nil {
		t.Skipf("cannot mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", root).Run() })
	s := openTest(t, root)
	return s, addText(t, s, "small", "small")
}

// A full disk (tiny tmpfs) fails the add with a clear error and leaves the
// store valid and free of leftovers.
func TestDiskFull(t *testing.T) {
	ctx := testCtx(t)
	s, small := fullDiskStore(t)
	src := t.TempDir()
	big := filepath.Join(src, "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("x"), 2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := s.AddToStore(ctx, "", big, Recursive, hash.SHA256, nil, nil)
	if err == nil || !strings.Contains(err.Error(), big) || !strings.Contains(err.Error(), "no space") {
		t.Errorf("add on full disk: %v", err)
	}
	ents, _ := os.ReadDir(s.RealStoreDir())
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), tmpSuffix) {
			t.Errorf("leftover %s", e.Name())
		}
	}
	if v, err := s.Verify(ctx, true); err != nil || !v.OK() || v.Checked != 1 {
		t.Errorf("verify: %+v %v", v, err)
	}
	if ok, _ := s.IsValid(ctx, small); !ok {
		t.Error("small path lost")
	}
	s.Close()
}

// A NAR too big for the disk, its big file written with O_DIRECT: the
// import fails naming the path and the full disk, and leaves the store
// valid and without leftovers.
func TestDiskFullNAR(t *testing.T) {
	ctx := testCtx(t)
	s, small := fullDiskStore(t)
	defer s.Close()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "big"), bytes.Repeat([]byte("y"), 2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := nar.DumpPath(ctx, &b, src, nil); err != nil {
		t.Fatal(err)
	}
	nh := hash.Sum(hash.SHA256, b.Bytes())
	sp, err := s.storeDir.MakeFixedOutputPath("big", Recursive, nh, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	p := s.storeDir.Path(sp)
	err = s.AddNAR(ctx, &PathInfo{Path: p, NarHash: nh, NarSize: uint64(b.Len()), CA: "fixed:r:" + nh.Encode(hash.Base32, true)}, bytes.NewReader(b.Bytes()))
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "no space") {
		t.Errorf("NAR import on a full disk: %v", err)
	}
	ents, _ := os.ReadDir(s.RealStoreDir())
	for _, e := range ents {
		if e.Name() != filepath.Base(small) && !strings.HasSuffix(e.Name(), ".lock") {
			t.Errorf("leftover %s", e.Name())
		}
	}
	if v, err := s.Verify(ctx, true); err != nil || !v.OK() || v.Checked != 1 {
		t.Errorf("verify: %+v %v", v, err)
	}
}

// AddNARs: a NAR with a bad hash is not registered and its error names the
// path and the origin; its referrers are refused; the rest of the batch is
// registered, references before referrers, and is whole.
func TestAddNARsPartialFailure(t *testing.T) {
	ctx := testCtx(t)
	s := openTest(t, newRoot(t))
	dir := t.TempDir()
	good, err := narBatch(s, dir, 1, "") // a chain of 6, given referrers first
	if err != nil {
		t.Fatal(err)
	}
	other, err := narBatch(s, dir, 2, "")
	if err != nil {
		t.Fatal(err)
	}
	// Corrupt the 3rd of the chain (index 3 when reversed): it and the
	// two after it must fail, the first two of the chain must not.
	bad := other[3]
	data, _ := io.ReadAll(must(bad.Open(ctx)))
	data = bytes.Replace(data, []byte("2"), []byte("3"), 1)
	bad.Open = func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	bad.Origin = "https://cache.example"
	other[3] = bad
	res, err := s.AddNARs(ctx, append(good, other...), 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Registered) != 8 || len(res.Failed) != 4 {
		t.Fatalf("registered %d, failed %d: %v", len(res.Registered), len(res.Failed), res.Err())
	}
	e := res.Failed[bad.Info.Path]
	if e == nil || !strings.Contains(e.Error(), bad.Info.Path) || !strings.Contains(e.Error(), bad.Origin) || !strings.Contains(e.Error(), "hash mismatch") {
		t.Errorf("bad NAR error: %v", e)
	}
	for _, src := range other[:4] {
		if ok, _ := s.IsValid(ctx, src.Info.Path); ok {
			t.Errorf("%s valid despite a bad reference", src.Info.Path)
		}
	}
	pos := map[string]int{}
	for i, p := range res.Registered {
		pos[p] = i
	}
	for _, src := range append(good, other[4:]...) {
		i, ok := pos[src.Info.Path]
		if !ok {
			t.Errorf("%s not registered", src.Info.Path)
		}
		for _, r := range src.Info.References {
			if j, ok := pos[r]; !ok || j > i {
				t.Errorf("%s registered before its reference %s", src.Info.Path, r)
			}
		}
	}
	if v, err := s.Verify(ctx, true); err != nil || !v.OK() || v.Checked != 8 {
		t.Errorf("verify: %+v %v", v, err)
	}
	ents, _ := os.ReadDir(s.RealStoreDir())
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), tmpSuffix) {
			t.Errorf("temp entry %s left behind", e.Name())
		}
	}
	// Again: all valid now, nothing is read.
	for i := range good {
		good[i].Open = func(context.Context) (io.ReadCloser, error) { t.Error("valid path re-read"); return nil, io.EOF }
	}
	if res, err := s.AddNARs(ctx, good, 2); err != nil || res.Err() != nil || len(res.Registered) != 6 {
		t.Errorf("re-adding: %+v %v", res, err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
