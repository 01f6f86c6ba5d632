// Command gen fills an onix store with a synthetic closure for the binary
// cache benchmark: N input-addressed paths of random content whose
// references form a DAG, plus one top path referring to every path that
// nothing else refers to. It prints the top path.
package main

import (
	"context"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/onix-dev/onix/internal/nixcompat/nixbase32"
	"github.com/onix-dev/onix/internal/store"
)

func main() {
	root := flag.String("store", "", "physical store root to fill")
	n := flag.Int("n", 200, "number of paths")
	total := flag.Int64("bytes", 500<<20, "approximate total content size")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if err := run(context.Background(), *root, *n, *total, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, root string, n int, total int64, seed uint64) error {
	if root == "" || n < 2 {
		return fmt.Errorf("need -store and -n >= 2")
	}
	st, err := store.Open(ctx, store.Options{Root: root})
	if err != nil {
		return err
	}
	defer st.Close()
	rng := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	sd := st.StoreDir()
	avg := total / int64(n-1)
	var paths []string
	referenced := map[string]bool{}
	buf := make([]byte, 1<<20)
	for i := 0; i < n; i++ {
		refSet := map[string]bool{}
		if i == n-1 {
			for _, p := range paths {
				if !referenced[p] {
					refSet[p] = true
				}
			}
		} else if i > 0 {
			for k := rng.IntN(4); k > 0; k-- {
				refSet[paths[rng.IntN(len(paths))]] = true
			}
		}
		refs := []string{}
		for r := range refSet {
			refs = append(refs, r)
			referenced[r] = true
		}
		var digest [20]byte
		for j := range digest {
			digest[j] = byte(rng.Uint32())
		}
		hp := nixbase32.EncodeToString(digest[:])
		name := fmt.Sprintf("bench-%03d", i)
		src := filepath.Join(root, "gen-"+hp)
		if err := os.MkdirAll(filepath.Join(src, "lib"), 0o755); err != nil {
			return err
		}
		size := int64(0)
		if i < n-1 {
			size = avg/5 + rng.Int64N(avg*8/5+1) // 0.2x .. 1.8x the average
		}
		// A few files per path: one big, some small.
		files := 1 + rng.IntN(6)
		for f := 0; f < files; f++ {
			part := size / int64(files)
			if f == 0 {
				part += size % int64(files)
			}
			fp := filepath.Join(src, "lib", fmt.Sprintf("file-%d.bin", f))
			if err := writeRandom(fp, part, rng, buf); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(src, "refs"), []byte(strings.Join(refs, "\n")), 0o644); err != nil {
			return err
		}
		path := string(sd) + "/" + hp + "-" + name
		if _, err := st.RegisterOutputs(ctx, []store.Output{{Path: path, Src: src, References: refs}}); err != nil {
			return err
		}
		paths = append(paths, path)
	}
	fmt.Println(paths[len(paths)-1])
	return nil
}

func writeRandom(p string, n int64, rng *mrand.Rand, buf []byte) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	for n > 0 {
		c := int64(len(buf))
		if c > n {
			c = n
		}
		for i := 0; i+8 <= int(c); i += 8 {
			v := rng.Uint64()
			buf[i], buf[i+1], buf[i+2], buf[i+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
			buf[i+4], buf[i+5], buf[i+6], buf[i+7] = byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56)
		}
		if _, err := f.Write(buf[:c]); err != nil {
			f.Close()
			return err
		}
		n -= c
	}
	return f.Close()
}
