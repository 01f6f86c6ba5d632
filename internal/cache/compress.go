package cache

import (
	"bufio"
	"compress/bzip2"
	"compress/gzip"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Compression names as they appear in narinfo `Compression:` and in the
// `compression=` store URL parameter.
const (
	CompressionNone  = "none"
	CompressionXZ    = "xz"
	CompressionZstd  = "zstd"
	CompressionBzip2 = "bzip2"
	CompressionGzip  = "gzip"
)

// narExtension is the suffix Nix appends to `nar/<hash>.nar` for each
// compression method (gzip gets none, see nix-formats.md §6.1).
func narExtension(method string) (string, error) {
	switch method {
	case CompressionNone, CompressionGzip:
		return "", nil
	case CompressionXZ:
		return ".xz", nil
	case CompressionZstd:
		return ".zst", nil
	case CompressionBzip2:
		return ".bz2", nil
	case "lzip":
		return ".lzip", nil
	case "lz4":
		return ".lz4", nil
	case "br":
		return ".br", nil
	}
	return "", fmt.Errorf("unknown compression method %q", method)
}

// canWrite reports whether onix can produce method.
func canWrite(method string) bool {
	switch method {
	case CompressionNone, CompressionXZ, CompressionZstd, CompressionGzip:
		return true
	}
	return false
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// newCompressor wraps w so that bytes written are compressed with method.
// level < 0 selects the method's default. Close flushes the compressor but
// does not close w.
func newCompressor(w io.Writer, method string, level int) (io.WriteCloser, error) {
	switch method {
	case CompressionNone:
		return nopWriteCloser{w}, nil
	case CompressionXZ:
		cfg := xz.WriterConfig{CheckSum: xz.CRC64}
		if err := cfg.Verify(); err != nil {
			return nil, fmt.Errorf("xz: %w", err)
		}
		zw, err := cfg.NewWriter(w)
		if err != nil {
			return nil, fmt.Errorf("xz: %w", err)
		}
		return zw, nil
	case CompressionZstd:
		opts := []zstd.EOption{zstd.WithEncoderConcurrency(1)}
		if level >= 0 {
			opts = append(opts, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)))
		}
		zw, err := zstd.NewWriter(w, opts...)
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zw, nil
	case CompressionGzip:
		if level < 0 {
			level = gzip.DefaultCompression
		}
		zw, err := gzip.NewWriterLevel(w, level)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zw, nil
	}
	return nil, fmt.Errorf("compression method %q is not supported for writing", method)
}

type funcReadCloser struct {
	io.Reader
	close func() error
}

func (f funcReadCloser) Close() error { return f.close() }

// decompressor is newDecompressor with zstd decoders reused from c's pool
// (allocating a decoder's history buffers dominated small-NAR cost).
func (c *BinaryCache) decompressor(r io.Reader, method string) (io.ReadCloser, error) {
	if method != CompressionZstd {
		return newDecompressor(r, method)
	}
	zr, _ := c.zstdPool.Get().(*zstd.Decoder)
	if zr == nil {
		var err error
		// The frame checksum (xxhash) is skipped: every NAR read through
		// here is checked against its sha256 NarHash (OpenNAR, or the
		// store while restoring), which a corrupt frame cannot pass.
		zr, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(false), zstd.IgnoreChecksum(true))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
	}
	if err := zr.Reset(r); err != nil {
		zr.Close()
		return nil, fmt.Errorf("zstd: %w", err)
	}
	return funcReadCloser{zr, func() error {
		if zr.Reset(nil) == nil {
			c.zstdPool.Put(zr)
		} else {
			zr.Close()
		}
		return nil
	}}, nil
}

// newDecompressor returns a reader of the decompressed bytes of r. Closing
// it releases decoder resources but does not close r.
func newDecompressor(r io.Reader, method string) (io.ReadCloser, error) {
	switch method {
	case CompressionNone:
		return io.NopCloser(r), nil
	case CompressionXZ:
		zr, err := xz.NewReader(bufio.NewReaderSize(r, 64*1024))
		if err != nil {
			return nil, fmt.Errorf("xz: %w", err)
		}
		return io.NopCloser(zr), nil
	case CompressionZstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(false))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return funcReadCloser{zr, func() error { zr.Close(); return nil }}, nil
	case CompressionBzip2:
		return io.NopCloser(bzip2.NewReader(bufio.NewReader(r))), nil
	case CompressionGzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	}
	return nil, fmt.Errorf("compression method %q is not supported", method)
}
