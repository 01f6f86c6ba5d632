package store

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"time"
)

func TestPathLocksExcludeAndDelete(t *testing.T) {
	ctx := testCtx(t)
	st := openTest(t, newRoot(t))
	a := "/nix/store/00000000000000000000000000000000-a"
	b := "/nix/store/11111111111111111111111111111111-b"
	l1, err := st.LockPaths(ctx, []string{b, a, b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !l1.Holds(a) || !l1.Holds(b) || l1.Holds("/nix/store/22222222222222222222222222222222-c") {
		t.Fatalf("Holds is wrong")
	}

	// A second locker (another open file description, as another process
	// would have) waits, and is told which paths it waits for.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	var waitedFor []string
	_, err = st.LockPaths(short, []string{b}, func(real []string) { waitedFor = real })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lock: %v, want a timeout while the first holds it", err)
	}
	if !slices.Equal(waitedFor, []string{st.RealPath(b)}) {
		t.Errorf("onWait got %v, want [%s]", waitedFor, st.RealPath(b))
	}

	// Release with deletion removes the lock files; then it is free.
	l1.Release(true)
	l1.Release(true) // idempotent
	for _, p := range []string{a, b} {
		if _, err := os.Stat(st.RealPath(p) + ".lock"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s.lock still there after Release(true): %v", p, err)
		}
	}
	l2, err := st.LockPaths(ctx, []string{a, b}, func([]string) { t.Error("waited for free locks") })
	if err != nil {
		t.Fatal(err)
	}
	l2.Release(false)
	if _, err := os.Stat(st.RealPath(a) + ".lock"); err != nil {
		t.Errorf("Release(false) removed the lock file: %v", err)
	}
	if _, err := st.LockPaths(ctx, []string{"/etc/passwd"}, nil); err == nil {
		t.Error("locking a non-store path succeeded")
	}
}
