package cache

import (
	"fmt"
	"strconv"
	"strings"
)

// CacheInfoFile is the name of a binary cache's metadata file.
const CacheInfoFile = "nix-cache-info"

// CacheInfo is the content of `nix-cache-info`.
type CacheInfo struct {
	StoreDir      string
	WantMassQuery bool
	// Priority is 0 when the file does not set one (callers then use the
	// default, 50).
	Priority    int
	HasPriority bool
}

// ParseCacheInfo parses `nix-cache-info` like Nix's BinaryCacheStore::init:
// one `Key: value` per line, lines without a colon and unknown keys are
// ignored.
func ParseCacheInfo(data []byte) (CacheInfo, error) {
	var ci CacheInfo
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch name {
		case "StoreDir":
			ci.StoreDir = value
		case "WantMassQuery":
			ci.WantMassQuery = value == "1"
		case "Priority":
			n, err := strconv.Atoi(value)
			if err != nil {
				return CacheInfo{}, fmt.Errorf("nix-cache-info: invalid Priority %q", value)
			}
			ci.Priority, ci.HasPriority = n, true
		}
	}
	return ci, nil
}

// Bytes renders the file the way Nix does: `StoreDir:` always, the other
// fields only when set.
func (ci CacheInfo) Bytes() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "StoreDir: %s\n", ci.StoreDir)
	if ci.WantMassQuery {
		b.WriteString("WantMassQuery: 1\n")
	}
	if ci.HasPriority {
		fmt.Fprintf(&b, "Priority: %d\n", ci.Priority)
	}
	return []byte(b.String())
}
