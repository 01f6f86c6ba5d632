//go:build linux

package nar

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// bigTree has enough entries to fill several pipeline batches, a file
// streamed in many chunks and one just past the read-ahead limit.
func bigTree(t *testing.T, dir string) {
	t.Helper()
	rng := rand.New(rand.NewSource(7))
	randomTree(t, rng, filepath.Join(dir, "random"), 0)
	for d := range 5 {
		sub := filepath.Join(dir, fmt.Sprintf("d%d", d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := range 70 {
			data := bytes.Repeat([]byte{byte(f)}, (d*70+f)%23)
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%02d", f)), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, size := range map[string]int{"huge": 5*copyBufSize + 3, "limit": smallFileMax, "over": smallFileMax + 1} {
		data := make([]byte, size)
		rng.Read(data)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCopyPathMatchesDump: the NAR CopyPath writes is DumpPath's, the copy
// dumps to the same NAR, and Canonical gives Nix's store metadata.
func TestCopyPathMatchesDump(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	bigTree(t, src)
	var want bytes.Buffer
	if err := DumpPath(ctx, &want, src, nil); err != nil {
		t.Fatal(err)
	}
	for _, canonical := range []bool{false, true} {
		dst := filepath.Join(t.TempDir(), "copy")
		var got, again bytes.Buffer
		if err := CopyPath(ctx, &got, src, dst, CopyOptions{Canonical: canonical}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("canonical=%v: CopyPath's NAR differs from DumpPath's", canonical)
		}
		if err := DumpPath(ctx, &again, dst, nil); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again.Bytes(), want.Bytes()) {
			t.Fatalf("canonical=%v: the copy dumps differently", canonical)
		}
		if !canonical {
			continue
		}
		err := filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			st := fi.Sys().(*syscall.Stat_t)
			if st.Mtim.Sec != 1 || st.Mtim.Nsec != 0 {
				t.Errorf("%s: mtime %v", p, st.Mtim)
			}
			if fi.Mode()&fs.ModeSymlink == 0 {
				want := fs.FileMode(0o444)
				if fi.IsDir() || fi.Mode()&0o100 != 0 {
					want = 0o555
				}
				if fi.Mode().Perm() != want || fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
					t.Errorf("%s: mode %v", p, fi.Mode())
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		makeWritable(t, dst)
	}
}

func makeWritable(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
}

// TestCopyPathFilterAndRoots covers the sequential (filtered) walk and
// non-directory roots.
func TestCopyPathFilterAndRoots(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	bigTree(t, src)
	filter := func(p string, mode fs.FileMode) bool {
		return !strings.HasSuffix(p, "7") && !strings.Contains(p, "/random/")
	}
	var want, got bytes.Buffer
	if err := DumpPath(ctx, &want, src, filter); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "copy")
	if err := CopyPath(ctx, &got, src, dst, CopyOptions{Filter: filter, Canonical: true}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatal("filtered CopyPath's NAR differs from filtered DumpPath's")
	}
	if _, err := os.Lstat(filepath.Join(dst, "d0", "f07")); err == nil {
		t.Error("filtered-out file was copied")
	}
	makeWritable(t, dst)
	if err := os.Symlink("huge", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{"huge", "d1/f03", "link"} {
		want.Reset()
		got.Reset()
		if err := DumpPath(ctx, &want, filepath.Join(src, root), nil); err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(t.TempDir(), "copy")
		if err := CopyPath(ctx, &got, filepath.Join(src, root), dst, CopyOptions{Canonical: true}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("%s: CopyPath's NAR differs", root)
		}
		if err := CopyPath(ctx, &got, filepath.Join(src, root), dst, CopyOptions{}); err == nil {
			t.Errorf("%s: copy onto an existing destination succeeded", root)
		}
	}
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	return len(ents)
}

func TestDumpErrors(t *testing.T) {
	src := t.TempDir()
	bigTree(t, src)
	fds := openFDs(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var buf bytes.Buffer
	if err := DumpPath(ctx, &buf, src, nil); err == nil {
		t.Error("cancelled dump succeeded")
	}
	if err := syscall.Mkfifo(filepath.Join(src, "d3", "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := DumpPath(context.Background(), &buf, src, nil)
	if err == nil || !strings.Contains(err.Error(), "fifo: file has an unsupported type (p") {
		t.Errorf("dump with a FIFO: %v", err)
	}
	dst := filepath.Join(t.TempDir(), "copy")
	if err := CopyPath(context.Background(), &buf, src, dst, CopyOptions{Canonical: true}); err == nil {
		t.Error("copy with a FIFO succeeded")
	}
	makeWritable(t, dst)
	if now := openFDs(t); now != fds {
		t.Errorf("%d fds open before, %d after failed dumps", fds, now)
	}
}
