package nar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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
	// contents are written, before it is closed: a store uses it to start
	// writing the data back to disk while the rest of the NAR arrives, so
	// that its later sync has less to wait for.
	FileWritten func(*os.File)
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
	buf := make([]byte, copyBufSize)
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
			made, err = restoreFile(ctx, root, rel, h, nr, buf, opts.FileWritten)
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
func restoreFile(ctx context.Context, root *os.Root, rel string, h *Header, r io.Reader, buf []byte, written func(*os.File)) (made bool, err error) {
	perm := os.FileMode(0o666)
	if h.Executable {
		perm = 0o777
	}
	f, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, perm)
	if err != nil {
		return false, err
	}
	var copied int64
	for copied < h.Size {
		if err := ctx.Err(); err != nil {
			f.Close()
			return true, err
		}
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, werr := f.Write(buf[:n]); werr != nil {
				f.Close()
				return true, werr
			}
			copied += int64(n)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			f.Close()
			return true, rerr
		}
	}
	if copied != h.Size {
		f.Close()
		return true, fmt.Errorf("short contents: %d of %d bytes", copied, h.Size)
	}
	if written != nil {
		written(f)
	}
	return true, f.Close()
}
