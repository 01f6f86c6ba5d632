package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
)

// Roots maps a store path to the places that keep it alive: gcroot or
// profile symlinks (physical paths) and "{temp:PID}" for temporary roots.
type Roots map[string][]string

func (r Roots) add(path, from string) {
	for _, x := range r[path] {
		if x == from {
			return
		}
	}
	r[path] = append(r[path], from)
}

// FindRoots returns the GC roots: symlinks (direct, and indirect through one
// more symlink like `result`) and files named after store paths under
// ROOT/nix/var/nix/gcroots and .../profiles, plus live temporary roots.
// Only valid paths are returned. Stale links in gcroots/auto are removed,
// as Nix does. Runtime roots (/proc scanning) are not searched.
func (s *Store) FindRoots(ctx context.Context) (Roots, error) {
	roots := Roots{}
	if err := s.findRootsNoTemp(ctx, roots); err != nil {
		return nil, err
	}
	tr, err := s.readTempRoots()
	if err != nil {
		return nil, err
	}
	for p, owners := range tr {
		p, err := s.ToStorePath(p)
		if err != nil {
			continue
		}
		ok, err := s.IsValid(ctx, p)
		if err != nil {
			return nil, err
		}
		if ok {
			for _, o := range owners {
				roots.add(p, o)
			}
		}
	}
	return roots, nil
}

func (s *Store) findRootsNoTemp(ctx context.Context, roots Roots) error {
	for _, d := range []string{s.stateDir + "/gcroots", s.stateDir + "/profiles"} {
		if err := s.findRoots(ctx, d, fs.FileMode(0), true, roots); err != nil {
			return err
		}
	}
	return nil
}

// rootTarget decides what a gcroot symlink with the given target points to.
// It returns the store path for a direct root (target inside the logical or
// physical store dir) and ok=false otherwise.
func (s *Store) rootTarget(target string) (string, bool) {
	if !filepath.IsAbs(target) {
		return "", false
	}
	p, err := s.ToStorePath(target)
	if err != nil {
		return "", false
	}
	return p, true
}

func (s *Store) isInStore(target string) bool {
	t := filepath.Clean(target)
	return strings.HasPrefix(t, string(s.storeDir)+"/") ||
		(s.root != "" && strings.HasPrefix(t, s.realStoreDir+"/"))
}

func (s *Store) findRoots(ctx context.Context, path string, typ fs.FileMode, unknown bool, roots Roots) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if unknown {
		st, err := os.Lstat(path)
		if err != nil {
			if ignorableRootErr(err) {
				return nil
			}
			return fmt.Errorf("reading GC root %s: %w", path, err)
		}
		typ = st.Mode().Type()
	}
	foundRoot := func(link, target string) error {
		sp, ok := s.rootTarget(target)
		if !ok {
			return nil
		}
		valid, err := s.IsValid(ctx, sp)
		if err != nil {
			return err
		}
		if valid {
			roots.add(sp, link)
		} else {
			s.logf("skipping invalid root from %s to %s", link, target)
		}
		return nil
	}
	switch {
	case typ.IsDir():
		ents, err := os.ReadDir(path)
		if err != nil {
			if ignorableRootErr(err) {
				return nil
			}
			return fmt.Errorf("reading GC roots directory %s: %w", path, err)
		}
		for _, e := range ents {
			if err := s.findRoots(ctx, filepath.Join(path, e.Name()), e.Type(), false, roots); err != nil {
				return err
			}
		}
	case typ&fs.ModeSymlink != 0:
		target, err := os.Readlink(path)
		if err != nil {
			if ignorableRootErr(err) {
				return nil
			}
			return fmt.Errorf("reading GC root %s: %w", path, err)
		}
		if s.isInStore(target) {
			return foundRoot(path, target)
		}
		// Indirect root: a link to a link (e.g. gcroots/auto/x -> /home/u/result).
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		st, err := os.Lstat(target)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				if strings.HasPrefix(path, s.stateDir+"/gcroots/auto/") {
					s.logf("removing stale link from %s to %s", path, target)
					_ = os.Remove(path)
				}
				return nil
			}
			if ignorableRootErr(err) {
				return nil
			}
			return fmt.Errorf("reading indirect GC root %s: %w", target, err)
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			return nil
		}
		target2, err := os.Readlink(target)
		if err != nil {
			if ignorableRootErr(err) {
				return nil
			}
			return fmt.Errorf("reading indirect GC root %s: %w", target, err)
		}
		if s.isInStore(target2) {
			return foundRoot(target, target2)
		}
	case typ.IsRegular():
		// A regular file named after a store path (gcroots/per-user/x/<hash-name>).
		p := string(s.storeDir) + "/" + filepath.Base(path)
		if sp, err := s.ParsePath(p); err == nil {
			valid, err := s.IsValid(ctx, sp)
			if err != nil {
				return err
			}
			if valid {
				roots.add(sp, path)
			}
		}
	}
	return nil
}

func ignorableRootErr(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) ||
		errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ELOOP)
}

// RootLine is one line of `nix-store --gc --print-roots`: "LINK -> PATH".
type RootLine struct {
	Link string
	Path string
}

// PrintRoots returns the roots sorted like `nix-store --gc --print-roots`.
func (s *Store) PrintRoots(ctx context.Context) ([]RootLine, error) {
	roots, err := s.FindRoots(ctx)
	if err != nil {
		return nil, err
	}
	var out []RootLine
	for p, links := range roots {
		for _, l := range links {
			out = append(out, RootLine{Link: l, Path: p})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Link != out[j].Link {
			return out[i].Link < out[j].Link
		}
		return out[i].Path < out[j].Path
	})
	return out, nil
}

// AddIndirectRoot makes link (e.g. a `result` symlink) a GC root by
// creating gcroots/auto/<hash> -> link, like Nix's addIndirectRoot.
func (s *Store) AddIndirectRoot(link string) error {
	abs, err := filepath.Abs(link)
	if err != nil {
		return err
	}
	// Same name as Nix: nixbase32 of sha1 of the link path.
	sum := hash.SumString(hash.SHA1, abs).Base32()
	dir := s.stateDir + "/gcroots/auto"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	tmp := filepath.Join(dir, "."+sum+".tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(abs, tmp); err != nil {
		return fmt.Errorf("creating indirect root: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, sum)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("creating indirect root: %w", err)
	}
	return nil
}
