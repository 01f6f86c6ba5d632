package derivation

import (
	"sort"
	"strings"

	"github.com/onix-dev/onix/internal/nixcompat/internal/nixjson"
)

// ShowJSON renders derivations keyed by drv path exactly as Nix 2.8's
// `nix show-derivation` prints them: Nix's own JSON writer, 2-space indent,
// fields in a fixed (not sorted) order, trailing newline.
func ShowJSON(drvs map[string]*Derivation) []byte {
	w := &jw{}
	paths := make([]string, 0, len(drvs))
	for p := range drvs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	w.open('{')
	for _, p := range paths {
		d := drvs[p]
		w.key(p)
		w.open('{')
		w.key("outputs")
		w.open('{')
		for _, id := range d.OutputNames() {
			o := d.Outputs[id]
			w.key(id)
			w.open('{')
			if o.Path != "" {
				w.key("path")
				w.str(o.Path)
			}
			if o.HashAlgo != "" {
				w.key("hashAlgo")
				w.str(o.HashAlgo)
			}
			if o.Hash != "" && o.Hash != "impure" {
				w.key("hash")
				w.str(o.Hash)
			}
			w.close('}')
		}
		w.close('}')
		w.key("inputSrcs")
		w.open('[')
		for _, s := range sortedSet(d.InputSrcs) {
			w.elem()
			w.str(s)
		}
		w.close(']')
		w.key("inputDrvs")
		w.open('{')
		for _, ip := range sortedKeys(d.InputDrvs) {
			w.key(ip)
			w.open('[')
			for _, o := range sortedSet(d.InputDrvs[ip]) {
				w.elem()
				w.str(o)
			}
			w.close(']')
		}
		w.close('}')
		w.key("system")
		w.str(d.Platform)
		w.key("builder")
		w.str(d.Builder)
		w.key("args")
		w.open('[')
		for _, a := range d.Args {
			w.elem()
			w.str(a)
		}
		w.close(']')
		w.key("env")
		w.open('{')
		for _, k := range sortedKeys(d.Env) {
			w.key(k)
			w.str(d.Env[k])
		}
		w.close('}')
		w.close('}')
	}
	w.close('}')
	w.b.WriteByte('\n')
	return []byte(w.b.String())
}

// jw is a minimal pretty-printer matching Nix's JSONWriter layout: each
// member on its own line, empty containers as {} / [].
type jw struct {
	b     strings.Builder
	count []int // members written per open container
}

func (w *jw) indent() {
	w.b.WriteByte('\n')
	w.b.WriteString(strings.Repeat("  ", len(w.count)))
}

func (w *jw) open(c byte) {
	w.b.WriteByte(c)
	w.count = append(w.count, 0)
}

func (w *jw) close(c byte) {
	n := w.count[len(w.count)-1]
	w.count = w.count[:len(w.count)-1]
	if n > 0 {
		w.indent()
	}
	w.b.WriteByte(c)
}

func (w *jw) elem() {
	if w.count[len(w.count)-1] > 0 {
		w.b.WriteByte(',')
	}
	w.count[len(w.count)-1]++
	w.indent()
}

func (w *jw) key(k string) {
	w.elem()
	w.str(k)
	w.b.WriteString(": ")
}

func (w *jw) str(s string) { nixjson.AppendQuoted(&w.b, s, nixjson.NixWriter) }
