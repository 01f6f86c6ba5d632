package nar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unsafe"
)

// Restore unpacks the NAR read from r at dest, which must not exist. It is
// safe against untrusted input: names are validated by the Reader (no ".",
// "..", "/", NUL, empty, duplicates or unsorted entries), all file system
// operations go through an os.Root anchored at dest's parent so nothing can
// be written outside dest, and new files are created with O_EXCL so an
// existing symlink is never followed. On error everything written so far is
// removed.
func Restore(ctx context.Context, r io.Reader, dest string) error {
	return RestoreWith(ctx, r, dest, RestoreOptions{})
}

// RestoreOptions adjusts Restore.
type RestoreOptions struct {
	// FileWritten, when set, is called with each regular file once its
	// contents are written, before it is closed (for instance to start
	// its writeback, or to inspect how it was written).
	FileWritten func(*os.File)
	// DirectIO writes the block-aligned part of each file of at least
	// directMin bytes with O_DIRECT (where the file system supports it):
	// the data goes from the buffer to the disk without a copy into the
	// page cache, which on a substitution costs more CPU than hashing the
	// NAR, and it is on disk when the write returns, so a later sync has
	// only metadata and the short tails to write. Smaller files and the
	// tails go through the page cache.
	DirectIO bool
	// Buffer, when at least 2*directAlign bytes, is used for file contents
	// instead of a fresh 1 MiB allocation, so a caller restoring many NARs
	// can reuse buffers. It must not be in use elsewhere during the call.
	Buffer []byte
}

// RestoreWith is Restore with options.
func RestoreWith(ctx context.Context, r io.Reader, dest string, opts RestoreOptions) (err error) {
	dest = filepath.Clean(dest)
	parent, base := filepath.Split(dest)
	if base == "" || base == "." || base == ".." {
		return fmt.Errorf("restore %s: invalid destination", dest)
	}
	if parent == "" {
		parent = "."
	}
	root, err := os.OpenRoot(parent)
	if err != nil {
		return fmt.Errorf("restore %s: %w", dest, err)
	}
	defer root.Close()
	if _, err := root.Lstat(base); err == nil {
		return fmt.Errorf("restore %s: destination already exists", dest)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("restore %s: %w", dest, err)
	}
	created := false
	defer func() {
		if err != nil && created {
			if rerr := root.RemoveAll(base); rerr != nil {
				err = fmt.Errorf("%w (cleanup also failed: %v)", err, rerr)
			}
		}
	}()
	nr := NewReader(r)
	buf := opts.Buffer
	if len(buf) < 2*directAlign {
		buf = make([]byte, copyBufSize)
	}
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("restore %s: %w", dest, err)
		}
		h, err := nr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("restore %s: %w", dest, err)
		}
		// h.Path is "/" or "/a/b" with validated components, so this
		// relative name stays inside base.
		rel := base + strings.TrimSuffix(h.Path, "/")
		display := filepath.Join(dest, filepath.FromSlash(h.Path))
		made := false
		switch h.Type {
		case TypeDirectory:
			err = root.Mkdir(rel, 0o777)
			made = err == nil
		case TypeSymlink:
			err = root.Symlink(h.LinkTarget, rel)
			made = err == nil
		case TypeRegular:
			made, err = restoreFile(ctx, root, rel, h, nr, buf, &opts)
		}
		if h.Path == "/" && made {
			created = true
		}
		if err != nil {
			return fmt.Errorf("restore %s: %w", display, err)
		}
	}
}

// restoreFile creates one regular file; made reports whether it was created
// (so the caller can clean up a partially written root file).
func restoreFile(ctx context.Context, root *os.Root, rel string, h *Header, r io.Reader, buf []byte, opts *RestoreOptions) (made bool, err error) {
	perm := os.FileMode(0o666)
	if h.Executable {
		perm = 0o777
	}
	f, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, perm)
	if err != nil {
		return false, err
	}
	// O_DIRECT is switched on after the open: a file system without it
	// refuses the fcntl, and the file is then written the usual way.
	if opts.DirectIO && h.Size >= directMin && setDirect(f, true) == nil {
		if err := copyDirect(ctx, f, r, h.Size, buf); err != nil {
			f.Close()
			return true, err
		}
	} else if err := copyBuffered(ctx, f, r, h.Size, buf); err != nil {
		f.Close()
		return true, err
	}
	if opts.FileWritten != nil {
		opts.FileWritten(f)
	}
	return true, f.Close()
}

// copyBuffered writes size bytes of r to f through the page cache.
func copyBuffered(ctx context.Context, f *os.File, r io.Reader, size int64, buf []byte) error {
	var copied int64
	for copied < size {
		if err := ctx.Err(); err != nil {
			return err
		}
		want := nextChunk(buf, size, copied)
		n, rerr := r.Read(want)
		if n > 0 {
			if _, werr := f.Write(want[:n]); werr != nil {
				return werr
			}
			copied += int64(n)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if copied != size {
		return fmt.Errorf("short contents: %d of %d bytes", copied, size)
	}
	return nil
}

// nextChunk is the part of buf the next read of a file of size bytes, of
// which copied are written, may fill.
func nextChunk(buf []byte, size, copied int64) []byte {
	if left := size - copied; left < int64(len(buf)) {
		return buf[:left]
	}
	return buf
}

// directAlign is the alignment O_DIRECT asks of buffers, file offsets and
// lengths; 4096 covers the logical block sizes of common disks.
const directAlign = 4096

// directMin is the smallest file written with O_DIRECT: below it the
// synchronous disk write costs more than the page-cache copy saves.
const directMin = 256 << 10

// copyDirect writes size bytes of r to f, which has O_DIRECT set: whole
// aligned chunks directly, then the tail (shorter than directAlign)
// through the page cache after switching O_DIRECT off again.
func copyDirect(ctx context.Context, f *os.File, r io.Reader, size int64, buf []byte) error {
	buf = alignBuffer(buf)
	var copied int64
	for copied < size {
		if err := ctx.Err(); err != nil {
			return err
		}
		want := nextChunk(buf, size, copied)
		// Fill the chunk: O_DIRECT writes must be whole blocks.
		n, rerr := io.ReadFull(r, want)
		copied += int64(n)
		if rerr != nil {
			if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
				return fmt.Errorf("short contents: %d of %d bytes", copied, size)
			}
			return rerr
		}
		whole := n &^ (directAlign - 1)
		if whole > 0 {
			if err := writeDirect(f, want[:whole]); err != nil {
				return err
			}
		}
		if whole < n { // the file's last bytes
			if err := setDirect(f, false); err != nil {
				return err
			}
			if _, err := f.Write(want[whole:n]); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeDirect writes b (whole blocks) to f with O_DIRECT; a file system
// that took O_DIRECT but refuses this alignment (EINVAL) gets the rest of
// the file through the page cache instead.
func writeDirect(f *os.File, b []byte) error {
	n, err := f.Write(b)
	if err == nil || !errors.Is(err, syscall.EINVAL) {
		return err
	}
	if err := setDirect(f, false); err != nil {
		return err
	}
	_, err = f.Write(b[n:])
	return err
}

// alignBuffer returns the largest part of buf that starts at a directAlign
// boundary and whose length is a multiple of it (buf must hold at least
// 2*directAlign bytes).
func alignBuffer(buf []byte) []byte {
	if off := int(uintptr(unsafe.Pointer(unsafe.SliceData(buf))) & (directAlign - 1)); off != 0 {
		buf = buf[directAlign-off:]
	}
	return buf[:len(buf)&^(directAlign-1)]
}
