// Package store implements a local Nix store with the on-disk layout, SQLite
// database (schema 10), locking protocol and garbage-collector roots of Nix
// 2.8, so that onix and real Nix can share one store.
//
// Layout under the physical root ROOT (Options.Root, "/" by default):
//
//	ROOT/nix/store                      store objects (logical dir Options.StoreDir)
//	ROOT/nix/var/nix/db/{db.sqlite,schema,big-lock,reserved}
//	ROOT/nix/var/nix/{gcroots,profiles,temproots,gc.lock,gc-socket}
//
// Store paths handed to and returned by this package are always logical
// (/nix/store/...); RealPath maps them to the physical location.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

// EnvStore is the environment variable that selects the physical store root.
const EnvStore = "ONIX_STORE"

// schemaVersion is the database schema Nix 2.8 writes (db/schema).
const schemaVersion = 10

// defaultReservedSize mirrors Nix's reserved-space default (8 MiB).
const defaultReservedSize = 8 << 20

// Options configure Open.
type Options struct {
	// Root is the physical root directory; "" means "/".
	Root string
	// StoreDir is the logical store directory; "" means "/nix/store".
	StoreDir string
	// BusyTimeout bounds how long a database operation waits for another
	// process's lock before failing; 0 means 10 minutes.
	BusyTimeout time.Duration
	// ReservedSpace is the size of db/reserved (Nix's reserved-space);
	// 0 means 8 MiB, negative means do not create the file.
	ReservedSpace int64
	// Logf receives informational messages (stale locks, waits); may be nil.
	Logf func(format string, args ...any)
}

// DefaultOptions returns Options with Root taken from $ONIX_STORE.
func DefaultOptions() Options {
	return Options{Root: os.Getenv(EnvStore)}
}

// Store is an open local store. It is safe for concurrent use by multiple
// goroutines; multiple processes coordinate through file locks and SQLite.
type Store struct {
	opts         Options
	root         string             // physical root, "" for /
	storeDir     storepath.StoreDir // logical
	realStoreDir string
	stateDir     string // physical ROOT/nix/var/nix
	dbDir        string
	db           *sql.DB
	bigLock      *os.File
	temp         *tempRoots
	narBufs      sync.Pool // *[]byte of narBufSize, for restoring NARs
}

// Open opens (creating if needed) the local store described by opts.
func Open(ctx context.Context, opts Options) (*Store, error) {
	root := opts.Root
	if root == "/" {
		root = ""
	}
	if root != "" {
		abs, err := filepath.Abs(root)
		if err != nil {
			return nil, fmt.Errorf("store root %q: %w", opts.Root, err)
		}
		root = filepath.Clean(abs)
		if root == "/" {
			root = ""
		}
	}
	sd := opts.StoreDir
	if sd == "" {
		sd = string(storepath.DefaultStoreDir)
	}
	if !filepath.IsAbs(sd) || filepath.Clean(sd) != sd || sd == "/" {
		return nil, fmt.Errorf("store directory %q must be a clean absolute path", sd)
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 10 * time.Minute
	}
	if opts.ReservedSpace == 0 {
		opts.ReservedSpace = defaultReservedSize
	}
	s := &Store{
		opts:         opts,
		root:         root,
		storeDir:     storepath.StoreDir(sd),
		realStoreDir: root + sd,
		stateDir:     root + "/nix/var/nix",
	}
	s.dbDir = s.stateDir + "/db"
	s.temp = newTempRoots(s)
	if err := s.open(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

func (s *Store) open(ctx context.Context) error {
	for _, d := range []string{
		s.realStoreDir,
		s.dbDir,
		s.stateDir + "/gcroots/per-user",
		s.stateDir + "/profiles/per-user",
		s.stateDir + "/temproots",
	} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("creating store directory: %w", err)
		}
	}
	// Like Nix: gcroots/profiles -> profiles, so profiles are roots.
	link := s.stateDir + "/gcroots/profiles"
	if _, err := os.Lstat(link); errors.Is(err, fs.ErrNotExist) {
		if err := os.Symlink(s.stateDir+"/profiles", link); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("creating %s: %w", link, err)
		}
	}

	// The big lock: every process holds it shared; schema changes need it
	// exclusively.
	bl, err := openLockFile(s.dbDir+"/big-lock", true)
	if err != nil {
		return err
	}
	s.bigLock = bl
	if err := lockCtx(ctx, bl, lockShared, func() { s.logf("waiting for the big store lock %s...", bl.Name()) }); err != nil {
		return err
	}

	if s.opts.ReservedSpace > 0 {
		if err := ensureReserved(s.dbDir+"/reserved", s.opts.ReservedSpace); err != nil {
			s.logf("warning: %v", err)
		}
	}

	schemaFile := s.dbDir + "/schema"
	cur, err := readSchema(schemaFile)
	if err != nil {
		return err
	}
	if cur > schemaVersion {
		return fmt.Errorf("store database %s has schema version %d, but onix only supports %d", s.dbDir, cur, schemaVersion)
	}
	if cur != 0 && cur < schemaVersion {
		return fmt.Errorf("store database %s has old schema version %d; upgrade it with Nix first (onix supports %d)", s.dbDir, cur, schemaVersion)
	}
	exclusive := cur == 0
	if exclusive {
		// A new store is created under the exclusive big lock: processes
		// opening it for the first time at once would otherwise race to
		// create the schema and to switch the database to WAL (which
		// SQLite refuses, busy, while another connection uses it). The
		// shared lock is dropped first, so that processes upgrading at
		// once cannot wait for each other.
		if err := syscall.Flock(int(bl.Fd()), syscall.LOCK_UN); err != nil {
			return fmt.Errorf("unlocking %s: %w", bl.Name(), err)
		}
		if err := lockCtx(ctx, bl, lockExclusive, func() { s.logf("waiting for the big store lock %s...", bl.Name()) }); err != nil {
			return err
		}
		if cur, err = readSchema(schemaFile); err != nil {
			return err
		}
	}
	db, err := openDB(ctx, s.dbDir+"/db.sqlite", cur == 0, s.opts.BusyTimeout)
	if err != nil {
		return err
	}
	s.db = db
	if cur == 0 {
		if err := writeFileAtomic(schemaFile, []byte(fmt.Sprint(schemaVersion)), 0o644); err != nil {
			return fmt.Errorf("writing schema version: %w", err)
		}
	}
	if exclusive { // back to shared, as every process holds it
		if err := lockCtx(ctx, bl, lockShared, nil); err != nil {
			return err
		}
	}
	if err := s.cleanTempEntries(ctx); err != nil {
		s.logf("warning: cleaning leftover temporary store entries: %v", err)
	}
	return nil
}

// Close releases the database, temp roots and locks.
func (s *Store) Close() error {
	var errs []error
	if s.db != nil {
		errs = append(errs, s.db.Close())
		s.db = nil
	}
	if s.temp != nil {
		errs = append(errs, s.temp.close())
	}
	if s.bigLock != nil {
		errs = append(errs, s.bigLock.Close())
		s.bigLock = nil
	}
	return errors.Join(errs...)
}

// StoreDir returns the logical store directory.
func (s *Store) StoreDir() storepath.StoreDir { return s.storeDir }

// Root returns the physical root ("" means /).
func (s *Store) Root() string { return s.root }

// RealStoreDir returns the physical store directory.
func (s *Store) RealStoreDir() string { return s.realStoreDir }

// StateDir returns the physical state directory (ROOT/nix/var/nix).
func (s *Store) StateDir() string { return s.stateDir }

// RealPath maps a logical path inside the store to its physical location.
func (s *Store) RealPath(p string) string {
	if strings.HasPrefix(p, string(s.storeDir)+"/") || p == string(s.storeDir) {
		return s.realStoreDir + p[len(s.storeDir):]
	}
	return p
}

// ParsePath validates a logical store path and returns it cleaned.
func (s *Store) ParsePath(p string) (string, error) {
	sp, err := s.storeDir.Parse(p)
	if err != nil {
		return "", err
	}
	return s.storeDir.Path(sp), nil
}

// ToStorePath maps a path that may point inside a store object (logical or
// physical, e.g. /nix/store/h-x/bin/y or ROOT/nix/store/h-x) to the store path.
func (s *Store) ToStorePath(p string) (string, error) {
	if s.root != "" && strings.HasPrefix(p, s.realStoreDir+"/") {
		p = string(s.storeDir) + p[len(s.realStoreDir):]
	}
	sp, _, err := s.storeDir.SplitPath(p)
	if err != nil {
		return "", err
	}
	return s.storeDir.Path(sp), nil
}

func readSchema(path string) (int, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading store schema version: %w", err)
	}
	var v int
	if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &v); err != nil || v <= 0 {
		return 0, fmt.Errorf("store schema file %s is corrupt (contents %q)", path, b)
	}
	return v, nil
}

func ensureReserved(path string, size int64) error {
	st, err := os.Stat(path)
	if err == nil && st.Size() == size {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("creating reserved space file: %w", err)
	}
	defer f.Close()
	// Really allocate the blocks (like Nix's posix_fallocate) so that deleting
	// the file frees space when the disk is full.
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		if err := f.Truncate(size); err != nil {
			return fmt.Errorf("sizing reserved space file %s: %w", path, err)
		}
	}
	return nil
}

// writeFileAtomic writes data to a temp file next to path, fsyncs and renames.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := fmt.Sprintf("%s.tmp-%d", path, os.Getpid())
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("syncing %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
