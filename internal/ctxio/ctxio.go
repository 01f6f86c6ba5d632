// Package ctxio makes long copies cancellable: a reader that checks its
// context before every read.
package ctxio

import (
	"context"
	"io"
)

// Reader returns r, reading from which fails with ctx's error once ctx is
// done (a copy in progress stops at the next read).
func Reader(ctx context.Context, r io.Reader) io.Reader { return reader{ctx, r} }

type reader struct {
	ctx context.Context
	r   io.Reader
}

func (c reader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
