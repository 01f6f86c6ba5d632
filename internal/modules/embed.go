// Package modules holds onix's NixOS module-system library, written in the
// Nix language and embedded in the binary. It is reachable from Nix code as
// <onix/lib>: `import <onix/lib>` evaluates lib/default.nix, which returns
// the lib attribute set (evalModules, mkOption, types, ...).
package modules

import (
	"embed"
	"io/fs"
)

//go:embed lib
var libFiles embed.FS

// FS returns the embedded tree as the search-path entry "onix" sees it:
// lib/default.nix is <onix/lib>.
func FS() fs.FS { return libFiles }

// LibFS returns the library's files, rooted at the lib directory (so
// "default.nix" is at the top level).
func LibFS() fs.FS {
	sub, err := fs.Sub(libFiles, "lib")
	if err != nil {
		// cannot happen: "lib" is embedded above
		panic(err)
	}
	return sub
}
