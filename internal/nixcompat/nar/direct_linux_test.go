package nar

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// directSupported reports whether dir's file system takes O_DIRECT.
func directSupported(t *testing.T, dir string) bool {
	t.Helper()
	f, err := os.CreateTemp(dir, "probe")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return setDirect(f, true) == nil
}

// TestRestoreDirectIO: files around the direct-I/O threshold, larger than
// the buffer, block-aligned or with a tail, restore byte for byte through
// an unaligned caller buffer; big files are written with O_DIRECT (where
// the file system has it) and small ones are not.
func TestRestoreDirectIO(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(11))
	sizes := map[string]int{
		"small":   directMin - 1,
		"min":     directMin,
		"min1":    directMin + 1,
		"aligned": 2 * copyBufSize,
		"tail":    3*copyBufSize + directAlign - 1,
	}
	want := map[string]string{}
	var entries [][2]string
	for _, name := range []string{"aligned", "min", "min1", "small", "tail"} {
		b := make([]byte, sizes[name])
		rng.Read(b)
		want[name] = string(b)
		entries = append(entries, [2]string{name, want[name]})
	}
	nar := dirNAR(entries...)
	direct := map[string]bool{}
	opts := RestoreOptions{
		DirectIO: true,
		Buffer:   make([]byte, copyBufSize+3*directAlign)[1:], // deliberately unaligned
		FileWritten: func(f *os.File) {
			fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
			if err != nil {
				t.Errorf("F_GETFL %s: %v", f.Name(), err)
			}
			direct[filepath.Base(f.Name())] = fl&unix.O_DIRECT != 0
		},
	}
	dest := filepath.Join(dir, "out")
	if err := RestoreWith(context.Background(), bytes.NewReader(nar), dest, opts); err != nil {
		t.Fatal(err)
	}
	for name, w := range want {
		got, err := os.ReadFile(filepath.Join(dest, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, []byte(w)) {
			t.Errorf("%s: restored %d bytes differ from the NAR's %d", name, len(got), len(w))
		}
	}
	var again bytes.Buffer
	if err := DumpPath(context.Background(), &again, dest, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), nar) {
		t.Error("restored tree dumps to a different NAR")
	}
	// Only a block-aligned file keeps O_DIRECT to the end; a tail is
	// written after switching it off.
	if direct["small"] || direct["min1"] || direct["tail"] {
		t.Errorf("O_DIRECT left on where it should not be: %v", direct)
	}
	if directSupported(t, dir) && (!direct["aligned"] || !direct["min"]) {
		t.Errorf("big aligned files were not written with O_DIRECT: %v", direct)
	} else if !directSupported(t, dir) {
		t.Logf("%s has no O_DIRECT; checked the fallback only", dir)
	}
}

// TestRestoreDirectIOShort: a NAR cut inside a directly written file is an
// error that names the file, and nothing is left behind.
func TestRestoreDirectIOShort(t *testing.T) {
	dir := t.TempDir()
	content := strings.Repeat("y", 2*copyBufSize)
	nar := dirNAR([2]string{"big", content})
	cut := nar[:bytes.Index(nar, []byte("yyyy"))+copyBufSize+100]
	dest := filepath.Join(dir, "out")
	err := RestoreWith(context.Background(), bytes.NewReader(cut), dest, RestoreOptions{DirectIO: true})
	if err == nil || !strings.Contains(err.Error(), "big") {
		t.Fatalf("truncated NAR: err = %v, want an error naming big", err)
	}
	if _, serr := os.Lstat(dest); !errors.Is(serr, os.ErrNotExist) {
		t.Fatalf("failed restore left %s (%v)", dest, serr)
	}
}
