package store

import (
	"strings"
	"testing"
)

func FuzzParseTempRoots(f *testing.F) {
	f.Add([]byte("/nix/store/aaaa-x\x00/nix/store/bbbb-y\x00"))
	f.Add([]byte("/nix/store/partial"))
	f.Add([]byte("\x00\x00d"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, r := range parseTempRoots(b) {
			if r == "" || strings.ContainsRune(r, 0) {
				t.Fatalf("bad root %q", r)
			}
		}
	})
}

func FuzzParseDrvOutputs(f *testing.F) {
	for _, c := range drvOutputCases {
		f.Add([]byte(c.drv))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		outs, err := parseDrvOutputs("fuzz.drv", b)
		if err == nil {
			for k, v := range outs {
				if k == "" || v == "" {
					t.Fatalf("empty output %q -> %q", k, v)
				}
			}
		}
	})
}

// Symlink targets found while searching GC roots are classified without
// panicking and only inside-store targets become roots.
func FuzzRootTarget(f *testing.F) {
	f.Add("/nix/store/qjqcrhqkjmdgv3yqcgcd9fa7qi234hga-file.txt")
	f.Add("/nix/store/qjqcrhqkjmdgv3yqcgcd9fa7qi234hga-file.txt/bin/x")
	f.Add("../result")
	f.Add("/nix/store/../etc/passwd")
	f.Add("/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-x")
	s := &Store{storeDir: "/nix/store", root: "/r", realStoreDir: "/r/nix/store"}
	f.Fuzz(func(t *testing.T, target string) {
		p, ok := s.rootTarget(target)
		if ok {
			if _, err := s.storeDir.Parse(p); err != nil {
				t.Fatalf("rootTarget(%q) = %q, not a store path: %v", target, p, err)
			}
		}
		_ = s.isInStore(target)
	})
}
