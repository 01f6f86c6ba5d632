package eval

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

func registerTOML(r *registry) {
	r.Add("__fromTOML", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		s, _ := ev.ForceString(pos, a[0])
		v, err := ev.fromTOML(s)
		if err != nil {
			ev.errorAt(pos, "while parsing TOML: %s", err)
		}
		return v
	})
}

// HasFeature reports whether an experimental feature is enabled.
func (ev *Evaluator) HasFeature(name string) bool {
	for _, f := range ev.opts.Features {
		if f == name {
			return true
		}
	}
	return false
}

// fromTOML parses a TOML 1.0 document into a Nix value. Dates and times are
// rejected unless the parse-toml-timestamps feature is on; then they become
// { _type = "timestamp"; value = "<toml11 formatting>"; }.
func (ev *Evaluator) fromTOML(s string) (v *Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(*Error); ok {
				panic(e)
			}
			err = fmt.Errorf("%v", r)
		}
	}()
	doc, err := decodeTOMLClampingRadixInts(s)
	if err != nil {
		return nil, err
	}
	timestamps := ev.HasFeature("parse-toml-timestamps")
	var conv func(x any) (*Value, error)
	conv = func(x any) (*Value, error) {
		switch x := x.(type) {
		case string:
			if err := checkNul(x); err != nil {
				return nil, err
			}
			return MkString(x), nil
		case int64:
			return MkInt(x), nil
		case float64:
			return MkFloat(x), nil
		case bool:
			return MkBool(x), nil
		case time.Time:
			if !timestamps {
				return nil, fmt.Errorf("Dates and times are not supported")
			}
			b := ev.NewAttrsBuilder(2)
			b.Set("_type", MkString("timestamp"))
			b.Set("value", MkString(formatTOMLTime(x)))
			return b.Value(), nil
		case []map[string]any:
			out := make([]*Value, len(x))
			for i, e := range x {
				v, err := conv(e)
				if err != nil {
					return nil, err
				}
				out[i] = v
			}
			return MkList(out), nil
		case []any:
			out := make([]*Value, len(x))
			for i, e := range x {
				v, err := conv(e)
				if err != nil {
					return nil, err
				}
				out[i] = v
			}
			return MkList(out), nil
		case map[string]any:
			b := ev.NewAttrsBuilder(len(x))
			for k, e := range x {
				if err := checkNul(k); err != nil {
					return nil, err
				}
				v, err := conv(e)
				if err != nil {
					return nil, err
				}
				b.Set(k, v)
			}
			return b.Value(), nil
		}
		return nil, fmt.Errorf("unsupported TOML value %T", x)
	}
	if doc == nil {
		doc = map[string]any{}
	}
	return conv(doc)
}

// decodeTOMLClampingRadixInts decodes a TOML document. A hexadecimal, octal
// or binary integer beyond int64 becomes the largest int64, as Nix 2.8's
// TOML parser did; nixpkgs lib relies on it (lib.fromHexString of a sha256
// is documented to give 9223372036854775807, and lib/tests/misc.nix checks
// it). A decimal integer out of range stays an error, as in current Nix
// (eval-fail-fromTOML-overflow).
func decodeTOMLClampingRadixInts(s string) (map[string]any, error) {
	const maxInt = "9223372036854775807"
	for range 1000 {
		var doc map[string]any
		_, err := toml.Decode(s, &doc)
		var pe toml.ParseError
		if err == nil || !errors.As(err, &pe) || !strings.Contains(pe.Message, "out of range for int64") {
			return doc, err
		}
		start, end := pe.Position.Start, pe.Position.Start+pe.Position.Len
		if start < 0 || end > len(s) || end-start < 3 {
			return nil, err
		}
		switch lit := s[start:end]; lit[:2] {
		case "0x", "0o", "0b":
			s = s[:start] + maxInt + s[end:]
		default:
			return nil, err
		}
	}
	return nil, fmt.Errorf("too many out-of-range integers")
}

func checkNul(s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("error: input string '%s' cannot be represented as Nix string because it contains null bytes", strings.ReplaceAll(s, "\x00", "␀"))
	}
	return nil
}

// formatTOMLTime prints a TOML date/time the way toml11 (Nix's parser)
// does: fractional seconds padded to milli-, micro- or nanoseconds, "T" as
// separator, "Z" for a zero offset.
func formatTOMLTime(t time.Time) string {
	zone, off := t.Zone()
	date := fmt.Sprintf("%04d-%02d-%02d", t.Year(), int(t.Month()), t.Day())
	clock := fmt.Sprintf("%02d:%02d:%02d", t.Hour(), t.Minute(), t.Second())
	if ns := t.Nanosecond(); ns != 0 {
		switch {
		case ns%1000000 == 0:
			clock += fmt.Sprintf(".%03d", ns/1000000)
		case ns%1000 == 0:
			clock += fmt.Sprintf(".%06d", ns/1000)
		default:
			clock += fmt.Sprintf(".%09d", ns)
		}
	}
	switch zone {
	case "date-local":
		return date
	case "time-local":
		return clock
	case "datetime-local":
		return date + "T" + clock
	}
	if off == 0 {
		return date + "T" + clock + "Z"
	}
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	return fmt.Sprintf("%sT%s%c%02d:%02d", date, clock, sign, off/3600, off/60%60)
}
