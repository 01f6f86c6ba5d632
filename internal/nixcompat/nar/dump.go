package nar

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
)

// Filter decides whether a path (the full filesystem path, as Nix's
// PathFilter receives it) is included; mode is from lstat. The root is always
// included. A nil Filter includes everything.
type Filter func(path string, mode fs.FileMode) bool

// copyBufSize is large so that hashing a big file costs one read syscall per
// MiB and the hash function sees long contiguous blocks.
const copyBufSize = 1 << 20

// DumpPath writes the NAR serialisation of path to w, byte-identical to
// `nix-store --dump`: entries sorted by name bytes, only the owner execute
// bit recorded, symlinks stored verbatim (never followed).
func DumpPath(ctx context.Context, w io.Writer, path string, filter Filter) error {
	d := dumper{ctx: ctx, nw: NewWriter(w), filter: filter, buf: make([]byte, copyBufSize)}
	if err := d.dump(path, "/"); err != nil {
		return err
	}
	if err := d.nw.Close(); err != nil {
		return fmt.Errorf("dump %s: %w", path, err)
	}
	return nil
}

// HashPath returns the sha256 NAR hash and NAR size of path (narHash and
// narSize in Nix's path info).
func HashPath(ctx context.Context, path string, filter Filter) (hash.Hash, int64, error) {
	return HashPathAlgo(ctx, hash.SHA256, path, filter)
}

// HashPathAlgo is HashPath with a chosen algorithm (nix-hash --type).
func HashPathAlgo(ctx context.Context, algo hash.Algo, path string, filter Filter) (hash.Hash, int64, error) {
	h, err := hash.NewHasher(algo)
	if err != nil {
		return hash.Hash{}, 0, err
	}
	if err := DumpPath(ctx, h, path, filter); err != nil {
		return hash.Hash{}, 0, err
	}
	return h.Sum(), h.Size(), nil
}

type dumper struct {
	ctx    context.Context
	nw     *Writer
	filter Filter
	buf    []byte // one copy buffer reused for every file
}

func (d *dumper) dump(fsPath, narPath string) error {
	if err := d.ctx.Err(); err != nil {
		return fmt.Errorf("dump %s: %w", fsPath, err)
	}
	fi, err := os.Lstat(fsPath)
	if err != nil {
		return fmt.Errorf("dump %s: %w", fsPath, err)
	}
	mode := fi.Mode()
	switch {
	case mode.IsRegular():
		return d.dumpFile(fsPath, narPath, fi)
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(fsPath)
		if err != nil {
			return fmt.Errorf("dump %s: %w", fsPath, err)
		}
		if err := d.nw.WriteHeader(&Header{Path: narPath, Type: TypeSymlink, LinkTarget: target}); err != nil {
			return fmt.Errorf("dump %s: %w", fsPath, err)
		}
		return nil
	case mode.IsDir():
		if err := d.nw.WriteHeader(&Header{Path: narPath, Type: TypeDirectory}); err != nil {
			return fmt.Errorf("dump %s: %w", fsPath, err)
		}
		names, err := readDirNames(fsPath)
		if err != nil {
			return fmt.Errorf("dump %s: %w", fsPath, err)
		}
		for _, name := range names {
			child := filepath.Join(fsPath, name)
			if d.filter != nil {
				cfi, err := os.Lstat(child)
				if err != nil {
					return fmt.Errorf("dump %s: %w", child, err)
				}
				if !d.filter(child, cfi.Mode()) {
					continue
				}
			}
			if err := d.dump(child, childPath(narPath, name)); err != nil {
				return err
			}
		}
		return nil
	default:
		return fmt.Errorf("dump %s: file has an unsupported type (%s)", fsPath, mode.Type())
	}
}

func readDirNames(p string) ([]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	sort.Strings(names) // byte order, as Nix's std::map<string,...>
	return names, nil
}

func (d *dumper) dumpFile(fsPath, narPath string, fi fs.FileInfo) error {
	f, err := os.OpenFile(fsPath, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return fmt.Errorf("dump %s: %w", fsPath, err)
	}
	defer f.Close()
	// Re-stat the open file so size and mode match what we actually read.
	if fi, err = f.Stat(); err != nil {
		return fmt.Errorf("dump %s: %w", fsPath, err)
	}
	h := &Header{Path: narPath, Type: TypeRegular, Size: fi.Size(), Executable: fi.Mode()&0o100 != 0}
	if err := d.nw.WriteHeader(h); err != nil {
		return fmt.Errorf("dump %s: %w", fsPath, err)
	}
	var done int64
	for done < h.Size {
		if err := d.ctx.Err(); err != nil {
			return fmt.Errorf("dump %s: %w", fsPath, err)
		}
		n, err := f.Read(d.buf[:min(int64(len(d.buf)), h.Size-done)])
		if n > 0 {
			if _, werr := d.nw.Write(d.buf[:n]); werr != nil {
				return fmt.Errorf("dump %s: %w", fsPath, werr)
			}
			done += int64(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("dump %s: %w", fsPath, err)
		}
	}
	if done != h.Size {
		return fmt.Errorf("dump %s: file changed size while reading (%d of %d bytes)", fsPath, done, h.Size)
	}
	return nil
}
