package cache

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

// FuzzParseNarInfo: the reader never panics, and whatever it accepts
// renders to text that parses back to the same narinfo with the same
// fingerprint (so signatures survive a rewrite).
func FuzzParseNarInfo(f *testing.F) {
	if files, err := filepath.Glob("/work/shared/testdata/nix-vectors/binary-cache/cache-*/*.narinfo"); err == nil {
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("StorePath: /nix/store/91dkhdfrdzngb4m62zak427y2vpamanj-plain\nURL: nar/x.nar\nNarHash: sha256:04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw\nNarSize: 1\nReferences: \n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sd := storepath.DefaultStoreDir
		ni, err := ParseNarInfo(data, sd, "fuzz")
		if err != nil {
			return
		}
		text := ni.String()
		ni2, err := ParseNarInfo([]byte(text), sd, "again")
		if err != nil {
			t.Fatalf("re-parse of %q: %v", text, err)
		}
		if ni2.String() != text {
			t.Fatalf("not stable:\n%s\n---\n%s", text, ni2.String())
		}
		fp1, err1 := ni.Fingerprint(sd)
		fp2, err2 := ni2.Fingerprint(sd)
		if fp1 != fp2 || (err1 == nil) != (err2 == nil) {
			t.Fatalf("fingerprint changed: %q vs %q", fp1, fp2)
		}
		// Whatever a cache serves, a narinfo can only name paths inside sd.
		if _, err := sd.Parse(ni.StorePath); err != nil {
			t.Fatalf("accepted StorePath %q outside the store", ni.StorePath)
		}
	})
}
