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
	content := flag.String("content", "random", "file contents: random (incompressible) or mixed (two thirds of each file text-like, compressing about 2x with zstd, like real store paths)")
	flag.Parse()
	if *content != "random" && *content != "mixed" {
		fmt.Fprintln(os.Stderr, "gen: -content must be random or mixed")
		os.Exit(2)
	}
	if err := run(context.Background(), *root, *n, *total, *seed, *content == "mixed"); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, root string, n int, total int64, seed uint64, mixed bool) error {
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
			if err := writeContent(fp, part, rng, buf, mixed); err != nil {
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

// vocabulary is what the text-like blocks of mixed content are made of:
// symbol and path fragments such as binaries and scripts are full of.
var vocabulary = strings.Fields(`_ZN4core3fmt9Formatter9write_str _ZNSt6vectorIiSaIiEE9push_back
	GLIBC_2.34 libc.so.6 /nix/store/ lib64 x86_64-linux-gnu __cxa_finalize .rodata .text .data
	main init fini malloc free memcpy strlen printf error warning debug config
	usr/share/doc/ README LICENSE Makefile #include <stdio.h> return int char void const
	static struct unsigned long size_t if else for while switch case break continue`)

// writeContent writes n bytes of random or mixed content to p.
func writeContent(p string, n int64, rng *mrand.Rand, buf []byte, mixed bool) error {
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
		if mixed {
			textBlocks(buf[:c], rng)
		}
		if _, err := f.Write(buf[:c]); err != nil {
			f.Close()
			return err
		}
		n -= c
	}
	return f.Close()
}

// textBlocks overwrites two of every three 4 KiB blocks of b with words of
// the vocabulary and numbers, leaving the rest random.
func textBlocks(b []byte, rng *mrand.Rand) {
	for off := 0; off < len(b); off += 4096 {
		if rng.IntN(3) == 0 {
			continue
		}
		blk := b[off:min(off+4096, len(b))]
		i := 0
		for i < len(blk) {
			w := vocabulary[rng.IntN(len(vocabulary))]
			if rng.IntN(8) == 0 {
				w = fmt.Sprintf("%d", rng.IntN(100000))
			}
			i += copy(blk[i:], w)
			if i < len(blk) {
				blk[i] = " \n"[rng.IntN(2)]
				i++
			}
		}
	}
}
