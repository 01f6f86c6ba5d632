package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// userPool hands out host uids for builds when running as root: slot i of
// this process prefers uid base+i, and a lock file per uid keeps concurrent
// onix processes from sharing one (like Nix's userpool).
type userPool struct {
	dir  string
	base int
	size int
}

func newUserPool(stateDir string, base, jobs int) (*userPool, error) {
	if os.Geteuid() != 0 {
		return &userPool{}, nil
	}
	dir := filepath.Join(stateDir, "userpool2")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating build user pool: %w", err)
	}
	size := jobs * 4
	if size < 64 {
		size = 64
	}
	return &userPool{dir: dir, base: base, size: size}, nil
}

func (p *userPool) close() {}

// acquire locks a uid, trying slot first.
func (p *userPool) acquire(ctx context.Context, slot int) (int, func(), error) {
	for {
		for i := 0; i < p.size; i++ {
			uid := p.base + (slot+i)%p.size
			f, err := os.OpenFile(filepath.Join(p.dir, strconv.Itoa(uid)), os.O_RDWR|os.O_CREATE, 0o600)
			if err != nil {
				return 0, nil, fmt.Errorf("build user pool: %w", err)
			}
			if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
				f.Close()
				continue
			}
			return uid, func() { f.Close() }, nil
		}
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
