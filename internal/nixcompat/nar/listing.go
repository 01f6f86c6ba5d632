package nar

import (
	"io"
	"strconv"
	"strings"

	"github.com/onix-dev/onix/internal/nixcompat/nixjson"
)

// Listing reads a NAR and returns its .ls listing as Nix writes it for
// binary caches with write-nar-listing=true:
// {"version":1,"root":<node>}, where regular files carry size, executable
// (only when set) and narOffset (offset of the first content byte).
func Listing(r io.Reader) ([]byte, error) {
	nr := NewReader(r)
	var b strings.Builder
	b.WriteString(`{"version":1,"root":`)
	// open tracks, per open directory, its NAR path and whether it has
	// entries written yet, so we know where to close braces.
	type frame struct {
		path  string
		count int
	}
	var open []frame
	closeUntil := func(parent string) {
		for len(open) > 0 && open[len(open)-1].path != parent {
			open = open[:len(open)-1]
			b.WriteString("}}")
		}
	}
	for {
		h, err := nr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if h.Path != "/" {
			parent, name := splitNARPath(h.Path)
			closeUntil(parent)
			top := &open[len(open)-1]
			if top.count > 0 {
				b.WriteByte(',')
			}
			top.count++
			nixjson.AppendQuoted(&b, name, nixjson.NixWriter)
			b.WriteByte(':')
		}
		switch h.Type {
		case TypeRegular:
			b.WriteString(`{"type":"regular","size":` + strconv.FormatInt(h.Size, 10))
			if h.Executable {
				b.WriteString(`,"executable":true`)
			}
			b.WriteString(`,"narOffset":` + strconv.FormatInt(h.Offset, 10) + "}")
		case TypeSymlink:
			b.WriteString(`{"type":"symlink","target":`)
			nixjson.AppendQuoted(&b, h.LinkTarget, nixjson.NixWriter)
			b.WriteByte('}')
		case TypeDirectory:
			b.WriteString(`{"type":"directory","entries":{`)
			open = append(open, frame{path: h.Path})
		}
	}
	closeUntil("")
	b.WriteByte('}')
	return []byte(b.String()), nil
}

func splitNARPath(p string) (parent, name string) {
	i := strings.LastIndexByte(p, '/')
	parent, name = p[:i], p[i+1:]
	if parent == "" {
		parent = "/"
	}
	return parent, name
}
