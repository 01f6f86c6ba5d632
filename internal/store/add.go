package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"github.com/onix-dev/onix/internal/ctxio"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/nar"
	"github.com/onix-dev/onix/internal/nixcompat/nixbase32"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

// Method is how AddToStore ingests a path: Flat hashes the file bytes,
// Recursive the NAR serialisation.
type Method = storepath.Method

// The ingestion methods.
const (
	Flat      = storepath.Flat
	Recursive = storepath.Recursive
)

// tmpSuffix marks onix's temporary entries in the store directory. A temp
// entry is named like a store path ("<random hash>-<pid>.onix-tmp") and is
// registered as a temporary root before it is created, so neither onix's nor
// Nix's GC deletes it while its creator lives; once the creator is dead it is
// an invalid, unrooted path that any GC (and Open) removes.
const tmpSuffix = ".onix-tmp"

// newTempPath reserves a temp entry in the store dir and returns its
// physical path. The entry itself is not created.
func (s *Store) newTempPath(ctx context.Context) (string, error) {
	var b [storepath.HashSize]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random temp name: %w", err)
	}
	name := fmt.Sprintf("%s-%d%s", nixbase32.EncodeToString(b[:]), os.Getpid(), tmpSuffix)
	logical := string(s.storeDir) + "/" + name
	if err := s.addTempRoot(ctx, logical); err != nil {
		return "", err
	}
	return s.realStoreDir + "/" + name, nil
}

// cleanTempEntries removes temp entries left by dead processes.
func (s *Store) cleanTempEntries(ctx context.Context) error {
	ents, err := os.ReadDir(s.realStoreDir)
	if err != nil {
		return fmt.Errorf("reading %s: %w", s.realStoreDir, err)
	}
	var cands []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), tmpSuffix) {
			cands = append(cands, e.Name())
		}
	}
	if len(cands) == 0 {
		return nil
	}
	live, err := s.readTempRoots()
	if err != nil {
		return err
	}
	for _, n := range cands {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, ok := live[string(s.storeDir)+"/"+n]; ok {
			continue
		}
		s.logf("removing leftover temporary store entry %s", n)
		if _, err := removeTree(s.realStoreDir + "/" + n); err != nil {
			return err
		}
	}
	return nil
}

// newInfo is what a caller registers for a path being added.
type newInfo struct {
	PathInfo
	drvOutputs map[string]string // for .drv paths
}

// install moves a fully written temp tree to its final store path and
// registers it. The caller holds the path lock and has temp-rooted path.
// canonical says tmp already has canonical metadata (nar.CopyPath with
// Canonical), so it only needs making durable. On failure the final path is
// left invalid (and removed when possible).
func (s *Store) install(ctx context.Context, tmp string, info *newInfo, canonical bool) error {
	if canonical {
		if err := syncFS(filepath.Dir(tmp)); err != nil {
			return err
		}
	} else if _, err := canonicalise(tmp); err != nil {
		return err
	}
	real := s.RealPath(info.Path)
	// An invalid leftover at the final name (e.g. from a crash between
	// rename and registration) is ours to replace: we hold the path lock.
	if _, err := os.Lstat(real); err == nil {
		if _, err := removeTree(real); err != nil {
			return fmt.Errorf("removing invalid leftover %s: %w", real, err)
		}
	}
	if err := os.Rename(tmp, real); err != nil {
		return fmt.Errorf("moving %s into place at %s: %w", tmp, real, err)
	}
	if err := fsyncPath(s.realStoreDir); err != nil {
		_, _ = removeTree(real)
		return err
	}
	if err := s.registerValidPaths(ctx, []*newInfo{info}); err != nil {
		_, _ = removeTree(real)
		return err
	}
	return nil
}

// registerValidPaths writes the ValidPaths, Refs and DerivationOutputs rows
// for infos in one transaction, like Nix's registerValidPaths. References
// must be valid or among infos. Already-valid paths get their metadata
// updated.
func (s *Store) registerValidPaths(ctx context.Context, infos []*newInfo) error {
	now := time.Now().Unix()
	what := "registering " + infos[0].Path
	if len(infos) > 1 {
		what += fmt.Sprintf(" and %d more", len(infos)-1)
	}
	return s.withTx(ctx, what, func(tx *sql.Tx) error {
		ids := map[string]int64{}
		for _, in := range infos {
			var deriver, sigs, ca any
			if in.Deriver != "" {
				deriver = in.Deriver
			}
			if len(in.Sigs) > 0 {
				sigs = strings.Join(in.Sigs, " ")
			}
			if in.CA != "" {
				ca = in.CA
			}
			var ultimate any
			if in.Ultimate {
				ultimate = 1
			}
			reg := now
			if !in.RegistrationTime.IsZero() {
				reg = in.RegistrationTime.Unix()
			}
			h := "sha256:" + in.NarHash.Base16()
			id, err := s.pathID(ctx, tx, in.Path)
			switch {
			case err == nil:
				if _, err := tx.ExecContext(ctx,
					"update ValidPaths set narSize = ?, hash = ?, ultimate = ?, sigs = ?, ca = ? where path = ?",
					int64(in.NarSize), h, ultimate, sigs, ca, in.Path); err != nil {
					return s.dbErr(what, err)
				}
			case errors.Is(err, ErrNotValid):
				res, err := tx.ExecContext(ctx,
					"insert into ValidPaths (path, hash, registrationTime, deriver, narSize, ultimate, sigs, ca) values (?, ?, ?, ?, ?, ?, ?, ?)",
					in.Path, h, reg, deriver, int64(in.NarSize), ultimate, sigs, ca)
				if err != nil {
					return s.dbErr(what, err)
				}
				if id, err = res.LastInsertId(); err != nil {
					return s.dbErr(what, err)
				}
			default:
				return err
			}
			ids[in.Path] = id
			if strings.HasSuffix(in.Path, ".drv") {
				names := make([]string, 0, len(in.drvOutputs))
				for n := range in.drvOutputs {
					names = append(names, n)
				}
				sort.Strings(names)
				for _, n := range names {
					if _, err := tx.ExecContext(ctx,
						"insert or replace into DerivationOutputs (drv, id, path) values (?, ?, ?)",
						id, n, in.drvOutputs[n]); err != nil {
						return s.dbErr(what, err)
					}
				}
			}
		}
		for _, in := range infos {
			for _, r := range in.References {
				rid, ok := ids[r]
				if !ok {
					var err error
					rid, err = s.pathID(ctx, tx, r)
					if errors.Is(err, ErrNotValid) {
						return fmt.Errorf("cannot register %s: its reference %s is not valid", in.Path, r)
					}
					if err != nil {
						return err
					}
					ids[r] = rid
				}
				if _, err := tx.ExecContext(ctx,
					"insert or replace into Refs (referrer, reference) values (?, ?)", ids[in.Path], rid); err != nil {
					return s.dbErr(what, err)
				}
			}
		}
		return nil
	})
}

func (s *Store) checkRefs(refs []string) ([]string, error) {
	out := storepath.SortedRefs(refs)
	for _, r := range out {
		if _, err := s.storeDir.Parse(r); err != nil {
			return nil, fmt.Errorf("invalid reference: %w", err)
		}
	}
	return out, nil
}

// withPath runs fn with path temp-rooted and locked, unless it is already
// valid (then fn is skipped). fn returns whether the path became valid.
func (s *Store) withPathLock(ctx context.Context, path string, fn func() error) (err error) {
	if err := s.addTempRoot(ctx, path); err != nil {
		return err
	}
	if ok, err := s.IsValid(ctx, path); err != nil || ok {
		return err
	}
	l, err := lockPath(ctx, s.RealPath(path))
	if err != nil {
		return fmt.Errorf("locking %s: %w", path, err)
	}
	defer func() { l.release(err == nil) }()
	if ok, err := s.IsValid(ctx, path); err != nil || ok {
		return err
	}
	return fn()
}

// AddToStore copies srcPath (a physical path) into the store, like
// `nix-store --add` (Recursive, sha256), `nix-store --add-fixed` and
// builtins.path. filter (nil = everything) selects entries for Recursive.
// refs are only allowed for Recursive sha256 ("source") paths.
func (s *Store) AddToStore(ctx context.Context, name, srcPath string, method Method, algo hash.Algo, filter nar.Filter, refs []string) (string, error) {
	if name == "" {
		name = filepath.Base(srcPath)
	}
	if err := storepath.ValidateName(name); err != nil {
		return "", fmt.Errorf("adding %s: %w", srcPath, err)
	}
	if !algo.Valid() {
		return "", fmt.Errorf("adding %s: invalid hash algorithm", srcPath)
	}
	refs, err := s.checkRefs(refs)
	if err != nil {
		return "", fmt.Errorf("adding %s: %w", srcPath, err)
	}
	if len(refs) > 0 && !(method == Recursive && algo == hash.SHA256) {
		return "", fmt.Errorf("adding %s: only recursive sha256 paths may have references", srcPath)
	}
	tmp, err := s.newTempPath(ctx)
	if err != nil {
		return "", err
	}
	defer removeTree(tmp)

	narH, _ := hash.NewHasher(hash.SHA256)
	var contentH *hash.Hasher
	canonical := method == Recursive
	if method == Flat {
		contentH, err = s.writeFlat(ctx, srcPath, tmp, narH, algo)
	} else {
		if algo != hash.SHA256 {
			contentH, _ = hash.NewHasher(algo)
		}
		err = s.writeRecursive(ctx, srcPath, filter, tmp, narH, contentH)
	}
	if err != nil {
		return "", err
	}
	narHash := narH.Sum()
	ch := narHash
	if contentH != nil {
		ch = contentH.Sum()
	}
	sp, err := s.storeDir.MakeFixedOutputPath(name, method, ch, refs, false)
	if err != nil {
		return "", fmt.Errorf("adding %s: %w", srcPath, err)
	}
	path := s.storeDir.Path(sp)
	err = s.withPathLock(ctx, path, func() error {
		return s.install(ctx, tmp, &newInfo{PathInfo: PathInfo{
			Path: path, NarHash: narHash, NarSize: uint64(narH.Size()), References: refs,
			CA: storepath.ContentAddressFixed(method, ch),
		}}, canonical)
	})
	if err != nil {
		return "", fmt.Errorf("adding %s to the store: %w", srcPath, err)
	}
	return path, nil
}

// writeFlat copies a regular file to dst, feeding its NAR serialisation to
// narH and its bytes to a new content hasher.
func (s *Store) writeFlat(ctx context.Context, src, dst string, narH *hash.Hasher, algo hash.Algo) (*hash.Hasher, error) {
	in, err := os.Open(src)
	if err != nil {
		return nil, fmt.Errorf("adding %s: %w", src, err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return nil, fmt.Errorf("adding %s: %w", src, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("adding %s: flat ingestion needs a regular file", src)
	}
	contentH, err := hash.NewHasher(algo)
	if err != nil {
		return nil, err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", dst, err)
	}
	nw := nar.NewWriter(narH)
	if err := nw.WriteHeader(&nar.Header{Path: "/", Type: nar.TypeRegular, Size: st.Size()}); err != nil {
		out.Close()
		return nil, err
	}
	n, err := io.Copy(io.MultiWriter(out, contentH, nw), ctxio.Reader(ctx, in))
	if err == nil && n != st.Size() {
		err = fmt.Errorf("%s changed size while reading", src)
	}
	if err == nil {
		err = nw.Close()
	}
	if cerr := out.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("copying %s to %s: %w", src, dst, err)
	}
	return contentH, nil
}

// writeRecursive copies src to dst with canonical store metadata, hashing
// its NAR serialisation on the way: one read of src, no NAR round trip.
func (s *Store) writeRecursive(ctx context.Context, src string, filter nar.Filter, dst string, narH, contentH *hash.Hasher) error {
	if _, err := os.Lstat(src); err != nil {
		return fmt.Errorf("adding %s: %w", src, err)
	}
	var w io.Writer = narH
	if contentH != nil {
		w = io.MultiWriter(narH, contentH)
	}
	if err := nar.CopyPath(ctx, w, src, dst, nar.CopyOptions{Filter: filter, Canonical: true}); err != nil {
		return fmt.Errorf("adding %s: %w", src, err)
	}
	return nil
}

// AddTextToStore adds a text object (builtins.toFile, .drv files) with the
// given references. For a name ending in .drv the derivation's outputs are
// recorded in DerivationOutputs.
func (s *Store) AddTextToStore(ctx context.Context, name string, content []byte, refs []string) (string, error) {
	refs, err := s.checkRefs(refs)
	if err != nil {
		return "", fmt.Errorf("adding text %s: %w", name, err)
	}
	ch := hash.Sum(hash.SHA256, content)
	sp, err := s.storeDir.MakeTextPath(name, ch, refs)
	if err != nil {
		return "", fmt.Errorf("adding text %s: %w", name, err)
	}
	path := s.storeDir.Path(sp)
	var outs map[string]string
	if sp.IsDerivation() {
		if outs, err = s.drvOutputs(path, content); err != nil {
			return "", fmt.Errorf("adding derivation %s: %w", path, err)
		}
	}
	if ok, err := s.IsValid(ctx, path); err != nil || ok {
		return path, err
	}
	err = s.withPathLock(ctx, path, func() error {
		tmp, err := s.newTempPath(ctx)
		if err != nil {
			return err
		}
		defer removeTree(tmp)
		if err := os.WriteFile(tmp, content, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", tmp, err)
		}
		narH, _ := hash.NewHasher(hash.SHA256)
		nw := nar.NewWriter(narH)
		if err := nw.WriteHeader(&nar.Header{Path: "/", Type: nar.TypeRegular, Size: int64(len(content))}); err != nil {
			return err
		}
		if _, err := nw.Write(content); err != nil {
			return err
		}
		if err := nw.Close(); err != nil {
			return err
		}
		return s.install(ctx, tmp, &newInfo{
			PathInfo: PathInfo{Path: path, NarHash: narH.Sum(), NarSize: uint64(narH.Size()),
				References: refs, CA: storepath.ContentAddressText(ch)},
			drvOutputs: outs,
		}, false)
	})
	if err != nil {
		return "", fmt.Errorf("adding text %s to the store: %w", path, err)
	}
	return path, nil
}

// AddNAR restores a NAR (e.g. from a substituter) as info.Path, verifying
// narHash and narSize while restoring and, for content-addressed paths
// without self references, that the path matches the CA. If the path is
// already valid, r is not read. RegistrationTime zero means now.
func (s *Store) AddNAR(ctx context.Context, info *PathInfo, r io.Reader) error {
	ni, err := s.checkNARInfo(info)
	if err != nil {
		return err
	}
	path := ni.Path
	err = s.withPathLock(ctx, path, func() error {
		tmp, err := s.newTempPath(ctx)
		if err != nil {
			return err
		}
		defer removeTree(tmp)
		if err := s.restoreNAR(ctx, ni, tmp, r); err != nil {
			return err
		}
		return s.install(ctx, tmp, ni, false)
	})
	if err != nil {
		return fmt.Errorf("importing %s: %w", path, err)
	}
	return nil
}

func (s *Store) checkCA(ctx context.Context, path, tmp, caStr string, narHash hash.Hash, refs []string) error {
	ca, err := storepath.ParseContentAddress(caStr)
	if err != nil {
		return err
	}
	self := false
	var others []string
	for _, r := range refs {
		if r == path {
			self = true
		} else {
			others = append(others, r)
		}
	}
	if self {
		return nil // needs hash modulo self references; trusted like Nix's non-checking path
	}
	sp, err := s.storeDir.Parse(path)
	if err != nil {
		return err
	}
	var got hash.Hash
	switch {
	case ca.Method == Recursive && !ca.Text:
		if ca.Hash.Algo == hash.SHA256 {
			got = narHash
		} else if got, _, err = nar.HashPathAlgo(ctx, ca.Hash.Algo, tmp, nil); err != nil {
			return err
		}
	default:
		f, err := os.Open(tmp)
		if err != nil {
			return err
		}
		got, _, err = hash.HashReader(ctx, ca.Hash.Algo, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("hashing %s: %w", tmp, err)
		}
	}
	if !got.Equal(ca.Hash) {
		return fmt.Errorf("content address mismatch importing %s: CA says %s, contents hash to %s", path, caStr, got.Encode(hash.Base32, true))
	}
	want, err := s.storeDir.MakeContentAddressedPath(sp.Name, ca, others, false)
	if err != nil {
		return err
	}
	if want != sp {
		return fmt.Errorf("content address mismatch importing %s: CA %s gives %s", path, caStr, s.storeDir.Path(want))
	}
	return nil
}

// Output describes one built output for RegisterOutputs.
type Output struct {
	Path string // logical final store path
	// Src is where the builder left the output (physical). Empty means it
	// is already at RealPath(Path).
	Src string
	// References, if non-nil, are used as is. Otherwise the NAR is scanned
	// for the hash parts of Candidates (and of all outputs registered in the
	// same call, which covers self references).
	References []string
	Candidates []string
	Deriver    string
	CA         string
}

// moveIntoPlace renames src to dst. A directory needs write permission
// to move to another parent (its ".." changes), which canonicalisation
// took away: then (when not root) it gets it back for the move.
func moveIntoPlace(src, dst string) error {
	err := os.Rename(src, dst)
	if !errors.Is(err, fs.ErrPermission) {
		return err
	}
	if fi, serr := os.Lstat(src); serr != nil || !fi.IsDir() || fi.Mode().Perm() != 0o555 {
		return err
	}
	if cerr := os.Chmod(src, 0o755); cerr != nil {
		return err
	}
	if err = os.Rename(src, dst); err != nil {
		_ = os.Chmod(src, 0o555)
		return err
	}
	return os.Chmod(dst, 0o555)
}

// RegisterOutputs makes built outputs valid: each is canonicalised,
// hashed (and scanned for references) and moved into place, then all are
// made durable (one syncfs) and registered in one transaction with
// ultimate = 1. It returns their infos.
func (s *Store) RegisterOutputs(ctx context.Context, outs []Output) ([]*PathInfo, error) {
	return s.RegisterOutputsLocked(ctx, outs, nil)
}

// RegisterOutputsLocked is RegisterOutputs for a caller that already holds
// the locks of some outputs (held, from LockPaths, as a builder does from
// before its build): those are not locked again, and stay held.
func (s *Store) RegisterOutputsLocked(ctx context.Context, outs []Output, held *PathLocks) ([]*PathInfo, error) {
	if len(outs) == 0 {
		return nil, nil
	}
	var locks []*pathLock
	ok := false
	defer func() {
		for _, l := range locks {
			l.release(ok)
		}
	}()
	var all []string
	for _, o := range outs {
		p, err := s.ParsePath(o.Path)
		if err != nil {
			return nil, fmt.Errorf("registering output: %w", err)
		}
		all = append(all, p)
	}
	sort.Strings(all) // lock in a fixed order, like Nix's PathLocks
	for _, p := range all {
		if err := s.addTempRoot(ctx, p); err != nil {
			return nil, err
		}
		if held.Holds(p) {
			continue
		}
		l, err := lockPath(ctx, s.RealPath(p))
		if err != nil {
			return nil, fmt.Errorf("locking %s: %w", p, err)
		}
		locks = append(locks, l)
	}
	var infos []*newInfo
	for _, o := range outs {
		p, _ := s.ParsePath(o.Path)
		real := s.RealPath(p)
		src := o.Src
		if src == "" {
			src = real
		}
		// Made durable below, with the rename.
		if _, err := canonicaliseTree(src); err != nil {
			return nil, err
		}
		h, _ := hash.NewHasher(hash.SHA256)
		var w io.Writer = h
		var sc *storepath.RefScanner
		var cands []string
		if o.References == nil {
			cands = append(append([]string(nil), o.Candidates...), all...)
			var parts []string
			for _, c := range cands {
				if sp, err := s.storeDir.Parse(c); err == nil {
					parts = append(parts, sp.HashPart)
				}
			}
			sc = storepath.NewRefScanner(parts)
			w = io.MultiWriter(h, sc)
		}
		if err := nar.DumpPath(ctx, w, src, nil); err != nil {
			return nil, fmt.Errorf("hashing output %s: %w", p, err)
		}
		refs := o.References
		if sc != nil {
			refs = sc.FoundPaths(s.storeDir, storepath.SortedRefs(cands))
		}
		refs, err := s.checkRefs(refs)
		if err != nil {
			return nil, err
		}
		if src != real {
			if _, err := os.Lstat(real); err == nil {
				if _, err := removeTree(real); err != nil {
					return nil, fmt.Errorf("removing invalid leftover %s: %w", real, err)
				}
			}
			if err := moveIntoPlace(src, real); err != nil {
				return nil, fmt.Errorf("moving output %s into place: %w", p, err)
			}
		}
		infos = append(infos, &newInfo{PathInfo: PathInfo{
			Path: p, NarHash: h.Sum(), NarSize: uint64(h.Size()), References: refs,
			Deriver: o.Deriver, CA: o.CA, Ultimate: true,
		}})
	}
	// One syncfs makes the outputs' contents and their renames durable
	// before they become valid (rather than one per output and then an
	// fsync of the store directory). A crash before it leaves invalid
	// paths, which are replaced.
	if err := syncFS(s.realStoreDir); err != nil {
		return nil, err
	}
	if err := s.registerValidPaths(ctx, infos); err != nil {
		return nil, err
	}
	ok = true
	res := make([]*PathInfo, len(infos))
	for i, in := range infos {
		pi := in.PathInfo
		res[i] = &pi
	}
	return res, nil
}
