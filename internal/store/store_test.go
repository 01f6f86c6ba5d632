package store

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
)

func TestAddAndInteropWithNix(t *testing.T) {
	requireNix(t, "nix-store")
	ctx := testCtx(t)
	root := newRoot(t)
	s := openTest(t, root)
	src := t.TempDir()
	writeTree(t, src+"/dir", map[string]string{"a.txt": "hello\n", "bin/run.sh": "#!/bin/sh\n", "link": "->a.txt"})
	if err := os.WriteFile(src+"/file.txt", []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p1, err := s.AddToStore(ctx, "", src+"/file.txt", Recursive, hash.SHA256, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Vector: nix-store --add of a file containing "hello\n".
	if want := "/nix/store/qjqcrhqkjmdgv3yqcgcd9fa7qi234hga-file.txt"; p1 != want {
		t.Errorf("add file = %s, want %s", p1, want)
	}
	p2, err := s.AddToStore(ctx, "", src+"/dir", Recursive, hash.SHA256, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p3, err := s.AddToStore(ctx, "", src+"/file.txt", Flat, hash.SHA256, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "/nix/store/z1rahp9fy11h8yvihxhgj8vr2pb6db1a-file.txt"; p3 != want {
		t.Errorf("add-fixed flat = %s, want %s", p3, want)
	}
	p4, err := s.AddTextToStore(ctx, "refs.txt", []byte("see "+p2+"\n"), []string{p2})
	if err != nil {
		t.Fatal(err)
	}
	// Nix computes the same paths.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--add", src + "/file.txt"}, p1},
		{[]string{"--add", src + "/dir"}, p2},
		{[]string{"--add-fixed", "sha256", src + "/file.txt"}, p3},
	} {
		if got := nix(t, t.TempDir(), "nix-store", c.args...); got != c.want {
			t.Errorf("nix-store %v = %s, onix %s", c.args, got, c.want)
		}
	}
	s.Close()

	// Nix reads and verifies the store onix wrote.
	out := nix(t, root, "nix-store", "--verify", "--check-contents")
	_ = out
	if got := nix(t, root, "nix-store", "-q", "--references", p4); got != p2 {
		t.Errorf("nix references of %s = %q, want %s", p4, got, p2)
	}
	js := nix(t, root, "nix", "path-info", "--json", p4)
	var infos []map[string]any
	if err := json.Unmarshal([]byte(js), &infos); err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0]["ca"] == nil || !strings.HasPrefix(infos[0]["ca"].(string), "text:sha256:") {
		t.Errorf("nix path-info = %s", js)
	}
	st, err := os.Lstat(filepath.Join(root, p2, "bin/run.sh"))
	if err != nil || st.Mode().Perm() != 0o555 || st.ModTime().Unix() != 1 {
		t.Errorf("run.sh not canonical: %v %v", st.Mode(), err)
	}
}
