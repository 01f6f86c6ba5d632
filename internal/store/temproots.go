package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Temporary roots follow Nix 2.8's protocol exactly, so a Nix GC respects
// onix's temp roots and vice versa:
//
//   - each process has ROOT/nix/var/nix/temproots/<pid> (onix may use
//     <pid>-<n> for a second Store in one process; Nix reads the leading pid),
//     holds a shared flock on it and appends "PATH\0" per root;
//   - a GC holds gc.lock exclusively and serves ROOT/nix/var/nix/gc-socket/socket;
//   - to add a root a process takes gc.lock shared without blocking; if that
//     fails a GC is running, so it first sends "PATH\n" to the socket and waits
//     for the reply "1".
type tempRoots struct {
	s      *Store
	mu     sync.Mutex
	file   *os.File
	gcLock *os.File
	conn   net.Conn
	have   map[string]bool
}

func newTempRoots(s *Store) *tempRoots {
	return &tempRoots{s: s, have: map[string]bool{}}
}

func (t *tempRoots) close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	if t.conn != nil {
		errs = append(errs, t.conn.Close())
		t.conn = nil
	}
	if t.file != nil {
		// Remove our file (we are its owner), then close.
		_ = os.Remove(t.file.Name())
		errs = append(errs, t.file.Close())
		t.file = nil
	}
	if t.gcLock != nil {
		errs = append(errs, t.gcLock.Close())
		t.gcLock = nil
	}
	return errors.Join(errs...)
}

func (s *Store) tempRootsDir() string { return s.stateDir + "/temproots" }
func (s *Store) gcLockPath() string   { return s.stateDir + "/gc.lock" }
func (s *Store) gcSocketPath() string { return s.stateDir + "/gc-socket/socket" }

// createFile is Nix's createTempRootsFile, made safe for several Stores in
// one process: a name whose file is locked by someone else is skipped.
func (t *tempRoots) createFile() error {
	if t.file != nil {
		return nil
	}
	dir := t.s.tempRootsDir()
	pid := os.Getpid()
	for n := 0; n < 1000; n++ {
		name := filepath.Join(dir, strconv.Itoa(pid))
		if n > 0 {
			name += "-" + strconv.Itoa(n)
		}
		if f, err := os.OpenFile(name, os.O_RDWR|syscall.O_CLOEXEC, 0); err == nil {
			ok, lerr := tryLock(f, lockExclusive)
			f.Close()
			if lerr != nil {
				return lerr
			}
			if !ok {
				continue // in use by another Store of this process (or pid namespace)
			}
			// Stale file of a dead process with our pid.
			_ = os.Remove(name)
		}
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_CLOEXEC, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("creating temporary roots file: %w", err)
		}
		ok, err := tryLock(f, lockShared)
		if err != nil || !ok {
			f.Close()
			if err != nil {
				return err
			}
			continue
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return fmt.Errorf("stat %s: %w", name, err)
		}
		if st.Size() != 0 { // a GC marked it stale before we locked it
			f.Close()
			continue
		}
		t.file = f
		return nil
	}
	return fmt.Errorf("cannot create a temporary roots file in %s", dir)
}

// AddTempRoot keeps path from the garbage collector while this process
// has the store open (Nix's addTempRoot).
func (s *Store) AddTempRoot(ctx context.Context, path string) error {
	return s.addTempRoot(ctx, path)
}

// addTempRoot protects path (logical) from garbage collection for the
// lifetime of this Store.
func (s *Store) addTempRoot(ctx context.Context, path string) error {
	t := s.temp
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.have[path] {
		return nil
	}
	if err := t.createFile(); err != nil {
		return err
	}
	if t.gcLock == nil {
		f, err := openLockFile(s.gcLockPath(), true)
		if err != nil {
			return err
		}
		t.gcLock = f
	}
	delay := 5 * time.Millisecond
	for {
		ok, err := tryLock(t.gcLock, lockShared)
		if err != nil {
			return err
		}
		if ok {
			break // no GC running; it cannot start until we release
		}
		// A GC is running: tell it about the root before it can delete it.
		err = t.notifyGC(path)
		if err == nil {
			break
		}
		if !errors.Is(err, errGCGone) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("adding temporary root %s: %w", path, ctx.Err())
		case <-time.After(delay):
		}
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
	_, werr := t.file.Write([]byte(path + "\x00"))
	if err := unlock(t.gcLock); err != nil && werr == nil {
		werr = err
	}
	if werr != nil {
		return fmt.Errorf("writing temporary root to %s: %w", t.file.Name(), werr)
	}
	t.have[path] = true
	return nil
}

var errGCGone = errors.New("garbage collector went away")

func (t *tempRoots) notifyGC(path string) error {
	if t.conn == nil {
		c, err := dialUnix(t.s.gcSocketPath())
		if err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, fs.ErrNotExist) {
				return errGCGone
			}
			return fmt.Errorf("connecting to garbage collector at %s: %w", t.s.gcSocketPath(), err)
		}
		t.conn = c
	}
	_ = t.conn.SetDeadline(time.Now().Add(10 * time.Minute))
	if _, err := io.WriteString(t.conn, path+"\n"); err != nil {
		t.conn.Close()
		t.conn = nil
		return errGCGone
	}
	var b [1]byte
	if _, err := io.ReadFull(t.conn, b[:]); err != nil || b[0] != '1' {
		t.conn.Close()
		t.conn = nil
		return errGCGone
	}
	return nil
}

// readTempRoots is Nix's findTempRoots: it returns root -> owner ids for every
// live temp roots file and deletes files of dead processes (whose shared lock
// is gone, so an exclusive lock succeeds). Our own file is read too.
func (s *Store) readTempRoots() (map[string][]string, error) {
	roots := map[string][]string{}
	dir := s.tempRootsDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading temporary roots: %w", err)
	}
	own := ""
	s.temp.mu.Lock()
	if s.temp.file != nil {
		own = s.temp.file.Name()
	}
	s.temp.mu.Unlock()
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		f, err := os.OpenFile(p, os.O_RDWR|syscall.O_CLOEXEC, 0)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("opening temporary roots file: %w", err)
		}
		if p != own {
			ok, err := tryLock(f, lockExclusive)
			if err != nil {
				f.Close()
				return nil, err
			}
			if ok {
				s.logf("removing stale temporary roots file %s", p)
				_ = os.Remove(p)
				_, _ = f.Write([]byte("d"))
				f.Close()
				continue
			}
		}
		data, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading temporary roots file %s: %w", p, err)
		}
		for _, r := range parseTempRoots(data) {
			roots[r] = append(roots[r], "{temp:"+e.Name()+"}")
		}
	}
	return roots, nil
}

// parseTempRoots splits a temp roots file: NUL-terminated paths; an
// unterminated tail (a write in progress) is ignored, like Nix does.
func parseTempRoots(data []byte) []string {
	var out []string
	for {
		i := indexByte(data, 0)
		if i < 0 {
			return out
		}
		if i > 0 {
			out = append(out, string(data[:i]))
		}
		data = data[i+1:]
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// dialUnix connects to a unix socket; long paths (over sun_path's 108
// bytes) go through /proc/self/fd of the directory, like Nix's workaround.
func dialUnix(path string) (net.Conn, error) {
	if len(path) < 100 {
		return net.Dial("unix", path)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return net.Dial("unix", fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), filepath.Base(path)))
}

func listenUnix(path string) (*net.UnixListener, error) {
	_ = os.Remove(path)
	addr := path
	var d *os.File
	if len(path) >= 100 {
		var err error
		d, err = os.Open(filepath.Dir(path))
		if err != nil {
			return nil, err
		}
		defer d.Close()
		addr = fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), filepath.Base(path))
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listening on GC socket %s: %w", path, err)
	}
	l.SetUnlinkOnClose(false)
	_ = os.Chmod(path, 0o666)
	return l, nil
}

// readLines is used by the GC socket server.
func readLines(r io.Reader, fn func(string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	for sc.Scan() {
		if err := fn(sc.Text()); err != nil {
			return err
		}
	}
	return sc.Err()
}
