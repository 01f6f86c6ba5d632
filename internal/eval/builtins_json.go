package eval

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/onix-dev/onix/internal/eval/syntax"
	"github.com/onix-dev/onix/internal/nixcompat/nixjson"
)

func registerJSON(r *registry) {
	r.Add("__toJSON", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		var b strings.Builder
		var ctx []string
		ev.toJSON(&b, a[0], pos, &ctx, true)
		return MkStringCtx(b.String(), NewContext(ctx...))
	})
	r.Add("__fromJSON", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		s, _ := ev.ForceString(pos, a[0])
		if v, ok := ev.fromJSONFast(s); ok {
			return v
		}
		d := json.NewDecoder(bytes.NewReader([]byte(s)))
		d.UseNumber()
		var x any
		if err := d.Decode(&x); err != nil {
			ev.errorAt(pos, "%s", err)
		}
		if d.More() {
			ev.errorAt(pos, "trailing garbage in JSON")
		}
		return ev.fromJSONValue(x, pos)
	})
}

func (ev *Evaluator) fromJSONValue(x any, pos syntax.Pos) *Value {
	switch x := x.(type) {
	case nil:
		return valNull
	case bool:
		return MkBool(x)
	case string:
		ev.noNullByte(pos, x)
		return MkString(x)
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return MkInt(i)
		}
		if _, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			ev.errorAt(pos, "unsigned json number %s outside of Nix integer range", x)
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			ev.errorAt(pos, "bad JSON number %s", x)
		}
		return MkFloat(f)
	case []any:
		out := make([]*Value, len(x))
		for i, e := range x {
			out[i] = ev.fromJSONValue(e, pos)
		}
		return MkList(out)
	case map[string]any:
		b := ev.NewAttrsBuilder(len(x))
		for k, e := range x {
			ev.noNullByte(pos, k)
			b.Set(k, ev.fromJSONValue(e, pos))
		}
		return b.Value()
	}
	return valNull
}

// noNullByte rejects strings Nix cannot represent (Nix's forceNoNullByte).
func (ev *Evaluator) noNullByte(pos syntax.Pos, s string) {
	if strings.IndexByte(s, 0) >= 0 {
		ev.errorAt(pos, "input string '%s' cannot be represented as Nix string because it contains null bytes", strings.ReplaceAll(s, "\x00", "\u2400"))
	}
}

// ToJSON renders v as JSON (forcing it), as builtins.toJSON / --json.
func (ev *Evaluator) ToJSON(v *Value, copyToStore bool) (s string, err error) {
	err = ev.catch(func() {
		var b strings.Builder
		var ctx []string
		ev.toJSON(&b, v, syntax.Pos{}, &ctx, copyToStore)
		s = b.String()
	})
	return
}

// jsonString writes s as toJSON does: nlohmann::json's escaping (Nix's
// toJSON goes through it), bytes >= 0x80 unchanged.
func jsonString(b *strings.Builder, s string) {
	nixjson.AppendQuoted(b, s, nixjson.Nlohmann)
}

func (ev *Evaluator) toJSON(b *strings.Builder, v *Value, pos syntax.Pos, ctx *[]string, copyToStore bool) {
	// The attribute path being printed is kept in a slice rather than in a
	// deferred recover per level: re-panicking through thousands of
	// levels is quadratic in Go.
	var path []Attr
	depth, jsonDepth := ev.depth, ev.jsonDepth
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(*Error); ok {
				for i := len(path) - 1; i >= 0; i-- {
					e.Trace = append(e.Trace, Frame{Pos: derefPos(path[i].Pos), Msg: "while evaluating attribute '" + ev.syms.Name(path[i].Name) + "'"})
				}
			}
			ev.depth, ev.jsonDepth = depth, jsonDepth
			panic(r)
		}
	}()
	ev.toJSON1(b, v, pos, ctx, copyToStore, &path)
}

func (ev *Evaluator) toJSON1(b *strings.Builder, v *Value, pos syntax.Pos, ctx *[]string, copyToStore bool, path *[]Attr) {
	// nesting counts as call depth, as Nix's addCallDepth.
	ev.depth++
	ev.jsonDepth++
	if ev.depth > ev.opts.MaxCallDepth || ev.jsonDepth > ev.opts.MaxNestingDepth {
		panic(&Error{Kind: ErrStackOverflow, Msg: "stack overflow; max-call-depth exceeded", Pos: pos})
	}
	ev.toJSON2(b, v, pos, ctx, copyToStore, path)
	ev.depth--
	ev.jsonDepth--
}

func (ev *Evaluator) toJSON2(b *strings.Builder, v *Value, pos syntax.Pos, ctx *[]string, copyToStore bool, path *[]Attr) {
	ev.force(v)
	switch v.kind {
	case KNull:
		b.WriteString("null")
	case KBool:
		if v.n != 0 {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case KInt:
		b.WriteString(strconv.FormatInt(v.n, 10))
	case KFloat:
		b.WriteString(jsonFloat(v.Float()))
	case KString:
		if c := v.Context(); c != nil {
			*ctx = append(*ctx, c.Elems...)
		}
		ev.jsonUTF8(pos, v.Str())
		jsonString(b, v.Str())
	case KPath:
		var sb strBuf
		ev.coerce(pos, v, &sb, coerceOpts{copyToStore: copyToStore})
		*ctx = append(*ctx, sb.ctx...)
		jsonString(b, string(sb.b))
	case KAttrs:
		if _, ok := v.Attrs().Get(ev.sToString); ok {
			var sb strBuf
			ev.coerce(pos, v, &sb, coerceOpts{copyToStore: copyToStore})
			*ctx = append(*ctx, sb.ctx...)
			jsonString(b, string(sb.b))
			return
		}
		if o, ok := v.Attrs().Get(ev.sOutPath); ok {
			ev.toJSON1(b, o.Val, pos, ctx, copyToStore, path)
			return
		}
		b.WriteByte('{')
		for i, a := range ev.sortedAttrs(v.Attrs()) {
			if i > 0 {
				b.WriteByte(',')
			}
			jsonString(b, ev.syms.Name(a.Name))
			b.WriteByte(':')
			*path = append(*path, a)
			ev.toJSON1(b, a.Val, pos, ctx, copyToStore, path)
			*path = (*path)[:len(*path)-1]
		}
		b.WriteByte('}')
	case KList:
		b.WriteByte('[')
		for i, e := range v.List() {
			if i > 0 {
				b.WriteByte(',')
			}
			ev.toJSON1(b, e, pos, ctx, copyToStore, path)
		}
		b.WriteByte(']')
	default:
		ev.errorAt(pos, "cannot convert %s to JSON", v.TypeName())
	}
}

// jsonUTF8 rejects strings that are not UTF-8, as nlohmann::json does.
func (ev *Evaluator) jsonUTF8(pos syntax.Pos, s string) {
	if utf8.ValidString(s) {
		return
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			ev.errorAt(pos, "JSON serialization error: [json.exception.type_error.316] invalid UTF-8 byte at index %d: 0x%02X", i, s[i])
		}
		i += n
	}
}

func jsonFloat(f float64) string {
	return strconv.FormatFloat(f, 'g', -1, 64)
}
