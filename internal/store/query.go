package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
)

// PathInfo is the metadata of a valid store path (a ValidPaths row plus its
// references).
type PathInfo struct {
	Path             string    // logical store path
	NarHash          hash.Hash // sha256 of the NAR
	NarSize          uint64
	References       []string // sorted logical store paths (may include Path)
	Deriver          string   // .drv path or ""
	RegistrationTime time.Time
	Ultimate         bool     // built locally
	Sigs             []string // "keyname:base64sig"
	CA               string   // "fixed:r:sha256:…", "text:sha256:…" or ""
}

// ErrNotValid is returned (wrapped) for queries on paths that are not valid.
var ErrNotValid = errors.New("path is not valid")

func notValid(p string) error { return fmt.Errorf("%s: %w", p, ErrNotValid) }

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// IsValid reports whether path is registered in the database.
func (s *Store) IsValid(ctx context.Context, path string) (bool, error) {
	_, err := s.pathID(ctx, s.db, path)
	if errors.Is(err, ErrNotValid) {
		return false, nil
	}
	return err == nil, err
}

func (s *Store) pathID(ctx context.Context, q querier, path string) (int64, error) {
	var id int64
	err := q.QueryRowContext(ctx, "select id from ValidPaths where path = ?", path).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notValid(path)
	}
	if err != nil {
		return 0, s.dbErr("querying "+path, err)
	}
	return id, nil
}

// QueryPathInfo returns the metadata of a valid path.
func (s *Store) QueryPathInfo(ctx context.Context, path string) (*PathInfo, error) {
	return s.queryPathInfo(ctx, s.db, path)
}

func (s *Store) queryPathInfo(ctx context.Context, q querier, path string) (*PathInfo, error) {
	var (
		id                int64
		h                 string
		regTime           int64
		deriver, sigs, ca sql.NullString
		narSize           sql.NullInt64
		ultimate          sql.NullInt64
	)
	err := q.QueryRowContext(ctx,
		"select id, hash, registrationTime, deriver, narSize, ultimate, sigs, ca from ValidPaths where path = ?", path).
		Scan(&id, &h, &regTime, &deriver, &narSize, &ultimate, &sigs, &ca)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notValid(path)
	}
	if err != nil {
		return nil, s.dbErr("querying path info of "+path, err)
	}
	nh, err := hash.ParseAnyPrefixed(h)
	if err != nil {
		return nil, fmt.Errorf("store database %s: bad hash for %s: %w", s.dbPath(), path, err)
	}
	info := &PathInfo{
		Path:             path,
		NarHash:          nh,
		NarSize:          uint64(max(narSize.Int64, 0)),
		Deriver:          deriver.String,
		RegistrationTime: time.Unix(regTime, 0),
		Ultimate:         ultimate.Valid && ultimate.Int64 != 0,
		CA:               ca.String,
	}
	if sigs.String != "" {
		info.Sigs = strings.Fields(sigs.String)
	}
	info.References, err = s.queryStrings(ctx, q, "references of "+path,
		"select path from Refs join ValidPaths on reference = id where referrer = ?", id)
	if err != nil {
		return nil, err
	}
	return info, nil
}

func (s *Store) queryStrings(ctx context.Context, q querier, what, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.dbErr("querying "+what, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, s.dbErr("querying "+what, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, s.dbErr("querying "+what, err)
	}
	sort.Strings(out)
	return out, nil
}

// QueryReferences returns the references of a valid path.
func (s *Store) QueryReferences(ctx context.Context, path string) ([]string, error) {
	id, err := s.pathID(ctx, s.db, path)
	if err != nil {
		return nil, err
	}
	return s.queryStrings(ctx, s.db, "references of "+path,
		"select path from Refs join ValidPaths on reference = id where referrer = ?", id)
}

// QueryReferrers returns the valid paths that refer to path.
func (s *Store) QueryReferrers(ctx context.Context, path string) ([]string, error) {
	id, err := s.pathID(ctx, s.db, path)
	if err != nil {
		return nil, err
	}
	return s.queryStrings(ctx, s.db, "referrers of "+path,
		"select path from Refs join ValidPaths on referrer = id where reference = ?", id)
}

// QueryDeriver returns the deriver recorded for path ("" if none).
func (s *Store) QueryDeriver(ctx context.Context, path string) (string, error) {
	info, err := s.QueryPathInfo(ctx, path)
	if err != nil {
		return "", err
	}
	return info.Deriver, nil
}

// QueryValidDerivers returns the valid .drv paths that have path as an output.
func (s *Store) QueryValidDerivers(ctx context.Context, path string) ([]string, error) {
	return s.queryStrings(ctx, s.db, "derivers of "+path,
		"select v.path from DerivationOutputs d join ValidPaths v on d.drv = v.id where d.path = ?", path)
}

// QueryDerivationOutputs returns output name -> path for a valid .drv.
func (s *Store) QueryDerivationOutputs(ctx context.Context, drvPath string) (map[string]string, error) {
	id, err := s.pathID(ctx, s.db, drvPath)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, "select id, path from DerivationOutputs where drv = ?", id)
	if err != nil {
		return nil, s.dbErr("querying outputs of "+drvPath, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, p string
		if err := rows.Scan(&name, &p); err != nil {
			return nil, s.dbErr("querying outputs of "+drvPath, err)
		}
		out[name] = p
	}
	if err := rows.Err(); err != nil {
		return nil, s.dbErr("querying outputs of "+drvPath, err)
	}
	return out, nil
}

// QueryAllValidPaths returns every valid path, sorted.
func (s *Store) QueryAllValidPaths(ctx context.Context) ([]string, error) {
	return s.queryStrings(ctx, s.db, "valid paths", "select path from ValidPaths")
}

// QueryPathFromHashPart returns the valid path with the given 32-char hash
// part, or "" (Nix's `path >= ? limit 1` lookup).
func (s *Store) QueryPathFromHashPart(ctx context.Context, hashPart string) (string, error) {
	prefix := string(s.storeDir) + "/" + hashPart
	var p string
	err := s.db.QueryRowContext(ctx, "select path from ValidPaths where path >= ? limit 1", prefix).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", s.dbErr("querying hash part "+hashPart, err)
	}
	if strings.HasPrefix(p, prefix+"-") {
		return p, nil
	}
	return "", nil
}

// QueryRequisites returns the closure of paths under references (including
// the paths themselves), sorted. With includeOutputs, the outputs of .drv
// paths in the closure are followed too (if valid), like
// `nix-store -qR --include-outputs`.
func (s *Store) QueryRequisites(ctx context.Context, paths []string, includeOutputs bool) ([]string, error) {
	seen := map[string]bool{}
	queue := append([]string(nil), paths...)
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		if seen[p] {
			continue
		}
		refs, err := s.QueryReferences(ctx, p)
		if err != nil {
			return nil, err
		}
		seen[p] = true
		queue = append(queue, refs...)
		if includeOutputs && strings.HasSuffix(p, ".drv") {
			outs, err := s.QueryDerivationOutputs(ctx, p)
			if err != nil {
				return nil, err
			}
			for _, o := range outs {
				if ok, err := s.IsValid(ctx, o); err != nil {
					return nil, err
				} else if ok {
					queue = append(queue, o)
				}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// TopoSort orders paths so that referrers come before their references
// (Nix's topoSortPaths); references outside the set are ignored.
func (s *Store) TopoSort(ctx context.Context, paths []string) ([]string, error) {
	in := map[string]bool{}
	for _, p := range paths {
		in[p] = true
	}
	refs := map[string][]string{}
	for _, p := range paths {
		r, err := s.QueryReferences(ctx, p)
		if err != nil {
			return nil, err
		}
		refs[p] = r
	}
	return topoSort(paths, func(p string) []string { return refs[p] }), nil
}

// topoSort returns paths with every path before the paths it references
// (self references and references outside the set ignored).
func topoSort(paths []string, refsOf func(string) []string) []string {
	in := map[string]bool{}
	for _, p := range paths {
		in[p] = true
	}
	sorted := append([]string(nil), paths...)
	sort.Strings(sorted)
	state := map[string]int{} // 1 visiting, 2 done
	var post []string
	var visit func(string)
	visit = func(p string) {
		if state[p] != 0 {
			return
		}
		state[p] = 1
		for _, r := range refsOf(p) {
			if r != p && in[r] {
				visit(r)
			}
		}
		state[p] = 2
		post = append(post, p)
	}
	for _, p := range sorted {
		visit(p)
	}
	// post has references first; reverse for referrers first.
	for i, j := 0, len(post)-1; i < j; i, j = i+1, j-1 {
		post[i], post[j] = post[j], post[i]
	}
	return post
}
