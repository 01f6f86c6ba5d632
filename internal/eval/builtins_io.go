package eval

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"strings"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

func registerIO(r *registry) {
	r.Add("__getEnv", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		return MkString(ev.opts.Getenv(ev.ForceStringNoCtx(pos, a[0])))
	})
	r.Add("__pathExists", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		p, _ := ev.CoerceToPath(pos, a[0])
		// a string ending in "/" or "/." must name a directory
		mustBeDir := a[0].kind == KString && (strings.HasSuffix(a[0].Str(), "/") || strings.HasSuffix(a[0].Str(), "/."))
		if mustBeDir {
			st, err := os.Stat(canonPath(p))
			return MkBool(err == nil && st.IsDir())
		}
		_, err := os.Lstat(canonPath(p)) // a dangling symlink exists
		return MkBool(err == nil)
	})
	r.Add("__readFile", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		p, _ := ev.CoerceToPath(pos, a[0])
		b, err := os.ReadFile(p)
		if err != nil {
			ev.errorAt(pos, "opening file '%s': %s", p, errnoText(err))
		}
		return MkString(string(b))
	})
	r.Add("__readDir", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		p, _ := ev.CoerceToPath(pos, a[0])
		ents, err := os.ReadDir(p)
		if err != nil {
			ev.errorAt(pos, "opening directory '%s': %s", p, errnoText(err))
		}
		b := ev.NewAttrsBuilder(len(ents))
		for _, e := range ents {
			t := "unknown"
			m := e.Type()
			switch {
			case m.IsDir():
				t = "directory"
			case m.IsRegular():
				t = "regular"
			case m&os.ModeSymlink != 0:
				t = "symlink"
			}
			b.Set(e.Name(), MkString(t))
		}
		return b.Value()
	})
	r.Add("__hashString", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		algo := ev.ForceStringNoCtx(pos, a[0])
		s, _ := ev.ForceString(pos, a[1])
		h := newHash(algo)
		if h == nil {
			ev.errorAt(pos, "unknown hash algorithm '%s'", algo)
		}
		h.Write([]byte(s))
		return MkString(hex.EncodeToString(h.Sum(nil)))
	})
	r.Add("__hashFile", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		algo := ev.ForceStringNoCtx(pos, a[0])
		p, _ := ev.CoerceToPath(pos, a[1])
		h := newHash(algo)
		if h == nil {
			ev.errorAt(pos, "unknown hash algorithm '%s'", algo)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			ev.errorAt(pos, "opening file '%s': %s", p, errnoText(err))
		}
		h.Write(b)
		return MkString(hex.EncodeToString(h.Sum(nil)))
	})
	r.Add("__toPath", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		p, c := ev.CoerceToPath(pos, a[0])
		return MkStringCtx(canonPath(p), c)
	})
	r.Add("__trace", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		ev.force(a[0])
		if a[0].kind == KString {
			fmt.Fprintf(ev.opts.Stderr, "trace: %s\n", a[0].Str())
		} else {
			fmt.Fprintf(ev.opts.Stderr, "trace: %s\n", ev.printValue(a[0], false))
		}
		return a[1]
	})
	_ = filepath.Join
}

func newHash(algo string) hash.Hash {
	switch algo {
	case "md5":
		return md5.New()
	case "sha1":
		return sha1.New()
	case "sha256":
		return sha256.New()
	case "sha512":
		return sha512.New()
	}
	return nil
}
