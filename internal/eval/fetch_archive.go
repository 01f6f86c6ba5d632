package eval

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"fmt"
	"github.com/onix-dev/onix/internal/ctxio"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Archive unpacking for fetchTarball. Nix 2.8 hands the downloaded file to
// libarchive with every filter and format enabled and extracts it with
// ARCHIVE_EXTRACT_PERM|TIME|SECURE_SYMLINKS|SECURE_NODOTDOT; the tree then
// needs exactly one top-level member. We support (compressed) tar and zip.

// zipMagic reports whether the file starts like a zip archive: a local file
// header, or the end-of-central-directory record of an empty archive.
func zipMagic(b []byte) bool {
	return bytes.HasPrefix(b, []byte("PK\x03\x04")) || bytes.HasPrefix(b, []byte("PK\x05\x06"))
}

// unpackArchive extracts the tar or zip file into dir (which must not exist
// yet or be empty) and returns its single top-level entry.
func unpackArchive(ctx context.Context, file, dir string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	magic := make([]byte, 4)
	n, _ := io.ReadFull(f, magic)
	if zipMagic(magic[:n]) {
		st, err := f.Stat()
		if err != nil {
			return "", err
		}
		if err := extractZip(ctx, f, st.Size(), dir); err != nil {
			return "", err
		}
	} else {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return "", err
		}
		if err := extractTar(ctxio.Reader(ctx, f), dir); err != nil {
			return "", err
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	if len(ents) != 1 {
		return "", errTopLevel
	}
	return filepath.Join(dir, ents[0].Name()), nil
}

// errTopLevel: the archive does not have exactly one top-level member.
var errTopLevel = errors.New("archive contains an unexpected number of top-level files")

// archivePath validates an archive member name and returns it cleaned and
// slash-separated relative to the destination ("" for the root itself).
// Like libarchive's SECURE_NODOTDOT, any ".." element is refused; absolute
// names are refused when allowAbs is false (zip) and made relative
// otherwise (tar, as Nix prefixes the destination directory).
func archivePath(name string, allowAbs bool) (string, error) {
	if name == "" {
		return "", fmt.Errorf("archive member with an empty name")
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("archive member '%s' has a NUL byte in its name", name)
	}
	if strings.HasPrefix(name, "/") {
		if !allowAbs {
			return "", fmt.Errorf("archive member '%s' has an absolute path", name)
		}
		name = strings.TrimLeft(name, "/")
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return "", fmt.Errorf("archive member '%s' contains '..'", name)
		}
	}
	c := path.Clean(name)
	if c == "." {
		return "", nil
	}
	return c, nil
}

// prepareDest makes the parent directories of rel inside dir without
// following symlinks (SECURE_SYMLINKS: extracting through a symlink is an
// error) and returns the full path of rel. A non-directory in the way of a
// parent is replaced, as libarchive does.
func prepareDest(dir, rel string) (string, error) {
	cur := dir
	els := strings.Split(rel, "/")
	for _, el := range els[:len(els)-1] {
		cur = filepath.Join(cur, el)
		fi, err := os.Lstat(cur)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if err := os.Mkdir(cur, 0o755); err != nil {
				return "", err
			}
		case err != nil:
			return "", err
		case fi.Mode()&os.ModeSymlink != 0:
			return "", fmt.Errorf("cannot extract '%s' through symlink '%s'", rel, strings.TrimPrefix(cur, dir+"/"))
		case !fi.IsDir():
			if err := os.Remove(cur); err != nil {
				return "", err
			}
			if err := os.Mkdir(cur, 0o755); err != nil {
				return "", err
			}
		}
	}
	return filepath.Join(dir, filepath.FromSlash(rel)), nil
}

// checkNoSymlinkParents reports an error when a parent of rel inside dir is
// a symlink (for hard link targets, which must not leave dir).
func checkNoSymlinkParents(dir, rel string) error {
	cur := dir
	els := strings.Split(rel, "/")
	for _, el := range els[:len(els)-1] {
		cur = filepath.Join(cur, el)
		fi, err := os.Lstat(cur)
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("hard link target '%s' goes through symlink '%s'", rel, strings.TrimPrefix(cur, dir+"/"))
		}
	}
	return nil
}

// clearDest removes what is at dst so a file or symlink can be created
// there; a non-empty directory is an error.
func clearDest(dst string) error {
	fi, err := os.Lstat(dst)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		if err := os.Remove(dst); err != nil {
			return fmt.Errorf("cannot replace directory with a file: %w", err)
		}
		return nil
	}
	return os.Remove(dst)
}

// mkdirDest makes dst a directory, replacing a non-directory.
func mkdirDest(dst string) error {
	fi, err := os.Lstat(dst)
	if err == nil && fi.IsDir() {
		return nil
	}
	if err == nil {
		if err := os.Remove(dst); err != nil {
			return err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.Mkdir(dst, 0o755)
}

// writeDestFile creates dst (executable or not) with the contents of r.
func writeDestFile(dst string, r io.Reader, exec bool) error {
	if err := clearDest(dst); err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if exec {
		mode = 0o755
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	// the umask may have removed bits; the NAR only looks at S_IXUSR
	return os.Chmod(dst, mode)
}

// Unix file type bits as stored in zip external attributes.
const (
	unixIFMT  = 0o170000
	unixIFDIR = 0o040000
	unixIFREG = 0o100000
	unixIFLNK = 0o120000
)

// zipEntryMode computes a member's Unix mode the way libarchive's zip
// reader does: the high 16 bits of the external attributes for archives
// made on Unix, the MS-DOS directory and read-only bits for MS-DOS, nothing
// otherwise; a trailing slash always means a directory and a missing type
// means a regular file.
func zipEntryMode(f *zip.File) uint32 {
	var mode uint32
	switch f.CreatorVersion >> 8 {
	case 3: // Unix
		mode = f.ExternalAttrs >> 16
	case 0: // MS-DOS
		if f.ExternalAttrs&0x10 != 0 {
			mode = unixIFDIR | 0o775
		} else {
			mode = unixIFREG | 0o664
		}
		if f.ExternalAttrs&0x01 != 0 {
			mode &= 0o555
		}
	}
	if mode&unixIFMT != unixIFDIR {
		if strings.HasSuffix(f.Name, "/") {
			mode = mode&^unixIFMT | unixIFDIR | 0o111
		} else if mode&unixIFMT == 0 {
			mode |= unixIFREG
		}
	}
	return mode
}

// maxZipSymlink bounds a symlink target read from a zip member (PATH_MAX).
const maxZipSymlink = 4096

// extractZip extracts the zip archive r (of the given size) into dir.
func extractZip(ctx context.Context, r io.ReaderAt, size int64, dir string) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return fmt.Errorf("reading zip archive: %w", err)
	}
	// libarchive also reads these methods; registered on this reader only
	zr.RegisterDecompressor(12, func(r io.Reader) io.ReadCloser { return io.NopCloser(bzip2.NewReader(r)) })
	zr.RegisterDecompressor(93, func(r io.Reader) io.ReadCloser {
		d, err := zstd.NewReader(r)
		if err != nil {
			return errReadCloser{err}
		}
		return d.IOReadCloser()
	})
	zr.RegisterDecompressor(95, func(r io.Reader) io.ReadCloser {
		d, err := xz.NewReader(bufio.NewReader(r))
		if err != nil {
			return errReadCloser{err}
		}
		return io.NopCloser(d)
	})
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := extractZipEntry(ctx, f, dir); err != nil {
			return fmt.Errorf("zip member '%s': %w", f.Name, err)
		}
	}
	return nil
}

func extractZipEntry(ctx context.Context, f *zip.File, dir string) error {
	if f.Flags&0x1 != 0 {
		return fmt.Errorf("encrypted zip members are not supported")
	}
	rel, err := archivePath(f.Name, false)
	if err != nil {
		return err
	}
	mode := zipEntryMode(f)
	if rel == "" {
		if mode&unixIFMT == unixIFDIR {
			return nil
		}
		return fmt.Errorf("non-directory member names the archive root")
	}
	dst, err := prepareDest(dir, rel)
	if err != nil {
		return err
	}
	switch mode & unixIFMT {
	case unixIFDIR:
		return mkdirDest(dst)
	case unixIFREG:
		rc, err := f.Open()
		if err != nil {
			return err
		}
		defer rc.Close()
		return writeDestFile(dst, ctxio.Reader(ctx, rc), mode&0o100 != 0)
	case unixIFLNK:
		rc, err := f.Open()
		if err != nil {
			return err
		}
		defer rc.Close()
		target, err := io.ReadAll(io.LimitReader(rc, maxZipSymlink+1))
		if err != nil {
			return err
		}
		if len(target) == 0 || len(target) > maxZipSymlink || bytes.IndexByte(target, 0) >= 0 {
			return fmt.Errorf("invalid symlink target")
		}
		if err := clearDest(dst); err != nil {
			return err
		}
		return os.Symlink(string(target), dst)
	default:
		return fmt.Errorf("unsupported file type (mode %o)", mode)
	}
}

type errReadCloser struct{ err error }

func (e errReadCloser) Read([]byte) (int, error) { return 0, e.err }
func (e errReadCloser) Close() error             { return nil }
