package nar

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"path"
)

// Writer produces a NAR from a sequence of headers in depth-first, sorted
// order (the order Reader yields them), with file contents written via Write.
// It validates ordering and sizes so it can never emit an archive Nix would
// reject.
type Writer struct {
	bw      *bufio.Writer
	started bool
	closed  bool
	dirs    []dirFrame // open directories, innermost last
	// remaining content bytes of the current regular file, and whether a
	// non-directory node is open and needs closing.
	remaining int64
	declared  int64
	fileOpen  bool
	rootDone  bool
	err       error
}

type dirFrame struct {
	path string
	last string
}

// NewWriter returns a Writer emitting to w. Call Close to finish the archive
// and flush; the Writer buffers small tokens internally.
func NewWriter(w io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, 64<<10)}
}

// appendStr appends s as a NAR string: length, bytes, zero padding.
func appendStr(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
	b = append(b, s...)
	return appendPad(b, uint64(len(s)))
}

func appendPad(b []byte, n uint64) []byte {
	var zero [8]byte
	return append(b, zero[:padLen(n)]...)
}

// str writes one NAR string; framing is assembled in the bufio buffer's free
// space (AvailableBuffer) so no token costs an allocation.
func (w *Writer) str(s string) {
	w.bw.Write(appendStr(w.bw.AvailableBuffer(), s))
}

func (w *Writer) pad(n uint64) {
	if p := padLen(n); p > 0 {
		w.bw.Write(appendPad(w.bw.AvailableBuffer(), n))
	}
}

// closeNode finishes the currently open non-directory node.
func (w *Writer) closeNode() error {
	if !w.fileOpen {
		return nil
	}
	if w.remaining != 0 {
		return fmt.Errorf("nar writer: %d content bytes missing", w.remaining)
	}
	w.fileOpen = false
	b := appendStr(w.bw.AvailableBuffer(), ")")
	if len(w.dirs) > 0 {
		b = appendStr(b, ")") // closes the enclosing "entry ("
	}
	w.bw.Write(b)
	return nil
}

// popDir closes the innermost open directory.
func (w *Writer) popDir() {
	w.dirs = w.dirs[:len(w.dirs)-1]
	w.str(")")
	if len(w.dirs) > 0 {
		w.str(")")
	}
}

// WriteHeader starts a new node. For regular files, exactly h.Size bytes
// must follow via Write.
func (w *Writer) WriteHeader(h *Header) error {
	if w.err != nil {
		return w.err
	}
	w.err = w.writeHeader(h, nil)
	return w.err
}

// writeFile writes a whole regular file, framing and contents, as one
// buffered write; len(data) must be h.Size.
func (w *Writer) writeFile(h *Header, data []byte) error {
	if w.err != nil {
		return w.err
	}
	if int64(len(data)) != h.Size {
		w.err = fmt.Errorf("nar writer: %s: %d content bytes for declared size %d", h.Path, len(data), h.Size)
		return w.err
	}
	w.err = w.writeHeader(h, data)
	return w.err
}

// writeHeader starts node h; for a regular file, data (if not nil) is its
// whole contents.
func (w *Writer) writeHeader(h *Header, data []byte) error {
	if w.closed {
		return fmt.Errorf("nar writer: WriteHeader after Close")
	}
	if err := w.closeNode(); err != nil {
		return err
	}
	if !w.started {
		if h.Path != "/" && h.Path != "" {
			return fmt.Errorf("nar writer: first node must be the root, got %q", h.Path)
		}
		w.started = true
		w.str(Magic)
	}
	// The node's framing goes out in one buffered write.
	var b []byte
	if w.rootDone || len(w.dirs) > 0 {
		if w.rootDone && len(w.dirs) == 0 {
			return fmt.Errorf("nar writer: %s: archive root already complete", h.Path)
		}
		parent, name := path.Split(h.Path)
		if len(parent) > 1 {
			parent = parent[:len(parent)-1]
		}
		if err := ValidateName(name); err != nil {
			return fmt.Errorf("nar writer: %s: %w", h.Path, err)
		}
		for len(w.dirs) > 0 && w.dirs[len(w.dirs)-1].path != parent {
			w.popDir()
		}
		if len(w.dirs) == 0 {
			return fmt.Errorf("nar writer: %s: parent directory is not open", h.Path)
		}
		top := &w.dirs[len(w.dirs)-1]
		if top.last != "" && name <= top.last {
			return fmt.Errorf("nar writer: %s: entries out of order or duplicated (after %q)", h.Path, top.last)
		}
		top.last = name
		b = w.bw.AvailableBuffer()
		b = appendStr(b, "entry")
		b = appendStr(b, "(")
		b = appendStr(b, "name")
		b = appendStr(b, name)
		b = appendStr(b, "node")
	} else {
		b = w.bw.AvailableBuffer()
	}
	w.rootDone = true
	b = appendStr(b, "(")
	b = appendStr(b, "type")
	switch h.Type {
	case TypeRegular:
		if h.Size < 0 {
			return fmt.Errorf("nar writer: %s: negative size", h.Path)
		}
		b = appendStr(b, "regular")
		if h.Executable {
			b = appendStr(b, "executable")
			b = appendStr(b, "")
		}
		b = appendStr(b, "contents")
		b = binary.LittleEndian.AppendUint64(b, uint64(h.Size))
		w.remaining = h.Size
		w.declared = h.Size
		w.fileOpen = true
		if data != nil {
			if cap(b)-len(b) < len(data)+8 {
				// Would not fit the buffer: no copy into a fresh slice.
				w.bw.Write(b)
				w.bw.Write(data)
				b = w.bw.AvailableBuffer()
			} else {
				b = append(b, data...)
			}
			b = appendPad(b, uint64(len(data)))
			w.remaining = 0
		}
	case TypeSymlink:
		b = appendStr(b, "symlink")
		b = appendStr(b, "target")
		b = appendStr(b, h.LinkTarget)
		w.fileOpen = true
		w.remaining = 0
	case TypeDirectory:
		b = appendStr(b, "directory")
		p := h.Path
		if p == "" {
			p = "/"
		}
		w.dirs = append(w.dirs, dirFrame{path: p})
	default:
		return fmt.Errorf("nar writer: %s: unknown type %q", h.Path, h.Type)
	}
	w.bw.Write(b)
	return nil
}

// Write writes contents of the current regular file.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if int64(len(p)) > w.remaining {
		w.err = fmt.Errorf("nar writer: write of %d bytes exceeds declared size (%d left)", len(p), w.remaining)
		return 0, w.err
	}
	n, err := w.bw.Write(p)
	w.remaining -= int64(n)
	if w.remaining == 0 && w.fileOpen {
		w.pad(uint64(w.declared))
	}
	if err != nil {
		w.err = err
	}
	return n, err
}

// Close finishes all open nodes and flushes. It does not close the
// underlying writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return nil
	}
	if !w.started {
		w.err = fmt.Errorf("nar writer: empty archive")
		return w.err
	}
	if err := w.closeNode(); err != nil {
		w.err = err
		return err
	}
	for len(w.dirs) > 0 {
		w.popDir()
	}
	w.closed = true
	if err := w.bw.Flush(); err != nil {
		w.err = err
		return err
	}
	return nil
}
