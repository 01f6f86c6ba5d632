package derivation

import (
	"sort"

	"github.com/onix-dev/onix/internal/nixcompat/nixjson"
)

// ShowJSON renders derivations keyed by drv path exactly as Nix 2.8's
// `nix show-derivation` prints them: Nix's own JSON writer, 2-space indent,
// fields in a fixed (not sorted) order, trailing newline.
func ShowJSON(drvs map[string]*Derivation) []byte {
	w := &nixjson.Writer{Style: nixjson.NixWriter}
	paths := make([]string, 0, len(drvs))
	for p := range drvs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	w.Open('{')
	for _, p := range paths {
		d := drvs[p]
		w.Key(p)
		w.Open('{')
		w.Key("outputs")
		w.Open('{')
		for _, id := range d.OutputNames() {
			o := d.Outputs[id]
			w.Key(id)
			w.Open('{')
			if o.Path != "" {
				w.Key("path")
				w.Str(o.Path)
			}
			if o.HashAlgo != "" {
				w.Key("hashAlgo")
				w.Str(o.HashAlgo)
			}
			if o.Hash != "" && o.Hash != "impure" {
				w.Key("hash")
				w.Str(o.Hash)
			}
			w.Close('}')
		}
		w.Close('}')
		w.Key("inputSrcs")
		w.Open('[')
		for _, s := range sortedSet(d.InputSrcs) {
			w.Elem()
			w.Str(s)
		}
		w.Close(']')
		w.Key("inputDrvs")
		w.Open('{')
		for _, ip := range sortedKeys(d.InputDrvs) {
			w.Key(ip)
			w.Open('[')
			for _, o := range sortedSet(d.InputDrvs[ip]) {
				w.Elem()
				w.Str(o)
			}
			w.Close(']')
		}
		w.Close('}')
		w.Key("system")
		w.Str(d.Platform)
		w.Key("builder")
		w.Str(d.Builder)
		w.Key("args")
		w.Open('[')
		for _, a := range d.Args {
			w.Elem()
			w.Str(a)
		}
		w.Close(']')
		w.Key("env")
		w.Open('{')
		for _, k := range sortedKeys(d.Env) {
			w.Key(k)
			w.Str(d.Env[k])
		}
		w.Close('}')
		w.Close('}')
	}
	w.Close('}')
	w.Raw("\n")
	return w.Bytes()
}
