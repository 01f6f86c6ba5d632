package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockKind is a flock(2) mode. Nix uses flock on whole files, so using the
// same primitive makes onix's locks and Nix's locks mutually exclusive.
type lockKind int

const (
	lockShared    lockKind = syscall.LOCK_SH
	lockExclusive lockKind = syscall.LOCK_EX
)

// tryLock attempts a non-blocking lock and reports whether it was acquired.
func tryLock(f *os.File, kind lockKind) (bool, error) {
	for {
		err := syscall.Flock(int(f.Fd()), int(kind)|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		case errors.Is(err, syscall.EINTR):
			continue
		default:
			return false, fmt.Errorf("locking %s: %w", f.Name(), err)
		}
	}
}

// lockCtx acquires a lock, polling so the wait can be cancelled through ctx
// (a blocking flock cannot be interrupted). onWait, if non-nil, is called once
// when the lock is not immediately available.
func lockCtx(ctx context.Context, f *os.File, kind lockKind, onWait func()) error {
	delay := time.Millisecond
	for first := true; ; first = false {
		ok, err := tryLock(f, kind)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if first && onWait != nil {
			onWait()
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for lock on %s: %w", f.Name(), ctx.Err())
		case <-t.C:
		}
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
}

func unlock(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}

// openLockFile opens (creating if needed) a lock file like Nix's openLockFile.
func openLockFile(path string, create bool) (*os.File, error) {
	flags := os.O_RDWR | syscall.O_CLOEXEC
	if create {
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	return f, nil
}

// pathLock is Nix's PathLocks for a single path: an exclusive flock on
// "PATH.lock". A lock file that the previous owner deleted (it writes "d" into
// it before unlinking) is stale; we then retry with a fresh file.
type pathLock struct {
	file *os.File
	name string
}

func lockPath(ctx context.Context, realPath string) (*pathLock, error) {
	return lockPathWait(ctx, realPath, nil)
}

// lockPathWait is lockPath calling onWait (if non-nil) when the lock is
// not immediately available.
func lockPathWait(ctx context.Context, realPath string, onWait func()) (*pathLock, error) {
	name := realPath + ".lock"
	for {
		f, err := openLockFile(name, true)
		if err != nil {
			return nil, err
		}
		if err := lockCtx(ctx, f, lockExclusive, onWait); err != nil {
			f.Close()
			return nil, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("stat lock file %s: %w", name, err)
		}
		if st.Size() != 0 {
			// Stale: the owner deleted it after we opened it.
			f.Close()
			continue
		}
		return &pathLock{file: f, name: name}, nil
	}
}

// release unlocks; with remove it deletes the lock file the way Nix does
// (unlink, then mark the open file stale for anyone already waiting on it).
func (l *pathLock) release(remove bool) {
	if l == nil || l.file == nil {
		return
	}
	if remove {
		_ = os.Remove(l.name)
		_, _ = l.file.Write([]byte("d"))
	}
	_ = l.file.Close()
	l.file = nil
}
