package cache

import (
	"testing"

	"github.com/onix-dev/onix/internal/store"
)

// Test helpers for the external cache_test package (CLI-level tests).

func NewStoreT(t *testing.T) *store.Store { return newStore(t) }

func MakeClosureT(t *testing.T, st *store.Store, n, size int, seed uint64) []string {
	return makeClosure(t, st, n, size, seed)
}

func CheckStoreCleanT(t *testing.T, st *store.Store, want []string) { checkStoreClean(t, st, want) }
