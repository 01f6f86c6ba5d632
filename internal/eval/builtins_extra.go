package eval

import (
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/onix-dev/onix/internal/eval/syntax"
	"github.com/onix-dev/onix/internal/nixcompat/hash"
)

// registerExtra adds builtins of current Nix that Nix 2.8 lacks: break,
// warn, readFileType, convertHash, flakeRefToString, parseFlakeRef.
func registerExtra(r *registry) {
	// Without a debugger, break is the identity.
	r.Add("break", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value { return a[0] })
	r.Add("__warn", 2, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		ev.force(a[0])
		if a[0].kind != KString {
			ev.errorAt(pos, "expected a string but found %s: while evaluating the first argument; the message passed to builtins.warn", a[0].TypeName())
		}
		msg := a[0].Str()
		fmt.Fprintln(ev.opts.Stderr, syntax.Indent("evaluation warning: ", msg))
		return a[1]
	})
	r.Add("__readFileType", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		p, _ := ev.CoerceToPath(pos, a[0])
		st, err := os.Lstat(p)
		if err != nil {
			ev.errorAt(pos, "getting status of '%s': %s", p, errnoText(err))
		}
		return MkString(fileTypeName(st.Mode()))
	})
	r.Add("__convertHash", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		args := ev.ForceAttrs(pos, a[0])
		hv, ok := args.Get(ev.syms.Intern("hash"))
		if !ok {
			ev.errorAt(pos, "attribute 'hash' missing")
		}
		hs := ev.ForceStringNoCtx(pos, hv.Val)
		algo := hash.Unknown
		if av, ok := args.Get(ev.syms.Intern("hashAlgo")); ok {
			an := ev.ForceStringNoCtx(pos, av.Val)
			al, err := hash.ParseAlgo(an)
			if err != nil {
				ev.errorAt(pos, "unknown hash algorithm '%s', expect 'blake3', 'md5', 'sha1', 'sha256', or 'sha512'", an)
			}
			algo = al
		}
		fv, ok := args.Get(ev.syms.Intern("toHashFormat"))
		if !ok {
			ev.errorAt(pos, "attribute 'toHashFormat' missing")
		}
		format := ev.ForceStringNoCtx(pos, fv.Val)
		var enc hash.Encoding
		switch format {
		case "base16":
			enc = hash.Base16
		case "nix32", "base32":
			enc = hash.Base32
		case "base64":
			enc = hash.Base64
		case "sri":
			enc = hash.SRI
		default:
			ev.errorAt(pos, "unknown hash format '%s', expect 'base16', 'base32', 'base64', or 'sri'", format)
		}
		h, err := hash.ParseAny(hs, algo)
		if err != nil {
			ev.errorAt(pos, "%s", err)
		}
		return MkString(h.Encode(enc, enc == hash.SRI))
	})
	r.Add("__parseFlakeRef", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		s := ev.ForceStringNoCtx(pos, a[0])
		m, err := parseFlakeRef(s)
		if err != nil {
			ev.errorAt(pos, "%s", err)
		}
		b := ev.NewAttrsBuilder(len(m))
		for k, v := range m {
			b.Set(k, MkString(v))
		}
		return b.Value()
	})
	r.Add("__flakeRefToString", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		attrs := ev.ForceAttrs(pos, a[0])
		m := map[string]string{}
		for _, at := range attrs.list {
			ev.force(at.Val)
			name := ev.syms.Name(at.Name)
			switch at.Val.kind {
			case KString:
				m[name] = at.Val.Str()
			case KInt:
				if at.Val.n < 0 {
					ev.errorAt(pos, "negative value given for flake ref attr %s: %d", name, at.Val.n)
				}
				m[name] = fmt.Sprint(at.Val.n)
			case KBool:
				if at.Val.n != 0 {
					m[name] = "1"
				} else {
					m[name] = "0"
				}
			default:
				ev.errorAt(pos, "flake reference attribute sets may only contain integers, Booleans, and strings, but attribute '%s' is %s", name, at.Val.TypeName())
			}
		}
		s, err := flakeRefToString(m)
		if err != nil {
			ev.errorAt(pos, "%s", err)
		}
		return MkString(s)
	})
}

func fileTypeName(m os.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular"
	case m.IsDir():
		return "directory"
	case m&os.ModeSymlink != 0:
		return "symlink"
	}
	return "unknown"
}

// parseFlakeRef handles the common flake reference forms: github:,
// gitlab:, sourcehut:, path:, git+*, tarball / file URLs, absolute paths
// and indirect ids (nixpkgs, nixpkgs/ref).
func parseFlakeRef(s string) (map[string]string, error) {
	m := map[string]string{}
	base, query, _ := strings.Cut(s, "?")
	params, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("invalid flake reference '%s'", s)
	}
	for k, v := range params {
		if len(v) > 0 {
			m[k] = v[len(v)-1]
		}
	}
	scheme, rest, hasScheme := strings.Cut(base, ":")
	switch {
	case hasScheme && (scheme == "github" || scheme == "gitlab" || scheme == "sourcehut"):
		parts := strings.Split(rest, "/")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("'%s' is not a valid URL", s)
		}
		m["type"], m["owner"], m["repo"] = scheme, parts[0], parts[1]
		if len(parts) == 3 {
			if isRev(parts[2]) {
				m["rev"] = parts[2]
			} else {
				m["ref"] = parts[2]
			}
		}
	case strings.HasPrefix(base, "/") || hasScheme && scheme == "path":
		m["type"] = "path"
		m["path"] = strings.TrimPrefix(base, "path:")
	case hasScheme && strings.HasPrefix(scheme, "git+"):
		m["type"] = "git"
		m["url"] = strings.TrimPrefix(scheme, "git+") + ":" + rest
	case hasScheme && (scheme == "http" || scheme == "https" || scheme == "file" || strings.HasPrefix(scheme, "tarball+") || strings.HasPrefix(scheme, "file+")):
		u := base
		t := "tarball"
		switch {
		case strings.HasPrefix(scheme, "tarball+"):
			u = strings.TrimPrefix(base, "tarball+")
		case strings.HasPrefix(scheme, "file+"):
			u, t = strings.TrimPrefix(base, "file+"), "file"
		}
		m["type"], m["url"] = t, u
	case hasScheme && scheme == "flake":
		return parseIndirect(rest, m, s)
	case !hasScheme:
		return parseIndirect(base, m, s)
	default:
		return nil, fmt.Errorf("input type '%s' is unsupported", scheme)
	}
	return m, nil
}

func parseIndirect(rest string, m map[string]string, s string) (map[string]string, error) {
	parts := strings.Split(rest, "/")
	if len(parts) > 3 || parts[0] == "" {
		return nil, fmt.Errorf("'%s' is not a valid URL", s)
	}
	m["type"], m["id"] = "indirect", parts[0]
	for _, p := range parts[1:] {
		if isRev(p) {
			m["rev"] = p
		} else {
			m["ref"] = p
		}
	}
	return m, nil
}

func isRev(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("0123456789abcdef", rune(s[i])) {
			return false
		}
	}
	return true
}

// flakeRefToString renders the attribute form of a flake reference.
func flakeRefToString(m map[string]string) (string, error) {
	t := m["type"]
	query := func(skip ...string) string {
		var keys []string
	outer:
		for k := range m {
			for _, s := range skip {
				if k == s {
					continue outer
				}
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var q []string
		for _, k := range keys {
			q = append(q, url.QueryEscape(k)+"="+url.QueryEscape(m[k]))
		}
		if len(q) == 0 {
			return ""
		}
		return "?" + strings.Join(q, "&")
	}
	switch t {
	case "github", "gitlab", "sourcehut":
		s := t + ":" + m["owner"] + "/" + m["repo"]
		if r := m["rev"]; r != "" {
			s += "/" + r
		} else if r := m["ref"]; r != "" {
			s += "/" + r
		}
		return s + query("type", "owner", "repo", "ref", "rev"), nil
	case "indirect":
		s := "flake:" + m["id"]
		if r := m["ref"]; r != "" {
			s += "/" + r
		}
		if r := m["rev"]; r != "" {
			s += "/" + r
		}
		return s + query("type", "id", "ref", "rev"), nil
	case "path":
		return "path:" + m["path"] + query("type", "path"), nil
	case "git", "tarball", "file":
		return t + "+" + m["url"] + query("type", "url"), nil
	case "":
		return "", fmt.Errorf("attribute 'type' missing in flake reference")
	}
	return "", fmt.Errorf("input type '%s' is unsupported", t)
}
