package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/nar"
)

// Mismatch is a valid path whose contents no longer match its narHash.
type Mismatch struct {
	Path             string
	Expected, Actual hash.Hash
	ExpectedSize     uint64
	ActualSize       uint64
}

func (m Mismatch) String() string {
	return fmt.Sprintf("path %s was modified! expected hash %s, got %s", m.Path,
		m.Expected.Encode(hash.Base32, true), m.Actual.Encode(hash.Base32, true))
}

// VerifyResult is the outcome of Verify; OK reports a clean store.
type VerifyResult struct {
	Checked  int
	Missing  []string   // valid in the database, absent on disk
	Modified []Mismatch // with checkContents: NAR hash or size differs
	Errors   []string   // other problems (unreadable paths, dangling references)
}

// OK reports whether nothing was wrong.
func (r *VerifyResult) OK() bool {
	return len(r.Missing) == 0 && len(r.Modified) == 0 && len(r.Errors) == 0
}

// Verify checks every valid path exists and its references are valid; with
// checkContents it also recomputes NAR hashes (`nix-store --verify
// --check-contents`). It reports problems without repairing anything.
func (s *Store) Verify(ctx context.Context, checkContents bool) (*VerifyResult, error) {
	paths, err := s.QueryAllValidPaths(ctx)
	if err != nil {
		return nil, err
	}
	res := &VerifyResult{}
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		res.Checked++
		real := s.RealPath(p)
		if _, err := os.Lstat(real); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				res.Missing = append(res.Missing, p)
			} else {
				res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", p, err))
			}
			continue
		}
		info, err := s.QueryPathInfo(ctx, p)
		if err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", p, err))
			continue
		}
		for _, r := range info.References {
			if _, err := os.Lstat(s.RealPath(r)); err != nil {
				res.Errors = append(res.Errors, fmt.Sprintf("%s: reference %s is missing on disk", p, r))
			}
		}
		if !checkContents {
			continue
		}
		h, n, err := nar.HashPath(ctx, real, nil)
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", p, err))
			continue
		}
		if !h.Equal(info.NarHash) || (info.NarSize != 0 && uint64(n) != info.NarSize) {
			res.Modified = append(res.Modified, Mismatch{Path: p, Expected: info.NarHash, Actual: h,
				ExpectedSize: info.NarSize, ActualSize: uint64(n)})
		}
	}
	return res, nil
}
