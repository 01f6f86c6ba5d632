package cache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

// Substituter provides store paths from binary caches.
type Substituter interface {
	// QueryPathInfo returns the verified narinfo of path, or an error
	// wrapping ErrNotFound if no cache has it.
	QueryPathInfo(ctx context.Context, path string) (*NarInfo, error)
	// Fetch makes path valid in st, substituting whatever part of its
	// closure st lacks. Nothing is registered unless its signature (when
	// required) and its NAR hash and size verify.
	Fetch(ctx context.Context, path string, st LocalStore) error
}

// SubstituterOptions configure NewSubstituter.
type SubstituterOptions struct {
	StoreDir storepath.StoreDir // "" means /nix/store
	// TrustedPublicKeys are `NAME:BASE64` keys.
	TrustedPublicKeys []string
	// RequireSigs refuses narinfos without a valid signature by a trusted key.
	RequireSigs bool
	// Jobs bounds parallel NAR downloads; 0 means a default.
	Jobs int
	// HTTPConnections bounds connections per host (http-connections).
	HTTPConnections int
	// Logf receives warnings (unreachable caches); may be nil.
	Logf func(format string, args ...any)
}

// SubstituterOptionsFromConfig reads substitution settings from cfg.
func SubstituterOptionsFromConfig(cfg *Config) (SubstituterOptions, error) {
	rs, err := cfg.RequireSigs()
	if err != nil {
		return SubstituterOptions{}, err
	}
	conns, err := cfg.Int("http-connections", DefaultHTTPConnections)
	if err != nil {
		return SubstituterOptions{}, err
	}
	return SubstituterOptions{
		TrustedPublicKeys: cfg.TrustedPublicKeys(),
		RequireSigs:       rs,
		HTTPConnections:   conns,
	}, nil
}

// NewSubstituterFromConfig builds a Multi from the `substituters`,
// `trusted-public-keys`, `require-sigs` and `http-connections` settings.
func NewSubstituterFromConfig(cfg *Config, storeDir storepath.StoreDir, logf func(string, ...any)) (*Multi, error) {
	opts, err := SubstituterOptionsFromConfig(cfg)
	if err != nil {
		return nil, err
	}
	opts.StoreDir, opts.Logf = storeDir, logf
	return NewSubstituter(cfg.Substituters(), opts)
}

// Multi substitutes from several caches in priority order. It is safe for
// concurrent use. Caches are opened lazily on first use; a cache that
// cannot be opened is skipped with a warning.
type Multi struct {
	urls []string
	opts SubstituterOptions
	keys PublicKeys

	openOnce sync.Once
	caches   []*BinaryCache // sorted by priority once opened
	openErrs []error

	mu    sync.Mutex
	found map[string]*source // path -> where its verified narinfo came from
}

type source struct {
	cache *BinaryCache
	info  *NarInfo
}

var _ Substituter = (*Multi)(nil)

// NewSubstituter returns a Multi over urls.
func NewSubstituter(urls []string, opts SubstituterOptions) (*Multi, error) {
	keys, err := ParsePublicKeys(opts.TrustedPublicKeys)
	if err != nil {
		return nil, err
	}
	if opts.StoreDir == "" {
		opts.StoreDir = storepath.DefaultStoreDir
	}
	if opts.Jobs <= 0 {
		opts.Jobs = defaultJobs()
	}
	if opts.HTTPConnections <= 0 {
		opts.HTTPConnections = DefaultHTTPConnections
	}
	return &Multi{urls: urls, opts: opts, keys: keys, found: map[string]*source{}}, nil
}

func (m *Multi) logf(format string, args ...any) {
	if m.opts.Logf != nil {
		m.opts.Logf(format, args...)
	}
}

func (m *Multi) open(ctx context.Context) {
	m.openOnce.Do(func() {
		client := newHTTPClient(m.opts.HTTPConnections)
		caches := make([]*BinaryCache, len(m.urls))
		errs := make([]error, len(m.urls))
		var wg sync.WaitGroup
		for i, u := range m.urls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := Open(ctx, u, Options{StoreDir: m.opts.StoreDir, HTTPClient: client})
				if err == nil {
					err = c.Check()
				}
				caches[i], errs[i] = c, err
			}()
		}
		wg.Wait()
		for i, c := range caches {
			if errs[i] != nil {
				m.logf("warning: substituter %s is unavailable: %v", m.urls[i], errs[i])
				m.openErrs = append(m.openErrs, errs[i])
				continue
			}
			m.caches = append(m.caches, c)
		}
		sort.SliceStable(m.caches, func(i, j int) bool { return m.caches[i].Priority() < m.caches[j].Priority() })
	})
}

// Caches returns the usable caches in priority order.
func (m *Multi) Caches(ctx context.Context) []*BinaryCache {
	m.open(ctx)
	return m.caches
}

// Verify checks a narinfo from cache c against the trust settings: with
// require-sigs, some Sig must verify under a trusted key.
func (m *Multi) Verify(ni *NarInfo, cacheURL string) error {
	return verifyNarInfo(ni, m.opts.StoreDir, cacheURL, m.keys, m.opts.RequireSigs)
}

func verifyNarInfo(ni *NarInfo, sd storepath.StoreDir, cacheURL string, keys PublicKeys, requireSigs bool) error {
	if !requireSigs {
		return nil
	}
	if len(ni.Sigs) == 0 {
		return fmt.Errorf("path %s from substituter %s is not signed (require-sigs is set)", ni.StorePath, cacheURL)
	}
	fp, err := ni.Fingerprint(sd)
	if err != nil {
		return fmt.Errorf("path %s from substituter %s: %w", ni.StorePath, cacheURL, err)
	}
	if !keys.VerifyAny(fp, ni.Sigs) {
		names := keys.Names()
		sort.Strings(names)
		return fmt.Errorf("path %s from substituter %s does not have a valid signature by a trusted key (trusted: %s)",
			ni.StorePath, cacheURL, strings.Join(names, ", "))
	}
	return nil
}

// query finds the first cache, in priority order, with a verified narinfo
// for path.
func (m *Multi) query(ctx context.Context, path string) (*source, error) {
	m.mu.Lock()
	s, ok := m.found[path]
	m.mu.Unlock()
	if ok {
		return s, nil
	}
	m.open(ctx)
	var errs []string
	for _, c := range m.caches {
		ni, err := c.NarInfo(ctx, path)
		if err == nil {
			err = m.Verify(ni, c.URL())
		}
		if err == nil {
			s := &source{cache: c, info: ni}
			m.mu.Lock()
			m.found[path] = s
			m.mu.Unlock()
			return s, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !errors.Is(err, ErrNotFound) {
			m.logf("warning: %v", err)
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("cannot substitute %s: %s", path, strings.Join(errs, "; "))
	}
	unavailable := ""
	for _, err := range m.openErrs {
		unavailable += "; " + err.Error()
	}
	return nil, fmt.Errorf("path %s is not available from any substituter (%s)%s: %w", path, strings.Join(m.urls, " "), unavailable, ErrNotFound)
}

// QueryPathInfo implements Substituter.
func (m *Multi) QueryPathInfo(ctx context.Context, path string) (*NarInfo, error) {
	s, err := m.query(ctx, path)
	if err != nil {
		return nil, err
	}
	cp := *s.info
	return &cp, nil
}

// Fetch implements Substituter.
func (m *Multi) Fetch(ctx context.Context, path string, st LocalStore) error {
	return m.FetchClosure(ctx, []string{path}, st)
}

// FetchClosure makes every path in paths valid in st, substituting the
// invalid part of their closures with up to Jobs parallel downloads.
func (m *Multi) FetchClosure(ctx context.Context, paths []string, st LocalStore) error {
	_, err := m.fetchClosure(ctx, paths, st, nil)
	return err
}

// fetchClosure returns the paths it substituted.
func (m *Multi) fetchClosure(ctx context.Context, paths []string, st LocalStore, progress func(string)) ([]string, error) {
	if st.StoreDir() != m.opts.StoreDir {
		return nil, fmt.Errorf("substituters are for store %s, the local store is %s", m.opts.StoreDir, st.StoreDir())
	}
	if bs, ok := st.(BatchStore); ok {
		// Downloads start while the closure is still being walked.
		return m.substituteBatched(ctx, paths, bs, progress)
	}
	need, err := m.walkClosure(ctx, paths, st, nil)
	if err != nil {
		return nil, err
	}
	nodes := make([]string, 0, len(need))
	for p := range need {
		nodes = append(nodes, p)
	}
	var mu sync.Mutex
	var done []string
	err = runDAG(ctx, nodes, func(p string) []string { return fullRefs(m.opts.StoreDir, need[p].info) }, m.opts.Jobs,
		func(ctx context.Context, p string) error {
			s := need[p]
			if err := fetchOne(ctx, s.cache, s.info, st); err != nil {
				return err
			}
			mu.Lock()
			done = append(done, p)
			mu.Unlock()
			if progress != nil {
				progress(p)
			}
			return nil
		})
	sort.Strings(done)
	return done, err
}

// walkClosure finds, through narinfos, the paths of the closures of roots
// that are not valid in st and where to get each. Every path's narinfo is
// queried as soon as a referrer's narinfo names it (up to HTTPConnections
// at once), not level by level, so a deep closure costs few round trips
// more than a shallow one. found, if non-nil, is called (from any
// goroutine) with each path to substitute as soon as it is known. On
// failure the error of the first failing path in sort order is returned.
func (m *Multi) walkClosure(ctx context.Context, roots []string, st LocalStore, found func(string, *source)) (map[string]*source, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu   sync.Mutex
		need = map[string]*source{}
		seen = map[string]bool{}
		errs = map[string]error{}
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, max(1, m.opts.HTTPConnections))
	lookup := func(ctx context.Context, p string) (*source, error) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		defer func() { <-sem }()
		if ok, err := st.IsValid(ctx, p); err != nil || ok {
			return nil, err
		}
		return m.query(ctx, p)
	}
	var visit func(p string)
	visit = func(p string) {
		mu.Lock()
		if seen[p] || len(errs) > 0 {
			mu.Unlock()
			return
		}
		seen[p] = true
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := lookup(ctx, p)
			if err != nil {
				mu.Lock()
				if len(errs) == 0 || ctx.Err() == nil {
					errs[p] = err // after the first, only real causes
				}
				mu.Unlock()
				cancel()
				return
			}
			if s == nil {
				return // valid already
			}
			mu.Lock()
			need[p] = s
			mu.Unlock()
			if found != nil {
				found(p, s)
			}
			for _, r := range fullRefs(m.opts.StoreDir, s.info) {
				visit(r)
			}
		}()
	}
	for _, p := range roots {
		visit(p)
	}
	wg.Wait()
	if len(errs) > 0 {
		failed := make([]string, 0, len(errs))
		for p := range errs {
			failed = append(failed, p)
		}
		sort.Strings(failed)
		return nil, errs[failed[0]]
	}
	return need, nil
}

// fetchOne downloads, verifies and registers one path whose references
// are already valid.
func fetchOne(ctx context.Context, c *BinaryCache, ni *NarInfo, st LocalStore) error {
	// AddNAR hashes the NAR itself; the reader still bounds its size.
	rc, err := c.openNAR(ctx, ni, false)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := st.AddNAR(ctx, pathInfoFromNarInfo(st.StoreDir(), ni), rc); err != nil {
		return fmt.Errorf("substituting %s from %s: %w", ni.StorePath, c.URL(), err)
	}
	return nil
}

// CopyFromOptions configure CopyFrom.
type CopyFromOptions struct {
	TrustedPublicKeys []string
	RequireSigs       bool
	Jobs              int
	Progress          func(path string)
	HTTPClient        *http.Client
}

// CopyFrom copies the closures of paths from one cache into st, verifying
// signatures (when required) and NAR hashes. It returns the paths copied.
func CopyFrom(ctx context.Context, c *BinaryCache, paths []string, st LocalStore, opts CopyFromOptions) ([]string, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	m, err := NewSubstituter(nil, SubstituterOptions{
		StoreDir:          c.StoreDir(),
		TrustedPublicKeys: opts.TrustedPublicKeys,
		RequireSigs:       opts.RequireSigs,
		Jobs:              opts.Jobs,
	})
	if err != nil {
		return nil, err
	}
	m.openOnce.Do(func() {})
	m.caches = []*BinaryCache{c}
	m.urls = []string{c.URL()}
	return m.fetchClosure(ctx, paths, st, opts.Progress)
}
