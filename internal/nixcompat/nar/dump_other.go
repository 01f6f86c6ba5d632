//go:build !linux

package nar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// dumpTree is the portable, sequential dumper. A copy goes through a pipe
// into Restore; Canonical is only supported on Linux.
func dumpTree(ctx context.Context, w io.Writer, src, dst string, opts CopyOptions) error {
	if dst == "" {
		nw := NewWriter(w)
		d := dumper{ctx: ctx, nw: nw, filter: opts.Filter, buf: make([]byte, copyBufSize)}
		if err := d.dump(src, "/"); err != nil {
			return err
		}
		if err := nw.Close(); err != nil {
			return fmt.Errorf("dump %s: %w", src, err)
		}
		return nil
	}
	if opts.Canonical {
		return fmt.Errorf("copy %s: canonical copies are not supported on this platform", src)
	}
	pr, pw := io.Pipe()
	dumpErr := make(chan error, 1)
	go func() {
		err := dumpTree(ctx, pw, src, "", opts)
		pw.CloseWithError(err)
		dumpErr <- err
	}()
	rerr := Restore(ctx, io.TeeReader(pr, w), dst)
	pr.CloseWithError(errors.New("restore finished"))
	if derr := <-dumpErr; derr != nil {
		return derr
	}
	return rerr
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
		return d.dumpFile(fsPath, narPath)
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
		f, err := os.Open(fsPath)
		if err != nil {
			return fmt.Errorf("dump %s: %w", fsPath, err)
		}
		names, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			return fmt.Errorf("dump %s: %w", fsPath, err)
		}
		sort.Strings(names) // byte order, as Nix's std::map<string,...>
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

func (d *dumper) dumpFile(fsPath, narPath string) error {
	f, err := os.OpenFile(fsPath, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return fmt.Errorf("dump %s: %w", fsPath, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
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
