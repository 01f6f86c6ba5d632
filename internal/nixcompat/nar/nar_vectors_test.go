package nar

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/internal/vectors"
)

var vectorNARs = []string{"tree", "single-regular", "single-executable", "single-emptyfile", "single-symlink", "single-emptydir"}

// copyNAR parses src with Reader and re-emits it with Writer.
func copyNAR(t *testing.T, src []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	r := NewReader(bytes.NewReader(src))
	w := NewWriter(&out)
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Type == TypeRegular {
			if _, err := io.Copy(w, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestVectorNARs(t *testing.T) {
	dir := vectors.Dir(t)
	hashes := string(vectors.Read(t, "nar/hashes.txt"))
	checked := 0
	for _, name := range vectorNARs {
		t.Run(name, func(t *testing.T) {
			src := vectors.Read(t, "nar/"+name+".nar")
			if got := copyNAR(t, src); !bytes.Equal(got, src) {
				t.Fatalf("Reader->Writer round trip differs")
			}
			// Hashes of the NAR bytes in every encoding nix-hash printed.
			for _, line := range strings.Split(hashes, "\n") {
				f := strings.Split(line, " | ")
				if len(f) < 4 || f[0] != name {
					continue
				}
				if strings.HasPrefix(f[1], "file sha256sum") {
					h := hash.Sum(hash.SHA256, src)
					if h.Base16() != f[2] || f[3] != "size "+strconv.Itoa(len(src)) {
						t.Errorf("sha256sum/size mismatch: %s %d vs %s %s", h.Base16(), len(src), f[2], f[3])
					}
					checked++
					continue
				}
				algo, err := hash.ParseAlgo(f[1])
				if err != nil {
					t.Fatal(err)
				}
				h := hash.Sum(algo, src)
				if h.Base16() != f[2] || h.Base32() != f[3] || h.SRI() != f[4] {
					t.Errorf("%s: got %s %s %s", algo, h.Base16(), h.Base32(), h.SRI())
				}
				checked++
			}
			// Restore, then DumpPath must reproduce the exact bytes.
			dest := filepath.Join(t.TempDir(), "out")
			if err := Restore(context.Background(), bytes.NewReader(src), dest); err != nil {
				t.Fatal(err)
			}
			var again bytes.Buffer
			if err := DumpPath(context.Background(), &again, dest, nil); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Bytes(), src) {
				t.Fatalf("Restore+DumpPath differs from the vector")
			}
			h, size, err := HashPath(context.Background(), dest, nil)
			if err != nil || size != int64(len(src)) || !h.Equal(hash.Sum(hash.SHA256, src)) {
				t.Fatalf("HashPath = %v %d %v", h, size, err)
			}
			if name == "tree" {
				checkListing(t, dest, string(vectors.Read(t, "nar/tree.listing.txt")))
			}
		})
	}
	_ = dir
	if checked != 30 && !t.Failed() {
		t.Fatalf("checked %d hash lines, want 30", checked)
	}
}

// checkListing compares a restored tree with tree.listing.txt (type, exec
// bit, size and symlink target of every entry).
func checkListing(t *testing.T, root, listing string) {
	n := 0
	for _, line := range strings.Split(listing, "\n") {
		if line == "" {
			continue
		}
		rel, attrs, _ := strings.Cut(line, "  ")
		kv := map[string]string{}
		for _, f := range strings.Fields(attrs) {
			k, v, _ := strings.Cut(f, "=")
			kv[k] = v
		}
		p := filepath.Join(root, rel)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		switch kv["type"] {
		case "f":
			exec := kv["mode"] == "755"
			if !fi.Mode().IsRegular() || (fi.Mode()&0o100 != 0) != exec || strconv.FormatInt(fi.Size(), 10) != kv["size"] {
				t.Errorf("%s: mode %v size %d, listing %v", rel, fi.Mode(), fi.Size(), kv)
			}
		case "l":
			target, _ := os.Readlink(p)
			if target != kv["target"] {
				t.Errorf("%s: target %q, listing %q", rel, target, kv["target"])
			}
		case "d":
			if !fi.IsDir() {
				t.Errorf("%s: not a directory", rel)
			}
		}
		n++
	}
	if n != 15 {
		t.Errorf("listing had %d entries, want 15", n)
	}
}
