package eval

// Symbol is an interned identifier or attribute name, valid within one
// Evaluator.
type Symbol uint32

// symtab interns strings; owned by one Evaluator.
type symtab struct {
	ids   map[string]Symbol
	names []string
	vals  []*Value // string values of the names, made on demand (NameValue)
}

func newSymtab() *symtab {
	return &symtab{ids: make(map[string]Symbol, 1024), names: make([]string, 0, 1024)}
}

// Intern returns s's symbol, creating it if needed.
func (t *symtab) Intern(s string) Symbol {
	if id, ok := t.ids[s]; ok {
		return id
	}
	id := Symbol(len(t.names))
	t.names = append(t.names, s)
	t.ids[s] = id
	return id
}

// Lookup returns s's symbol if it was interned.
func (t *symtab) Lookup(s string) (Symbol, bool) {
	id, ok := t.ids[s]
	return id, ok
}

// Name returns a symbol's text.
func (t *symtab) Name(s Symbol) string { return t.names[s] }

// NameValue returns a symbol's text as a string value, shared by all uses
// (string values are never updated in place).
func (t *symtab) NameValue(s Symbol) *Value {
	if int(s) < len(t.vals) {
		if v := t.vals[s]; v != nil {
			return v
		}
	} else {
		t.vals = append(t.vals, make([]*Value, len(t.names)-len(t.vals))...)
	}
	v := MkString(t.names[s])
	t.vals[s] = v
	return v
}
