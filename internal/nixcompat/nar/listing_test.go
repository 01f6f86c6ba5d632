package nar

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onix-dev/onix/internal/nixcompat/internal/vectors"
)

func TestListingVectors(t *testing.T) {
	dir := filepath.Join(vectors.Dir(t), "binary-cache", "cache-none")
	files, _ := filepath.Glob(filepath.Join(dir, "*.ls"))
	if len(files) != 6 {
		t.Fatalf("found %d listings, want 6", len(files))
	}
	for _, f := range files {
		want, _ := os.ReadFile(f)
		info, err := os.ReadFile(strings.TrimSuffix(f, ".ls") + ".narinfo")
		if err != nil {
			t.Fatal(err)
		}
		var url string
		for _, line := range strings.Split(string(info), "\n") {
			if u, ok := strings.CutPrefix(line, "URL: "); ok {
				url = u
			}
		}
		narBytes, err := os.ReadFile(filepath.Join(dir, url))
		if err != nil {
			t.Fatal(err)
		}
		got, err := Listing(bytes.NewReader(narBytes))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: got %s (%v), want %s", f, got, err, want)
		}
	}
	// A richer tree: nested dirs, symlinks, executables.
	got, err := Listing(bytes.NewReader(vectors.Read(t, "nar/tree.nar")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"exec.sh":{"type":"regular","size":18,"executable":true,"narOffset":`, `"dangling":{"type":"symlink","target":"../does/not/exist"}`, `"empty-dir":{"type":"directory","entries":{}}`} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("tree listing lacks %s:\n%s", want, got)
		}
	}
	if !json.Valid(got) || !bytes.HasSuffix(got, []byte("}}}")) {
		t.Errorf("unbalanced: %s", got)
	}
}
