package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/nar"
)

// A PreparedNAR is a NAR restored into a temporary store entry and verified
// (NAR hash and size, content address, derivation outputs), with canonical
// metadata, but not yet durable, in place or registered. CommitNARs makes
// it valid; Discard removes it. The temporary entry is temp-rooted, so a GC
// leaves it alone while this process lives, and Open removes it after a
// crash.
type PreparedNAR struct {
	info *newInfo
	tmp  string
	mu   sync.Mutex
	used bool // committed or discarded
}

// Path returns the store path the NAR will become.
func (p *PreparedNAR) Path() string { return p.info.Path }

// References returns the (sorted) references it will be registered with.
func (p *PreparedNAR) References() []string { return p.info.References }

// take marks p consumed and reports whether it was still available.
func (p *PreparedNAR) take() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used {
		return false
	}
	p.used = true
	return true
}

// Discard removes the temporary entry; it is a no-op after CommitNARs or a
// previous Discard.
func (p *PreparedNAR) Discard() {
	if p != nil && p.take() {
		_, _ = removeTree(p.tmp)
	}
}

// PrepareNAR restores a NAR for info.Path into a temporary entry, verifying
// it like AddNAR, without making it durable or valid: see CommitNARs. It
// takes no path lock, so two processes may prepare the same path; the
// commit of the second finds it valid and drops its copy.
func (s *Store) PrepareNAR(ctx context.Context, info *PathInfo, r io.Reader) (*PreparedNAR, error) {
	ni, err := s.checkNARInfo(info)
	if err != nil {
		return nil, err
	}
	tmp, err := s.newTempPath(ctx)
	if err != nil {
		return nil, fmt.Errorf("importing %s: %w", ni.Path, err)
	}
	if err := s.restoreNAR(ctx, ni, tmp, r); err != nil {
		_, _ = removeTree(tmp)
		return nil, fmt.Errorf("importing %s: %w", ni.Path, err)
	}
	if _, err := canonicaliseTree(tmp); err != nil {
		_, _ = removeTree(tmp)
		return nil, fmt.Errorf("importing %s: %w", ni.Path, err)
	}
	return &PreparedNAR{info: ni, tmp: tmp}, nil
}

// checkNARInfo validates what AddNAR and PrepareNAR are given.
func (s *Store) checkNARInfo(info *PathInfo) (*newInfo, error) {
	path, err := s.ParsePath(info.Path)
	if err != nil {
		return nil, fmt.Errorf("importing NAR: %w", err)
	}
	if info.NarHash.Algo != hash.SHA256 {
		return nil, fmt.Errorf("importing %s: narHash must be sha256", path)
	}
	refs, err := s.checkRefs(info.References)
	if err != nil {
		return nil, fmt.Errorf("importing %s: %w", path, err)
	}
	ni := &newInfo{PathInfo: *info}
	ni.Path, ni.References = path, refs
	ni.Sigs = append([]string(nil), info.Sigs...)
	return ni, nil
}

// restoreNAR restores r into tmp (which must not exist) and verifies it
// against ni, filling in ni.NarSize and, for derivations, ni.drvOutputs.
func (s *Store) restoreNAR(ctx context.Context, ni *newInfo, tmp string, r io.Reader) error {
	h, _ := hash.NewHasher(hash.SHA256)
	buf, _ := s.narBufs.Get().(*[]byte)
	if buf == nil {
		b := make([]byte, narBufSize)
		buf = &b
	}
	defer s.narBufs.Put(buf)
	// Big files go to disk with O_DIRECT: no page-cache copy, and on disk
	// before CommitNARs' syncfs, which then has little left to write. The
	// small ones are left to that syncfs: asking for each one's writeback
	// as it is written (sync_file_range) cost more CPU than it saved.
	opts := nar.RestoreOptions{DirectIO: true, Buffer: *buf}
	if err := nar.RestoreWith(ctx, io.TeeReader(r, h), tmp, opts); err != nil {
		return fmt.Errorf("restoring NAR: %w", err)
	}
	if got := h.Sum(); !got.Equal(ni.NarHash) || (ni.NarSize != 0 && uint64(h.Size()) != ni.NarSize) {
		return fmt.Errorf("hash mismatch importing path %s;\n  specified: %s (%d bytes)\n  got:       %s (%d bytes)",
			ni.Path, ni.NarHash.Encode(hash.Base32, true), ni.NarSize, got.Encode(hash.Base32, true), h.Size())
	}
	ni.NarSize = uint64(h.Size())
	if ni.CA != "" {
		if err := s.checkCA(ctx, ni.Path, tmp, ni.CA, ni.NarHash, ni.References); err != nil {
			return err
		}
	}
	if strings.HasSuffix(ni.Path, ".drv") {
		b, err := os.ReadFile(tmp)
		if err != nil {
			return fmt.Errorf("reading derivation %s: %w", ni.Path, err)
		}
		if ni.drvOutputs, err = s.drvOutputs(ni.Path, b); err != nil {
			return fmt.Errorf("importing derivation %s: %w", ni.Path, err)
		}
	}
	return nil
}

// narBufSize is the size of the buffers NARs are restored through: 1 MiB
// of block-aligned space for direct writes, plus room to align it.
const narBufSize = 1<<20 + 4096

// CommitResult is what CommitNARs and AddNARs did.
type CommitResult struct {
	// Registered are the paths that are now valid (including ones another
	// process made valid first), references before referrers.
	Registered []string
	// Failed maps each path that was not registered to why.
	Failed map[string]error
}

// Err joins the errors of Failed (sorted by path), or returns nil.
func (r *CommitResult) Err() error {
	if r == nil || len(r.Failed) == 0 {
		return nil
	}
	paths := make([]string, 0, len(r.Failed))
	for p := range r.Failed {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	errs := make([]error, len(paths))
	for i, p := range paths {
		errs[i] = r.Failed[p]
	}
	return errors.Join(errs...)
}

// CommitNARs makes prepared NARs valid as one batch: one syncfs makes all
// their contents durable, then, holding their path locks (taken in sorted
// order), each is renamed into place (references before referrers), the
// store directory is fsynced and all are registered in one transaction.
// A path is registered only if each of its references is valid or
// registered in the same batch; the others are discarded and reported in
// Failed. Every prepared NAR passed is consumed. On a returned error
// (syncfs, locking, database) nothing new is valid.
//
// Crash safety: contents are durable before their final name exists, and a
// final name exists before its registration; a path renamed but not yet
// registered is an invalid path that the next writer of it or a GC removes.
func (s *Store) CommitNARs(ctx context.Context, preps []*PreparedNAR) (*CommitResult, error) {
	res := &CommitResult{Failed: map[string]error{}}
	batch := map[string]*PreparedNAR{}
	for _, p := range preps {
		if p == nil || !p.take() {
			continue
		}
		if _, dup := batch[p.info.Path]; dup {
			_, _ = removeTree(p.tmp)
			continue
		}
		batch[p.info.Path] = p
	}
	defer func() {
		for _, p := range batch {
			_, _ = removeTree(p.tmp) // no-op for the renamed ones
		}
	}()
	if len(batch) == 0 {
		return res, nil
	}
	paths := make([]string, 0, len(batch))
	for p := range batch {
		paths = append(paths, p)
	}
	sort.Strings(paths) // lock in a fixed order, like Nix's PathLocks
	if err := syncFS(s.realStoreDir); err != nil {
		return nil, fmt.Errorf("importing %d paths: %w", len(paths), err)
	}

	var locks []*pathLock
	ok := false
	defer func() {
		for _, l := range locks {
			l.release(ok)
		}
	}()
	for _, p := range paths {
		if err := s.addTempRoot(ctx, p); err != nil {
			return nil, fmt.Errorf("importing %s: %w", p, err)
		}
		l, err := lockPath(ctx, s.RealPath(p))
		if err != nil {
			return nil, fmt.Errorf("locking %s: %w", p, err)
		}
		locks = append(locks, l)
	}

	// Which paths can be registered: valid ones are dropped (done), and a
	// path whose reference is neither valid nor committable is refused.
	valid := map[string]bool{}
	isValid := func(p string) (bool, error) {
		if v, ok := valid[p]; ok {
			return v, nil
		}
		v, err := s.IsValid(ctx, p)
		if err != nil {
			return false, err
		}
		valid[p] = v
		return v, nil
	}
	var already []string
	for _, p := range paths {
		v, err := isValid(p)
		if err != nil {
			return nil, err
		}
		if v {
			already = append(already, p)
			_, _ = removeTree(batch[p].tmp)
			delete(batch, p)
		}
	}
	order, err := s.commitOrder(batch, isValid, res.Failed)
	if err != nil {
		return nil, err
	}

	// Rename in dependency order; a failed rename excludes its referrers.
	var infos []*newInfo
	var renamed []string
	placed := map[string]bool{}
	for _, p := range order {
		pr := batch[p]
		if bad := missingRef(pr.info, placed, valid); bad != "" {
			res.Failed[p] = fmt.Errorf("cannot register %s: its reference %s could not be imported", p, bad)
			continue
		}
		real := s.RealPath(p)
		if _, err := os.Lstat(real); err == nil {
			if _, err := removeTree(real); err != nil {
				res.Failed[p] = fmt.Errorf("importing %s: removing invalid leftover %s: %w", p, real, err)
				continue
			}
		}
		if err := os.Rename(pr.tmp, real); err != nil {
			res.Failed[p] = fmt.Errorf("importing %s: moving %s into place: %w", p, pr.tmp, err)
			continue
		}
		placed[p] = true
		renamed = append(renamed, real)
		infos = append(infos, pr.info)
	}
	undo := func() {
		for _, r := range renamed {
			_, _ = removeTree(r)
		}
	}
	if len(infos) > 0 {
		if err := fsyncPath(s.realStoreDir); err != nil {
			undo()
			return nil, err
		}
		if err := s.registerValidPaths(ctx, infos); err != nil {
			undo()
			return nil, err
		}
	}
	ok = true
	res.Registered = append(already, orderedPaths(infos)...)
	return res, nil
}

func orderedPaths(infos []*newInfo) []string {
	out := make([]string, len(infos))
	for i, in := range infos {
		out[i] = in.Path
	}
	return out
}

// missingRef returns a reference of in that is neither valid nor placed
// (self references aside), or "".
func missingRef(in *newInfo, placed, valid map[string]bool) string {
	for _, r := range in.References {
		if r != in.Path && !placed[r] && !valid[r] {
			return r
		}
	}
	return ""
}

// commitOrder returns the paths of batch that can be registered, references
// before referrers. Paths with a reference that is neither valid nor among
// the returned ones (directly or through a reference cycle) are recorded
// in failed, removed from batch and their temp entries deleted.
func (s *Store) commitOrder(batch map[string]*PreparedNAR, isValid func(string) (bool, error), failed map[string]error) ([]string, error) {
	names := make([]string, 0, len(batch))
	for p := range batch {
		names = append(names, p)
	}
	sort.Strings(names)
	// Kahn's algorithm over in-batch references; out-of-batch references
	// must be valid.
	pending := map[string]int{}
	dependents := map[string][]string{}
	var ready []string
	for _, p := range names {
		in := batch[p].info
		n := 0
		var missing string
		for _, r := range in.References {
			if r == p {
				continue
			}
			if _, ok := batch[r]; ok {
				n++
				dependents[r] = append(dependents[r], p)
				continue
			}
			v, err := isValid(r)
			if err != nil {
				return nil, err
			}
			if !v && missing == "" {
				missing = r
			}
		}
		if missing != "" {
			failed[p] = fmt.Errorf("cannot register %s: its reference %s is not valid", p, missing)
			n = -1 << 30 // never ready
		}
		pending[p] = n
		if n == 0 {
			ready = append(ready, p)
		}
	}
	var order []string
	for len(ready) > 0 {
		p := ready[0]
		ready = ready[1:]
		order = append(order, p)
		for _, d := range dependents[p] {
			pending[d]--
			if pending[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	inOrder := make(map[string]bool, len(order))
	for _, p := range order {
		inOrder[p] = true
	}
	for _, p := range names {
		if inOrder[p] {
			continue
		}
		if _, ok := failed[p]; !ok {
			bad := ""
			for _, r := range batch[p].info.References {
				if _, in := batch[r]; in && r != p && !inOrder[r] {
					bad = r
					break
				}
			}
			failed[p] = fmt.Errorf("cannot register %s: its reference %s is not valid", p, bad)
		}
		_, _ = removeTree(batch[p].tmp)
		delete(batch, p)
	}
	return order, nil
}

// NARSource is one NAR for AddNARs.
type NARSource struct {
	Info *PathInfo
	// Open returns the NAR stream. It is called at most once, and not at
	// all if the path is already valid.
	Open func(ctx context.Context) (io.ReadCloser, error)
	// Origin names where the NAR comes from (e.g. a binary cache URL) in
	// error messages; may be empty.
	Origin string
}

// AddNARs imports several NARs as one batch: up to jobs (at least 1) are
// restored and verified in parallel into temporary entries, then the good
// ones are made durable with one syncfs and registered in one transaction
// (see CommitNARs). A NAR that fails (bad hash, truncated, reference not
// valid) is not registered and is reported in the result's Failed with
// its path and origin; the others still are if their references are
// valid. The returned error is for failures of the whole batch.
func (s *Store) AddNARs(ctx context.Context, srcs []NARSource, jobs int) (*CommitResult, error) {
	if jobs < 1 {
		jobs = 1
	}
	failed := map[string]error{}
	preps := make([]*PreparedNAR, len(srcs))
	errs := make([]error, len(srcs))
	var valid []string
	var mu sync.Mutex
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for i, src := range srcs {
		if src.Info == nil || src.Open == nil {
			errs[i] = fmt.Errorf("importing NAR %d of %d: missing info or reader", i+1, len(srcs))
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = fmt.Errorf("importing %s: %w", src.Info.Path, ctx.Err())
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if ok, err := s.IsValid(ctx, src.Info.Path); err != nil || ok {
				if ok {
					mu.Lock()
					valid = append(valid, src.Info.Path)
					mu.Unlock()
				}
				errs[i] = err
				return
			}
			preps[i], errs[i] = s.prepareFrom(ctx, src)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			continue
		}
		p := fmt.Sprintf("#%d", i)
		if srcs[i].Info != nil {
			p = srcs[i].Info.Path
		}
		if srcs[i].Origin != "" {
			err = fmt.Errorf("NAR from %s: %w", srcs[i].Origin, err)
		}
		failed[p] = err
	}
	res, err := s.CommitNARs(ctx, preps)
	if err != nil {
		return nil, err
	}
	for p, e := range failed {
		res.Failed[p] = e
	}
	res.Registered = append(valid, res.Registered...)
	return res, nil
}

func (s *Store) prepareFrom(ctx context.Context, src NARSource) (*PreparedNAR, error) {
	rc, err := src.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("importing %s: %w", src.Info.Path, err)
	}
	defer rc.Close()
	return s.PrepareNAR(ctx, src.Info, rc)
}
