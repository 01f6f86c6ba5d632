package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onix-dev/onix/internal/nixcompat/nar"
)

func runHashCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newHashCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return strings.TrimSpace(out.String()), err
}

// singleRegularNAR is the NAR of a file containing "hello\n" (nar vector
// single-regular), so the test needs no external files.
func helloTree(t *testing.T) (dir, file string) {
	dir = t.TempDir()
	file = filepath.Join(dir, "file.txt")
	if err := os.WriteFile(file, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, file
}

func TestHashCommand(t *testing.T) {
	_, file := helloTree(t)
	tests := []struct {
		args []string
		want string
	}{
		// Values from nix-vectors nar/hashes.txt (single-regular) and hashes/.
		{[]string{"path", file}, "sha256-HDfQGvQL4ugGkd48w99EN3ppmvuxfGjwgJZLL9Bx/BM="},
		{[]string{"path", "--base32", file}, "04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw"},
		{[]string{"path", "--type", "sha1", "--base16", file}, "0deb52c2735eb38d360f976b7b3823c4ad05cce7"},
		{[]string{"file", "--base16", file}, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"},
		{[]string{"file", "--type", "md5", "--sri", file}, "md5-sZRqySSS0jR8YjW00mERhA=="},
		{[]string{"to-base32", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}, "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"},
		{[]string{"to-sri", "--type", "sha256", "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"}, "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
		{[]string{"to-base16", "sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk="}, "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		{[]string{"to-base64", "md5:d41d8cd98f00b204e9800998ecf8427e"}, "1B2M2Y8AsgTpgAmY7PhCfg=="},
	}
	for _, tc := range tests {
		got, err := runHashCmd(t, tc.args...)
		if err != nil || got != tc.want {
			t.Errorf("onix hash %v = %q (%v), want %q", tc.args, got, err, tc.want)
		}
	}
	for _, bad := range [][]string{
		{"to-base32", "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"}, // no type
		{"path", "--type", "sha3", file},
		{"file", "/nonexistent/x"},
		{"path", "--base16", "--base32", file},
	} {
		if _, err := runHashCmd(t, bad...); err == nil {
			t.Errorf("onix hash %v succeeded", bad)
		}
	}
}

// TestHashCommandDifferential compares against `nix hash` on a small tree.
func TestHashCommandDifferential(t *testing.T) {
	if _, err := exec.LookPath("nix"); err != nil {
		t.Skip("nix not on PATH; skipping differential test against real Nix")
	}
	dir, file := helloTree(t)
	os.Symlink("file.txt", filepath.Join(dir, "link"))
	os.WriteFile(filepath.Join(dir, "x.sh"), []byte("#!/bin/sh\n"), 0o755)
	sub := filepath.Join(t.TempDir(), "restored")
	var buf bytes.Buffer
	if err := nar.DumpPath(context.Background(), &buf, dir, nil); err != nil {
		t.Fatal(err)
	}
	if err := nar.Restore(context.Background(), &buf, sub); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"path", dir}, {"path", "--base32", "--type", "sha512", dir}, {"path", "--base64", sub},
		{"file", file}, {"file", "--base16", "--type", "sha1", file},
		{"to-base32", "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
	} {
		nixArgs := append([]string{"--extra-experimental-features", "nix-command", "hash"}, args...)
		want, err := exec.Command("nix", nixArgs...).Output()
		if err != nil {
			t.Fatalf("nix %v: %v", nixArgs, err)
		}
		got, err := runHashCmd(t, args...)
		if err != nil || got != strings.TrimSpace(string(want)) {
			t.Errorf("onix hash %v = %q (%v), nix %q", args, got, err, want)
		}
	}
}
