package nar

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// narBuilder assembles raw NAR token streams, including malformed ones.
type narBuilder struct{ bytes.Buffer }

func (b *narBuilder) s(toks ...string) *narBuilder {
	for _, t := range toks {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(t)))
		b.Write(n[:])
		b.WriteString(t)
		b.Write(make([]byte, padLen(uint64(len(t)))))
	}
	return b
}

func (b *narBuilder) file(name, content string) *narBuilder {
	return b.s("entry", "(", "name", name, "node", "(", "type", "regular", "contents", content, ")", ")")
}

func dirNAR(entries ...[2]string) []byte {
	b := &narBuilder{}
	b.s(Magic, "(", "type", "directory")
	for _, e := range entries {
		b.file(e[0], e[1])
	}
	b.s(")")
	return b.Bytes()
}

func TestRestoreRejects(t *testing.T) {
	badPad := dirNAR([2]string{"a", "x"})
	// Corrupt the padding byte after the 1-byte content "x".
	i := bytes.Index(badPad, []byte("x\x00\x00"))
	badPad = append([]byte(nil), badPad...)
	badPad[i+1] = 1
	symlinkThenDir := (&narBuilder{}).s(Magic, "(", "type", "directory",
		"entry", "(", "name", "a", "node", "(", "type", "symlink", "target", "/etc", ")", ")",
		"entry", "(", "name", "a", "node", "(", "type", "directory", ")", ")", ")").Bytes()
	tests := []struct {
		name    string
		nar     []byte
		wantErr string
	}{
		{"dotdot", dirNAR([2]string{"..", "x"}), `invalid entry name ".."`},
		{"dot", dirNAR([2]string{".", "x"}), `invalid entry name "."`},
		{"empty name", dirNAR([2]string{"", "x"}), "empty entry name"},
		{"slash", dirNAR([2]string{"a/b", "x"}), "contains '/'"},
		{"nul", dirNAR([2]string{"a\x00b", "x"}), "contains '/' or NUL"},
		{"duplicate", dirNAR([2]string{"a", "x"}, [2]string{"a", "y"}), "not sorted"},
		{"unsorted", dirNAR([2]string{"b", "x"}, [2]string{"a", "y"}), "not sorted"},
		{"symlink then same name", symlinkThenDir, "not sorted"},
		{"bad magic", (&narBuilder{}).s("nix-archive-2").Bytes(), "not a NAR"},
		{"bad padding", badPad, "non-zero padding"},
		{"truncated", dirNAR([2]string{"a", "hello"})[:150], "unexpected EOF"},
		{"bad type", (&narBuilder{}).s(Magic, "(", "type", "fifo", ")").Bytes(), "unknown node type"},
		{"executable value", (&narBuilder{}).s(Magic, "(", "type", "regular", "executable", "x", "contents", "", ")").Bytes(), `expected ""`},
		{"huge name", (&narBuilder{}).s(Magic, "(", "type", "directory", "entry", "(", "name", strings.Repeat("a", 2000)).Bytes(), "exceeds limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "out")
			err := Restore(context.Background(), bytes.NewReader(tc.nar), dest)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), dest) {
				t.Errorf("error %q does not name the destination", err)
			}
			if _, statErr := os.Lstat(dest); !errors.Is(statErr, os.ErrNotExist) {
				t.Errorf("partial output left behind at %s", dest)
			}
		})
	}
}

func TestRestoreErrorNamesEntry(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "out")
	err := Restore(context.Background(), bytes.NewReader(dirNAR([2]string{"good", "x"}, [2]string{"..", "y"})), dest)
	if err == nil || !strings.Contains(err.Error(), "/good") && !strings.Contains(err.Error(), "..") {
		t.Fatalf("err = %v", err)
	}
}

func TestRestoreExistingDest(t *testing.T) {
	dest := t.TempDir()
	err := Restore(context.Background(), bytes.NewReader(dirNAR()), dest)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(dest); err != nil {
		t.Fatalf("existing dest removed: %v", err)
	}
}

func TestRestoreSymlinkDoesNotEscape(t *testing.T) {
	// A symlink to an absolute path outside dest is restored as a link, and
	// nothing is ever written through it.
	outside := t.TempDir()
	nar := (&narBuilder{}).s(Magic, "(", "type", "directory",
		"entry", "(", "name", "link", "node", "(", "type", "symlink", "target", outside, ")", ")", ")").Bytes()
	dest := filepath.Join(t.TempDir(), "out")
	if err := Restore(context.Background(), bytes.NewReader(nar), dest); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(filepath.Join(dest, "link")); err != nil || target != outside {
		t.Fatalf("link = %q, %v", target, err)
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 0 {
		t.Fatalf("wrote outside dest: %v", entries)
	}
}

func TestRestoreCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dest := filepath.Join(t.TempDir(), "out")
	if err := Restore(ctx, bytes.NewReader(dirNAR([2]string{"a", "x"})), dest); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestWriterRejects(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.WriteHeader(&Header{Path: "/", Type: TypeDirectory}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteHeader(&Header{Path: "/b", Type: TypeSymlink, LinkTarget: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteHeader(&Header{Path: "/a", Type: TypeSymlink, LinkTarget: "x"}); err == nil {
		t.Fatal("unsorted entry accepted")
	}
	w = NewWriter(&buf)
	w.WriteHeader(&Header{Path: "/", Type: TypeRegular, Size: 3})
	w.Write([]byte("ab"))
	if err := w.Close(); err == nil {
		t.Fatal("short file accepted")
	}
}

func FuzzReader(f *testing.F) {
	f.Add(dirNAR([2]string{"a", "hello"}, [2]string{"b", ""}))
	f.Add((&narBuilder{}).s(Magic, "(", "type", "symlink", "target", "../x", ")").Bytes())
	f.Add((&narBuilder{}).s(Magic, "(", "type", "regular", "executable", "", "contents", "abcdefghi", ")").Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		// Any NAR the Reader accepts must re-serialise to the same bytes.
		r := NewReader(bytes.NewReader(data))
		var out bytes.Buffer
		w := NewWriter(&out)
		for {
			h, err := r.Next()
			if err != nil {
				if err.Error() == "EOF" {
					break
				}
				return
			}
			if err := w.WriteHeader(h); err != nil {
				t.Fatalf("writer rejected header the reader accepted: %v", err)
			}
			if h.Type == TypeRegular {
				if _, err := copyBuf(w, r); err != nil {
					return
				}
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), data[:r.Offset()]) {
			t.Fatalf("round trip differs")
		}
	})
}

func FuzzRestore(f *testing.F) {
	f.Add(dirNAR([2]string{"a", "hello"}, [2]string{"b", ""}))
	f.Add((&narBuilder{}).s(Magic, "(", "type", "directory", "entry", "(", "name", "d", "node", "(", "type", "directory",
		"entry", "(", "name", "x", "node", "(", "type", "symlink", "target", "/", ")", ")", ")", ")", ")").Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		dest := filepath.Join(base, "out")
		err := Restore(context.Background(), bytes.NewReader(data), dest)
		entries, _ := os.ReadDir(base)
		if err != nil && len(entries) != 0 {
			t.Fatalf("failed restore left %v", entries)
		}
		if len(entries) > 1 {
			t.Fatalf("restore wrote outside dest: %v", entries)
		}
	})
}

// TestRestoreFileWritten: the hook sees every regular file, once, with
// all of its contents written.
func TestRestoreFileWritten(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "out")
	want := map[string]string{"a": "alpha", "b": "", "c": strings.Repeat("x", 3*copyBufSize+7)}
	seen := map[string]string{}
	opts := RestoreOptions{FileWritten: func(f *os.File) {
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Errorf("reading %s in the hook: %v", f.Name(), err)
		}
		name := filepath.Base(f.Name())
		if _, dup := seen[name]; dup {
			t.Errorf("hook called twice for %s", name)
		}
		seen[name] = string(b)
	}}
	nar := dirNAR([2]string{"a", want["a"]}, [2]string{"b", want["b"]}, [2]string{"c", want["c"]})
	if err := RestoreWith(context.Background(), bytes.NewReader(nar), dest, opts); err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(want) {
		t.Fatalf("hook saw %d files, want %d", len(seen), len(want))
	}
	for n, c := range want {
		if seen[n] != c {
			t.Errorf("%s: hook saw %d bytes, want %d", n, len(seen[n]), len(c))
		}
	}
}
