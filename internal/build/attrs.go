package build

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/onix-dev/onix/internal/nixcompat/derivation"
)

// drvAttrs gives typed access to a derivation's attributes the way Nix
// 2.8's ParsedDerivation does: from the environment, or from the
// structured attributes (__json) when the derivation has them.
type drvAttrs struct {
	drvPath string
	env     map[string]string
	// structured is the parsed __json (numbers as json.Number), nil for an
	// ordinary derivation.
	structured map[string]any
}

func parseDrvAttrs(drvPath string, drv *derivation.Derivation) (*drvAttrs, error) {
	a := &drvAttrs{drvPath: drvPath, env: drv.Env}
	if j, ok := drv.Env["__json"]; ok {
		dec := json.NewDecoder(strings.NewReader(j))
		dec.UseNumber()
		if err := dec.Decode(&a.structured); err != nil {
			return nil, fmt.Errorf("cannot process __json attribute of '%s': %w", filepath.Base(drvPath), err)
		}
		if a.structured == nil {
			a.structured = map[string]any{}
		}
	}
	return a, nil
}

// strings is ParsedDerivation::getStringsAttr: a list of strings (a
// whitespace-separated environment variable), and whether it is set at all
// (an empty list is not the same as no list).
func (a *drvAttrs) strings(name string) ([]string, bool, error) {
	if a.structured == nil {
		v, ok := a.env[name]
		if !ok {
			return nil, false, nil
		}
		return nixTokens(v), true, nil
	}
	v, ok := a.structured[name]
	if !ok {
		return nil, false, nil
	}
	l, err := stringList(v)
	if err != nil {
		return nil, true, fmt.Errorf("attribute '%s' of derivation '%s' must be a list of strings", name, filepath.Base(a.drvPath))
	}
	return l, true, nil
}

// stringList converts a JSON list of strings.
func stringList(v any) ([]string, error) {
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("not a list")
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("not a list of strings")
		}
		out = append(out, s)
	}
	return out, nil
}

// jsonElems is iteration over a JSON value as nlohmann's does it: the
// elements of an array or the values of an object; any other value yields
// itself once.
func jsonElems(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case map[string]any:
		out := make([]any, 0, len(x))
		for _, k := range sortedKeys(x) {
			out = append(out, x[k])
		}
		return out
	case nil:
		return nil
	}
	return []any{v}
}

// nixTokens is Nix's tokenizeString with the default separators.
func nixTokens(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' })
}
