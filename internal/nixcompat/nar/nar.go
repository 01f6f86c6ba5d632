// Package nar reads and writes the Nix ARchive format byte-identically to Nix
// 2.8: DumpPath (nix-store --dump), a streaming Reader, a streaming Writer and
// a Restore that is safe against hostile archives.
//
// A NAR is a sequence of length-prefixed, zero-padded strings (see
// docs/nix-formats.md §5). It records only the file type, the owner execute
// bit, file contents and symlink targets, which is what makes it a canonical
// serialisation for hashing.
package nar

import (
	"fmt"
	"strings"
)

// Magic is the first string of every NAR.
const Magic = "nix-archive-1"

// Type is the kind of a NAR node.
type Type string

// The three node types a NAR can hold.
const (
	TypeRegular   Type = "regular"
	TypeDirectory Type = "directory"
	TypeSymlink   Type = "symlink"
)

// Header describes one node. Path is "/" for the root and "/a/b" below it.
type Header struct {
	Path       string
	Type       Type
	Executable bool   // regular files only
	Size       int64  // regular files only: content length
	LinkTarget string // symlinks only
	// Offset is the NAR byte offset of the first content byte of a regular
	// file (set by Reader; used for .ls listings' narOffset).
	Offset int64
}

// Limits on strings read from untrusted NARs; beyond these no real file
// system could hold the result, so they only guard memory.
const (
	maxNameLen   = 1024
	maxTargetLen = 1 << 16
	maxTokenLen  = 64
)

// ValidateName checks a directory entry name the way Nix's parser does: it
// must be non-empty, not "." or "..", and contain neither '/' nor NUL.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty entry name")
	case name == "." || name == "..":
		return fmt.Errorf("invalid entry name %q", name)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("entry name %q contains '/' or NUL", name)
	case len(name) > maxNameLen:
		return fmt.Errorf("entry name too long (%d bytes)", len(name))
	}
	return nil
}

// childPath joins a parent NAR path and an entry name.
func childPath(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}

func padLen(n uint64) int { return int((8 - n%8) % 8) }
