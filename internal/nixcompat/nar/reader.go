package nar

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Reader parses a NAR as a stream of Headers, like archive/tar. It checks
// everything Nix's parser checks (magic, token order, zero padding, entry
// names, strictly increasing entry order) and reports errors with the NAR
// byte offset and node path.
//
// Reader never reads past the end of the archive, so it can parse a NAR
// embedded in a protocol stream; wrap slow readers in a bufio.Reader.
type Reader struct {
	r     io.Reader
	off   int64
	state readerState
	dirs  []readFrame
	// current regular file
	remaining int64
	size      int64
	cur       string
	err       error
	scratch   [8]byte
}

type readFrame struct {
	path    string
	last    string
	inEntry bool
}

type readerState int

const (
	stateStart     readerState = iota
	stateFile                  // inside a regular file's contents
	stateAfterNode             // a node was returned; continue in its parent
	stateEOF
)

// NewReader returns a Reader for r. The magic is read on the first Next.
func NewReader(r io.Reader) *Reader { return &Reader{r: r} }

// Offset returns how many bytes of the NAR have been consumed.
func (r *Reader) Offset() int64 { return r.off }

func (r *Reader) errorf(format string, args ...any) error {
	where := r.cur
	if where == "" {
		where = "/"
	}
	return fmt.Errorf("nar: at offset %d (%s): %s", r.off, where, fmt.Sprintf(format, args...))
}

func (r *Reader) readFull(p []byte) error {
	n, err := io.ReadFull(r.r, p)
	r.off += int64(n)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return r.errorf("%v", err)
	}
	return nil
}

func (r *Reader) readU64() (uint64, error) {
	if err := r.readFull(r.scratch[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(r.scratch[:]), nil
}

func (r *Reader) readPadding(n uint64) error {
	p := padLen(n)
	if p == 0 {
		return nil
	}
	if err := r.readFull(r.scratch[:p]); err != nil {
		return err
	}
	for _, b := range r.scratch[:p] {
		if b != 0 {
			return r.errorf("non-zero padding")
		}
	}
	return nil
}

// readString reads a padded string of at most max bytes.
func (r *Reader) readString(max int) (string, error) {
	n, err := r.readU64()
	if err != nil {
		return "", err
	}
	if n > uint64(max) {
		return "", r.errorf("string of %d bytes exceeds limit %d", n, max)
	}
	buf := make([]byte, n)
	if err := r.readFull(buf); err != nil {
		return "", err
	}
	if err := r.readPadding(n); err != nil {
		return "", err
	}
	return string(buf), nil
}

func (r *Reader) expect(tok string) error {
	s, err := r.readString(maxTokenLen)
	if err != nil {
		return err
	}
	if s != tok {
		return r.errorf("expected %q, got %q", tok, s)
	}
	return nil
}

// Next advances to the next node and returns its header, or io.EOF after
// the root node is complete. Unread contents of the previous file are
// skipped (and their padding still verified).
func (r *Reader) Next() (*Header, error) {
	if r.err != nil {
		return nil, r.err
	}
	h, err := r.next()
	if err != nil {
		r.err = err
		if err == io.EOF {
			r.state = stateEOF
		}
		return nil, err
	}
	return h, nil
}

func (r *Reader) next() (*Header, error) {
	switch r.state {
	case stateStart:
		if err := r.expect(Magic); err != nil {
			return nil, fmt.Errorf("not a NAR: %w", err)
		}
		return r.readNode("/")
	case stateFile:
		if r.remaining > 0 {
			if _, err := io.CopyN(io.Discard, r, r.remaining); err != nil {
				return nil, err
			}
		}
		if err := r.finishFile(); err != nil {
			return nil, err
		}
		return r.advance()
	case stateAfterNode:
		return r.advance()
	}
	return nil, io.EOF
}

// finishFile consumes a regular file's padding and closing token.
func (r *Reader) finishFile() error {
	if err := r.readPadding(uint64(r.size)); err != nil {
		return err
	}
	if err := r.expect(")"); err != nil {
		return err
	}
	r.state = stateAfterNode
	return nil
}

// advance continues after a finished node: it closes entries and
// directories until it finds the next entry or the end of the archive.
func (r *Reader) advance() (*Header, error) {
	for {
		if len(r.dirs) == 0 {
			return nil, io.EOF
		}
		top := &r.dirs[len(r.dirs)-1]
		r.cur = top.path
		if top.inEntry {
			if err := r.expect(")"); err != nil {
				return nil, err
			}
			top.inEntry = false
		}
		tok, err := r.readString(maxTokenLen)
		if err != nil {
			return nil, err
		}
		if tok == ")" {
			r.dirs = r.dirs[:len(r.dirs)-1]
			continue
		}
		if tok != "entry" {
			return nil, r.errorf("expected \"entry\" or \")\", got %q", tok)
		}
		if err := r.expect("("); err != nil {
			return nil, err
		}
		if err := r.expect("name"); err != nil {
			return nil, err
		}
		name, err := r.readString(maxNameLen)
		if err != nil {
			return nil, err
		}
		if err := ValidateName(name); err != nil {
			return nil, r.errorf("%v", err)
		}
		if top.last != "" && name <= top.last {
			return nil, r.errorf("entry %q is not sorted after %q (duplicate or unsorted)", name, top.last)
		}
		top.last = name
		top.inEntry = true
		if err := r.expect("node"); err != nil {
			return nil, err
		}
		return r.readNode(childPath(top.path, name))
	}
}

func (r *Reader) readNode(p string) (*Header, error) {
	r.cur = p
	if err := r.expect("("); err != nil {
		return nil, err
	}
	if err := r.expect("type"); err != nil {
		return nil, err
	}
	typ, err := r.readString(maxTokenLen)
	if err != nil {
		return nil, err
	}
	h := &Header{Path: p, Type: Type(typ)}
	switch h.Type {
	case TypeRegular:
		tok, err := r.readString(maxTokenLen)
		if err != nil {
			return nil, err
		}
		if tok == "executable" {
			if err := r.expect(""); err != nil {
				return nil, err
			}
			h.Executable = true
			if tok, err = r.readString(maxTokenLen); err != nil {
				return nil, err
			}
		}
		if tok != "contents" {
			return nil, r.errorf("expected \"contents\", got %q", tok)
		}
		n, err := r.readU64()
		if err != nil {
			return nil, err
		}
		if n > 1<<62 {
			return nil, r.errorf("file size %d too large", n)
		}
		h.Size = int64(n)
		h.Offset = r.off
		r.size, r.remaining = h.Size, h.Size
		r.state = stateFile
	case TypeSymlink:
		if err := r.expect("target"); err != nil {
			return nil, err
		}
		if h.LinkTarget, err = r.readString(maxTargetLen); err != nil {
			return nil, err
		}
		if err := r.expect(")"); err != nil {
			return nil, err
		}
		r.state = stateAfterNode
	case TypeDirectory:
		r.dirs = append(r.dirs, readFrame{path: p})
		r.state = stateAfterNode
	default:
		return nil, r.errorf("unknown node type %q", typ)
	}
	return h, nil
}

// Read reads contents of the current regular file; it returns io.EOF at the
// end of the file's contents.
func (r *Reader) Read(p []byte) (int, error) {
	if r.state != stateFile || r.remaining == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.remaining {
		p = p[:r.remaining]
	}
	n, err := r.r.Read(p)
	r.off += int64(n)
	r.remaining -= int64(n)
	if err == io.EOF {
		if r.remaining > 0 {
			return n, r.errorf("%v", io.ErrUnexpectedEOF)
		}
		err = nil
	}
	if err != nil {
		return n, r.errorf("%v", err)
	}
	return n, nil
}

// Skip reads through the rest of the archive, validating it. It is useful
// to find where an embedded NAR ends.
func (r *Reader) Skip() error {
	for {
		_, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
