package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/nar"
	"github.com/onix-dev/onix/internal/nixcompat/nixbase32"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

// ServerPriority is the Priority a store-backed server advertises, like
// nix-serve.
const ServerPriority = 30

// Server serves a binary cache over HTTP. With Store set it behaves like
// nix-serve: narinfos are generated from the store database (signed with
// SignKey if set) and NARs are dumped on the fly, uncompressed. With Dir set
// it serves an on-disk file:// cache as is, and with Writable also accepts
// uploads (PUT) like an HTTP binary cache Nix copies to; see servePut.
// Otherwise only GET and HEAD are allowed.
type Server struct {
	Store   LocalStore
	Dir     string
	SignKey *SecretKey
	// Writable allows PUT into Dir.
	Writable bool
	// WriteAuth, if set, is the credential uploads need: a bearer token,
	// or "user:password" for HTTP basic auth (as from a netrc file).
	WriteAuth string
	Logf      func(format string, args ...any)
}

func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut {
		s.servePut(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if s.Writable && s.Dir != "" {
			w.Header().Set("Allow", "GET, HEAD, PUT")
		} else {
			w.Header().Set("Allow", "GET, HEAD")
		}
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	if err := checkName(name); err != nil {
		http.NotFound(w, r)
		return
	}
	if s.Store != nil {
		s.serveStore(w, r, name)
		return
	}
	s.serveDir(w, r, name)
}

func contentTypeFor(name string) string {
	switch {
	case name == CacheInfoFile:
		return contentTypeCacheInfo
	case strings.HasSuffix(name, ".narinfo"):
		return contentTypeNarInfo
	case strings.HasPrefix(name, "nar/"):
		return contentTypeNAR
	case strings.HasSuffix(name, ".ls"):
		return "application/json"
	}
	return "application/octet-stream"
}

func (s *Server) serveDir(w http.ResponseWriter, r *http.Request, name string) {
	for _, seg := range strings.Split(name, "/") {
		if strings.HasPrefix(seg, ".") { // in-progress uploads, hidden files
			http.NotFound(w, r)
			return
		}
	}
	p := filepath.Join(s.Dir, filepath.FromSlash(name))
	f, err := os.Open(p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.logf("cache serve: %v", err)
		}
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", contentTypeFor(name))
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

func (s *Server) serveStore(w http.ResponseWriter, r *http.Request, name string) {
	ctx := r.Context()
	sd := s.Store.StoreDir()
	switch {
	case name == CacheInfoFile:
		ci := CacheInfo{StoreDir: string(sd), WantMassQuery: true, Priority: ServerPriority, HasPriority: true}
		w.Header().Set("Content-Type", contentTypeCacheInfo)
		w.Write(ci.Bytes())
	case strings.HasSuffix(name, ".narinfo") && !strings.Contains(name, "/"):
		hp := strings.TrimSuffix(name, ".narinfo")
		ni, err := s.narInfo(ctx, hp)
		if err != nil {
			s.notFoundOrError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", contentTypeNarInfo)
		w.Write([]byte(ni.String()))
	case strings.HasPrefix(name, "nar/") && strings.HasSuffix(name, ".nar"):
		base := strings.TrimSuffix(strings.TrimPrefix(name, "nar/"), ".nar")
		hp, narHash, _ := strings.Cut(base, "-")
		path, err := s.lookup(ctx, hp)
		if err != nil {
			s.notFoundOrError(w, r, err)
			return
		}
		pi, err := s.Store.QueryPathInfo(ctx, path)
		if err != nil {
			s.notFoundOrError(w, r, err)
			return
		}
		if narHash != "" && narHash != pi.NarHash.Encode(hash.Base32, false) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", contentTypeNAR)
		w.Header().Set("Content-Length", strconv.FormatUint(pi.NarSize, 10))
		if r.Method == http.MethodHead {
			return
		}
		if err := nar.DumpPath(ctx, w, s.Store.RealPath(path), nil); err != nil {
			// Headers are gone; aborting the connection makes the client
			// see a short body instead of a silently corrupt NAR.
			s.logf("cache serve: dumping %s: %v", path, err)
			panic(http.ErrAbortHandler)
		}
	default:
		http.NotFound(w, r)
	}
}

var errNoSuchPath = errors.New("no such path")

func (s *Server) notFoundOrError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errNoSuchPath) {
		http.NotFound(w, r)
		return
	}
	s.logf("cache serve: %s: %v", r.URL.Path, err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

func (s *Server) lookup(ctx context.Context, hashPart string) (string, error) {
	if storepath.ValidateHashPart(hashPart) != nil {
		return "", errNoSuchPath
	}
	p, err := s.Store.QueryPathFromHashPart(ctx, hashPart)
	if err != nil {
		return "", err
	}
	if p == "" {
		return "", errNoSuchPath
	}
	return p, nil
}

func (s *Server) narInfo(ctx context.Context, hashPart string) (*NarInfo, error) {
	path, err := s.lookup(ctx, hashPart)
	if err != nil {
		return nil, err
	}
	pi, err := s.Store.QueryPathInfo(ctx, path)
	if err != nil {
		return nil, err
	}
	ni := narInfoFromPathInfo(pi)
	ni.URL = "nar/" + hashPart + "-" + nixbase32.EncodeToString(pi.NarHash.Digest) + ".nar"
	ni.Compression = CompressionNone
	ni.FileHash, ni.FileSize = pi.NarHash, pi.NarSize
	if s.SignKey != nil {
		if err := ni.Sign(s.Store.StoreDir(), *s.SignKey); err != nil {
			return nil, err
		}
	}
	return ni, nil
}

// ListenAndServe serves s on addr until ctx is cancelled. ready, if not
// nil, is called with the bound address once listening.
func ListenAndServe(ctx context.Context, addr string, h http.Handler, ready func(net.Addr)) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr())
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serving on %s: %w", addr, err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	}
}
