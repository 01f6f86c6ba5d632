package cache

import (
	"fmt"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/narinfo"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

// maxNarInfoSize bounds how much of a `.narinfo` is read from a cache.
const maxNarInfoSize = 1 << 20

// NarInfo is a parsed `.narinfo` (nix-formats.md §6.2); References and
// Deriver are basenames.
type NarInfo = narinfo.NarInfo

// ParseNarInfo parses narinfo text with Nix's rules (narinfo.Parse) and
// additionally requires a sha256 NarHash, which the fingerprint needs.
// whence names the source in errors.
func ParseNarInfo(data []byte, storeDir storepath.StoreDir, whence string) (*NarInfo, error) {
	if len(data) > maxNarInfoSize {
		return nil, fmt.Errorf("NAR info file '%s' is too large (%d bytes)", whence, len(data))
	}
	ni, err := narinfo.Parse(storeDir, whence, data)
	if err != nil {
		return nil, err
	}
	if ni.NarHash.Algo != hash.SHA256 {
		return nil, fmt.Errorf("NAR info file '%s': NarHash must be sha256, not %s", whence, ni.NarHash.Algo)
	}
	return ni, nil
}

// fullRefs returns ni's references as full store paths.
func fullRefs(sd storepath.StoreDir, ni *NarInfo) []string {
	out := make([]string, len(ni.References))
	for i, r := range ni.References {
		out[i] = string(sd) + "/" + r
	}
	return out
}

// fullDeriver returns ni's deriver as a full store path, or "".
func fullDeriver(sd storepath.StoreDir, ni *NarInfo) string {
	if ni.Deriver == "" {
		return ""
	}
	return string(sd) + "/" + ni.Deriver
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}
