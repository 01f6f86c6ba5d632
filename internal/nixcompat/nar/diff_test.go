package nar

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/internal/vectors"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

// randomTree creates a random tree at dir: files of assorted sizes (around
// the 8-byte padding boundary), executables, symlinks (dangling, absolute,
// relative), empty dirs, and names that exercise byte-wise sorting.
func randomTree(t *testing.T, rng *rand.Rand, dir string, depth int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	names := []string{"a", "B", "b", "Z", "_x", "-y", "ü", "é.txt", "a.b", "a-b", "10", "9", "z z", ".hidden"}
	n := rng.Intn(6)
	for i := 0; i < n; i++ {
		name := names[rng.Intn(len(names))] + fmt.Sprint(rng.Intn(3))
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		switch k := rng.Intn(10); {
		case k < 5:
			data := make([]byte, []int{0, 1, 7, 8, 9, 16, 100, 5000}[rng.Intn(8)])
			rng.Read(data)
			mode := os.FileMode(0o644)
			if rng.Intn(3) == 0 {
				mode = 0o755
			}
			if err := os.WriteFile(p, data, mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p, mode)
		case k < 7:
			targets := []string{"a0", "../nowhere", "/etc/passwd", "sub dir/x", "üñí"}
			if err := os.Symlink(targets[rng.Intn(len(targets))], p); err != nil {
				t.Fatal(err)
			}
		default:
			if depth < 3 {
				randomTree(t, rng, p, depth+1)
			} else if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestDifferentialDump(t *testing.T) {
	vectors.RequireNix(t, "nix-store")
	rng := rand.New(rand.NewSource(7))
	base := t.TempDir()
	storeRoot := filepath.Join(base, "store-root")
	d := storepath.DefaultStoreDir
	for i := 0; i < 6; i++ {
		dir := filepath.Join(base, fmt.Sprintf("tree%d", i))
		randomTree(t, rng, dir, 0)
		// Single-file roots too.
		target := dir
		if i == 5 {
			target = filepath.Join(base, "single.bin")
			os.WriteFile(target, []byte("single file\n"), 0o755)
		}
		var ours bytes.Buffer
		if err := DumpPath(context.Background(), &ours, target, nil); err != nil {
			t.Fatal(err)
		}
		theirs, err := exec.Command("nix-store", "--dump", target).Output()
		if err != nil {
			t.Fatalf("nix-store --dump: %v", err)
		}
		if !bytes.Equal(ours.Bytes(), theirs) {
			t.Fatalf("tree %d: DumpPath differs from nix-store --dump (%d vs %d bytes)", i, ours.Len(), len(theirs))
		}
		// nix-store --add → source path.
		narHash := hash.Sum(hash.SHA256, theirs)
		sp, err := d.MakeSourcePath(filepath.Base(target), narHash, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := vectors.RunNix(t, storeRoot, "nix-store", "--add", target); got != d.Path(sp) {
			t.Errorf("nix-store --add = %s, ours %s", got, d.Path(sp))
		}
		// nix-hash of the NAR.
		if got := vectors.RunNix(t, "", "nix-hash", "--type", "sha256", target); got != narHash.Base16() {
			t.Errorf("nix-hash = %s, ours %s", got, narHash.Base16())
		}
		// --add-fixed for other algorithms, recursive and (for files) flat.
		algo := []hash.Algo{hash.MD5, hash.SHA1, hash.SHA512}[i%3]
		h := hash.Sum(algo, theirs)
		sp, _ = d.MakeFixedOutputPath(filepath.Base(target), storepath.Recursive, h, nil, false)
		if got := vectors.RunNix(t, storeRoot, "nix-store", "--add-fixed", "--recursive", algo.String(), target); got != d.Path(sp) {
			t.Errorf("--add-fixed --recursive %s = %s, ours %s", algo, got, d.Path(sp))
		}
		if i == 5 {
			content, _ := os.ReadFile(target)
			for _, a := range []hash.Algo{hash.SHA256, hash.SHA1} {
				sp, _ = d.MakeFixedOutputPath(filepath.Base(target), storepath.Flat, hash.Sum(a, content), nil, false)
				if got := vectors.RunNix(t, storeRoot, "nix-store", "--add-fixed", a.String(), target); got != d.Path(sp) {
					t.Errorf("--add-fixed %s = %s, ours %s", a, got, d.Path(sp))
				}
			}
		}
	}
}

// TestDifferentialRestore has nix-store --restore unpack our DumpPath output
// and us unpack Nix's, each side re-dumping to identical bytes.
func TestDifferentialRestore(t *testing.T) {
	vectors.RequireNix(t, "nix-store")
	rng := rand.New(rand.NewSource(11))
	base := t.TempDir()
	src := filepath.Join(base, "src")
	randomTree(t, rng, src, 0)
	randomTree(t, rng, filepath.Join(src, "more"), 1)
	var ours bytes.Buffer
	if err := DumpPath(context.Background(), &ours, src, nil); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(base, "by-nix")
	cmd := exec.Command("nix-store", "--restore", dest)
	cmd.Stdin = bytes.NewReader(ours.Bytes())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nix-store --restore: %v %s", err, out)
	}
	theirs, err := exec.Command("nix-store", "--dump", dest).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(theirs, ours.Bytes()) {
		t.Fatal("nix-store --restore of our NAR re-dumps differently")
	}
	dest2 := filepath.Join(base, "by-us")
	if err := Restore(context.Background(), bytes.NewReader(theirs), dest2); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := DumpPath(context.Background(), &again, dest2, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), theirs) {
		t.Fatal("our Restore of Nix's NAR re-dumps differently")
	}
}

func TestDumpFilter(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "keep"), []byte("k"), 0o644)
	os.WriteFile(filepath.Join(dir, "drop"), []byte("d"), 0o644)
	var buf bytes.Buffer
	err := DumpPath(context.Background(), &buf, dir, func(p string, _ os.FileMode) bool {
		return filepath.Base(p) != "drop"
	})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("drop")) || !bytes.Contains(buf.Bytes(), []byte("keep")) {
		t.Fatal("filter not applied")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := DumpPath(ctx, &buf, dir, nil); err == nil {
		t.Fatal("cancelled dump succeeded")
	}
}

// BenchmarkHashPathLarge measures DumpPath+sha256 on a large file; set
// ONIX_BENCH_SIZE_MB to try e.g. 1024.
func BenchmarkHashPathLarge(b *testing.B) {
	size := 256
	if s := os.Getenv("ONIX_BENCH_SIZE_MB"); s != "" {
		fmt.Sscan(s, &size)
	}
	p := filepath.Join(b.TempDir(), "big")
	f, _ := os.Create(p)
	chunk := make([]byte, 1<<20)
	rand.New(rand.NewSource(1)).Read(chunk)
	for i := 0; i < size; i++ {
		f.Write(chunk)
	}
	f.Close()
	b.SetBytes(int64(size) << 20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := HashPath(context.Background(), p, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSHA256Raw(b *testing.B) {
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	h := hash.SHA256.New()
	for i := 0; i < b.N; i++ {
		h.Write(buf)
	}
}
