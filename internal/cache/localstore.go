package cache

import (
	"context"
	"fmt"
	"io"
	"runtime"

	"github.com/onix-dev/onix/internal/nixcompat/nar"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
	"github.com/onix-dev/onix/internal/store"
)

// LocalStore is what this package needs from the local store; *store.Store
// implements it.
type LocalStore interface {
	StoreDir() storepath.StoreDir
	RealPath(p string) string
	IsValid(ctx context.Context, path string) (bool, error)
	QueryPathInfo(ctx context.Context, path string) (*store.PathInfo, error)
	QueryRequisites(ctx context.Context, paths []string, includeOutputs bool) ([]string, error)
	QueryPathFromHashPart(ctx context.Context, hashPart string) (string, error)
	// AddNAR restores and registers a path, verifying narHash/narSize; the
	// references must already be valid.
	AddNAR(ctx context.Context, info *store.PathInfo, r io.Reader) error
}

var _ LocalStore = (*store.Store)(nil)

// defaultJobs bounds parallel NAR transfers when the caller does not.
func defaultJobs() int {
	n := runtime.GOMAXPROCS(0) * 2
	if n < 4 {
		n = 4
	}
	if n > 16 {
		n = 16
	}
	return n
}

// narInfoFromPathInfo makes the narinfo skeleton of a valid local path.
func narInfoFromPathInfo(pi *store.PathInfo) *NarInfo {
	refs := make([]string, len(pi.References))
	for i, r := range pi.References {
		refs[i] = baseName(r)
	}
	deriver := ""
	if pi.Deriver != "" {
		deriver = baseName(pi.Deriver)
	}
	return &NarInfo{
		StorePath:  pi.Path,
		NarHash:    pi.NarHash,
		NarSize:    pi.NarSize,
		References: refs,
		Deriver:    deriver,
		Sigs:       append([]string(nil), pi.Sigs...),
		CA:         pi.CA,
	}
}

// pathInfoFromNarInfo is what a substituted path is registered with.
func pathInfoFromNarInfo(sd storepath.StoreDir, ni *NarInfo) *store.PathInfo {
	return &store.PathInfo{
		Path:       ni.StorePath,
		NarHash:    ni.NarHash,
		NarSize:    ni.NarSize,
		References: fullRefs(sd, ni),
		Deriver:    fullDeriver(sd, ni),
		Sigs:       append([]string(nil), ni.Sigs...),
		CA:         ni.CA,
	}
}

// CopyToOptions configure CopyTo.
type CopyToOptions struct {
	// SignKey, if set, signs every uploaded narinfo (in addition to a
	// secret-key URL parameter).
	SignKey *SecretKey
	// Jobs bounds parallel uploads; 0 means a default.
	Jobs int
	// Progress, if set, is called after each path is uploaded.
	Progress func(path string)
}

// CopyTo copies the closures of paths from the local store to the cache.
// Paths the cache already has are skipped; narinfos are written only after
// the narinfos of their references, so a reader never sees a narinfo whose
// references are missing. It returns the paths actually copied.
func CopyTo(ctx context.Context, st LocalStore, c *BinaryCache, paths []string, opts CopyToOptions) ([]string, error) {
	if c.StoreDir() != st.StoreDir() {
		return nil, fmt.Errorf("binary cache %s is for store %s, the local store is %s", c.URL(), c.StoreDir(), st.StoreDir())
	}
	for _, p := range paths {
		ok, err := st.IsValid(ctx, p)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("path %s is not valid in the local store", p)
		}
	}
	closure, err := st.QueryRequisites(ctx, paths, false)
	if err != nil {
		return nil, fmt.Errorf("computing closure: %w", err)
	}
	if err := c.Init(ctx); err != nil {
		return nil, err
	}
	if opts.SignKey != nil {
		c.SetSigningKey(opts.SignKey)
	}
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = defaultJobs()
	}
	infos := make(map[string]*store.PathInfo, len(closure))
	var missing []string
	for _, p := range closure {
		pi, err := st.QueryPathInfo(ctx, p)
		if err != nil {
			return nil, err
		}
		infos[p] = pi
	}
	// Existence checks are cheap but may be remote: run them in parallel.
	present := make([]bool, len(closure))
	err = parallelFor(ctx, len(closure), jobs, func(ctx context.Context, i int) error {
		ok, err := c.HasPath(ctx, closure[i])
		present[i] = ok
		return err
	})
	if err != nil {
		return nil, err
	}
	for i, p := range closure {
		if !present[i] {
			missing = append(missing, p)
		}
	}
	var copied []string
	results := make(chan string, len(missing))
	err = runDAG(ctx, missing, func(p string) []string { return infos[p].References }, jobs,
		func(ctx context.Context, p string) error {
			ni := narInfoFromPathInfo(infos[p])
			real := st.RealPath(p)
			if err := c.UploadNAR(ctx, ni, func(w io.Writer) error {
				return nar.DumpPath(ctx, w, real, nil)
			}); err != nil {
				return err
			}
			if opts.Progress != nil {
				opts.Progress(p)
			}
			results <- p
			return nil
		})
	close(results)
	for p := range results {
		copied = append(copied, p)
	}
	return copied, err
}

// parallelFor runs fn(0..n-1) with at most jobs at once and returns the
// first error.
func parallelFor(ctx context.Context, n, jobs int, fn func(context.Context, int) error) error {
	nodes := make([]string, n)
	idx := make(map[string]int, n)
	for i := range nodes {
		nodes[i] = fmt.Sprint(i)
		idx[nodes[i]] = i
	}
	return runDAG(ctx, nodes, func(string) []string { return nil }, jobs, func(ctx context.Context, s string) error {
		return fn(ctx, idx[s])
	})
}
