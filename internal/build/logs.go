package build

import (
	"bufio"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/onix-dev/onix/internal/store"
)

// LogDir is Nix's log directory for st: ROOT/nix/var/log/nix.
func LogDir(st *store.Store) string {
	return filepath.Join(filepath.Dir(st.StateDir()), "log", "nix")
}

// logFile returns the path of a derivation's build log without extension:
// <logdir>/drvs/<first 2 chars of the base name>/<rest>.
func logFile(st *store.Store, drvPath string) string {
	base := filepath.Base(drvPath)
	if len(base) < 3 {
		base = "__" + base
	}
	return filepath.Join(LogDir(st), "drvs", base[:2], base[2:])
}

// openLog creates the build log for drvPath. Nix compresses it with bzip2
// (REST.bz2); Go has no bzip2 writer, so onix writes it uncompressed, which
// Nix's `nix log` also reads (compress-build-log = false does the same).
func (b *builder) openLog(drvPath string) (io.Writer, func() error, error) {
	p := logFile(b.st, drvPath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, nil, fmt.Errorf("creating log directory: %w", err)
	}
	_ = os.Remove(p + ".bz2") // a stale log of an earlier build
	f, err := os.Create(p)
	if err != nil {
		return nil, nil, fmt.Errorf("creating build log: %w", err)
	}
	w := bufio.NewWriter(f)
	return w, func() error {
		ferr := w.Flush()
		if cerr := f.Close(); ferr == nil {
			ferr = cerr
		}
		if ferr != nil {
			return fmt.Errorf("writing build log '%s': %w", p, ferr)
		}
		return nil
	}, nil
}

// ErrNoLog is returned by ReadLog when no build log exists.
var ErrNoLog = errors.New("build log is not available")

// ReadLog returns the build log of path: a .drv, or an output whose
// deriver is known. Both plain and bzip2-compressed logs are read.
func ReadLog(ctxStore *store.Store, drvPath string) (io.ReadCloser, error) {
	p := logFile(ctxStore, drvPath)
	if f, err := os.Open(p); err == nil {
		return f, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	f, err := os.Open(p + ".bz2")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w for '%s'", ErrNoLog, drvPath)
		}
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{bzip2.NewReader(bufio.NewReader(f)), f}, nil
}
