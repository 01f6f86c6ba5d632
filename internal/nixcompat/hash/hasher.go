package hash

import (
	"context"
	"fmt"
	stdhash "hash"
	"io"
)

// Hasher is a streaming hash that also counts bytes, like Nix's HashSink
// (which returns the hash and the size, e.g. narHash and narSize at once).
type Hasher struct {
	algo Algo
	h    stdhash.Hash
	n    int64
}

// NewHasher returns a Hasher for algo. It returns an error for invalid algos
// rather than panicking later.
func NewHasher(algo Algo) (*Hasher, error) {
	h := algo.New()
	if h == nil {
		return nil, fmt.Errorf("new hasher: invalid algorithm %v", algo)
	}
	return &Hasher{algo: algo, h: h}, nil
}

// Write hashes p. It never fails.
func (h *Hasher) Write(p []byte) (int, error) {
	h.h.Write(p)
	h.n += int64(len(p))
	return len(p), nil
}

// Sum returns the hash of everything written so far.
func (h *Hasher) Sum() Hash { return Hash{Algo: h.algo, Digest: h.h.Sum(nil)} }

// Size returns the number of bytes written.
func (h *Hasher) Size() int64 { return h.n }

// Reset clears the state for reuse.
func (h *Hasher) Reset() { h.h.Reset(); h.n = 0 }

// HashReader hashes everything from r with algo, honouring ctx between chunks.
func HashReader(ctx context.Context, algo Algo, r io.Reader) (Hash, int64, error) {
	h, err := NewHasher(algo)
	if err != nil {
		return Hash{}, 0, err
	}
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return Hash{}, h.n, err
		}
		n, err := r.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return Hash{}, h.n, fmt.Errorf("hash: read: %w", err)
		}
	}
	return h.Sum(), h.n, nil
}
