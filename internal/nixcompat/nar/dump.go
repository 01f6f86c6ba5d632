package nar

import (
	"context"
	"fmt"
	"io"
	"io/fs"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
)

// Filter decides whether a path (the full filesystem path, as Nix's
// PathFilter receives it) is included; mode is from lstat. The root is always
// included. A nil Filter includes everything. It is always called on the
// goroutine that called DumpPath or CopyPath, in NAR order, so it may use
// goroutine-confined state (e.g. an evaluator that unwinds by panicking).
type Filter func(path string, mode fs.FileMode) bool

// copyBufSize is large so that hashing a big file costs one read syscall per
// MiB and the hash function sees long contiguous blocks.
const copyBufSize = 1 << 20

// DumpPath writes the NAR serialisation of path to w, byte-identical to
// `nix-store --dump`: entries sorted by name bytes, only the owner execute
// bit recorded, symlinks stored verbatim (never followed).
func DumpPath(ctx context.Context, w io.Writer, path string, filter Filter) error {
	return dumpTree(ctx, w, path, "", CopyOptions{Filter: filter})
}

// CopyOptions tunes CopyPath.
type CopyOptions struct {
	// Filter selects entries, as for DumpPath.
	Filter Filter
	// Canonical gives every created node Nix's canonical store metadata as
	// it is written: mode 0444 (0555 for directories and owner-executable
	// files), mtime 1 s, owned by the effective uid/gid, and no extended
	// attributes except security.selinux and system.nfs4_acl. It is not made
	// durable; that is the caller's business (one syncfs for the tree).
	Canonical bool
}

// CopyPath recreates src at dst (which must not exist) exactly as Restore
// would unpack DumpPath(src)'s archive, and writes that archive to w at the
// same time: src is read once and no NAR is parsed. On error dst may be left
// partially written (read-only when Canonical); the caller removes it.
func CopyPath(ctx context.Context, w io.Writer, src, dst string, opts CopyOptions) error {
	if dst == "" {
		return fmt.Errorf("copy %s: empty destination", src)
	}
	return dumpTree(ctx, w, src, dst, opts)
}

// HashPath returns the sha256 NAR hash and NAR size of path (narHash and
// narSize in Nix's path info).
func HashPath(ctx context.Context, path string, filter Filter) (hash.Hash, int64, error) {
	return HashPathAlgo(ctx, hash.SHA256, path, filter)
}

// HashPathAlgo is HashPath with a chosen algorithm (nix-hash --type).
func HashPathAlgo(ctx context.Context, algo hash.Algo, path string, filter Filter) (hash.Hash, int64, error) {
	h, err := hash.NewHasher(algo)
	if err != nil {
		return hash.Hash{}, 0, err
	}
	if err := DumpPath(ctx, h, path, filter); err != nil {
		return hash.Hash{}, 0, err
	}
	return h.Sum(), h.Size(), nil
}
