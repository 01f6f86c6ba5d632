package derivation

import (
	"maps"
	"slices"
	"sort"
	"strings"
)

// ATerm serialises d exactly as Nix's Derivation::unparse: a single line,
// no trailing newline, everything sorted, and only builder, args and env
// escaped.
func (d *Derivation) ATerm() []byte {
	return d.unparse(false, nil)
}

// unparse writes the ATerm; mask blanks output paths and output env vars,
// and inputs (when non-nil) replaces inputDrvs (hashDerivationModulo).
func (d *Derivation) unparse(mask bool, inputs map[string][]string) []byte {
	var b strings.Builder
	b.WriteString("Derive([")
	for i, id := range d.OutputNames() {
		o := d.Outputs[id]
		if i > 0 {
			b.WriteByte(',')
		}
		p := o.Path
		if mask {
			p = ""
		}
		b.WriteByte('(')
		raw(&b, id)
		b.WriteByte(',')
		raw(&b, p)
		b.WriteByte(',')
		raw(&b, o.HashAlgo)
		b.WriteByte(',')
		raw(&b, o.Hash)
		b.WriteByte(')')
	}
	b.WriteString("],[")
	if inputs == nil {
		inputs = d.InputDrvs
	}
	for i, p := range sortedKeys(inputs) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		raw(&b, p)
		b.WriteString(",[")
		for j, o := range sortedSet(inputs[p]) {
			if j > 0 {
				b.WriteByte(',')
			}
			raw(&b, o)
		}
		b.WriteString("])")
	}
	b.WriteString("],[")
	for i, s := range sortedSet(d.InputSrcs) {
		if i > 0 {
			b.WriteByte(',')
		}
		raw(&b, s)
	}
	b.WriteString("],")
	raw(&b, d.Platform)
	b.WriteByte(',')
	escaped(&b, d.Builder)
	b.WriteString(",[")
	for i, a := range d.Args {
		if i > 0 {
			b.WriteByte(',')
		}
		escaped(&b, a)
	}
	b.WriteString("],[")
	for i, k := range sortedKeys(d.Env) {
		if i > 0 {
			b.WriteByte(',')
		}
		v := d.Env[k]
		if _, isOut := d.Outputs[k]; mask && isOut {
			v = ""
		}
		b.WriteByte('(')
		escaped(&b, k)
		b.WriteByte(',')
		escaped(&b, v)
		b.WriteByte(')')
	}
	b.WriteString("])")
	return []byte(b.String())
}

func raw(b *strings.Builder, s string) {
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}

// escaped writes s quoted with Nix's printString escapes: only ", \, LF,
// CR and TAB; every other byte is copied raw.
func escaped(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// sortedSet returns s sorted and deduplicated (Nix stores these as sets).
func sortedSet(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	w := 0
	for i, v := range out {
		if i > 0 && v == out[w-1] {
			continue
		}
		out[w] = v
		w++
	}
	return out[:w]
}
