// Package flakelock reads and writes flake.lock files (versions 5–7)
// byte-identically to Nix 2.8, which serialises through nlohmann::json:
// keys sorted byte-wise, 2-space indent, ": " separators, final newline.
package flakelock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/onix-dev/onix/internal/nixcompat/internal/nixjson"
)

// Lock is a parsed flake.lock.
type Lock struct {
	Version int
	Root    string
	Nodes   map[string]*Node
}

// Node is one lock node. The root node has only Inputs.
type Node struct {
	Inputs   map[string]Input
	Locked   Attrs // nil for the root node
	Original Attrs
	// Flake is false for non-flake inputs; Nix writes the key only then.
	Flake bool
}

// Input is either a node key or a "follows" path from the root.
type Input struct {
	Node    string
	Follows []string // non-nil means follows
}

// Attrs are fetcher attributes; values are string, int64 or bool (as in
// Nix's fetchers::Attrs).
type Attrs map[string]any

// Parse parses a flake.lock. It rejects unsupported versions, dangling node
// references and attribute values Nix cannot represent.
func Parse(data []byte) (*Lock, error) {
	var top struct {
		Version *int                       `json:"version"`
		Root    *string                    `json:"root"`
		Nodes   map[string]json.RawMessage `json:"nodes"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("parse flake.lock: %w", err)
	}
	if top.Version == nil || *top.Version < 5 || *top.Version > 7 {
		return nil, fmt.Errorf("parse flake.lock: unsupported lock file version")
	}
	if top.Root == nil {
		return nil, fmt.Errorf("parse flake.lock: missing root")
	}
	l := &Lock{Version: *top.Version, Root: *top.Root, Nodes: map[string]*Node{}}
	for key, raw := range top.Nodes {
		n, err := parseNode(raw)
		if err != nil {
			return nil, fmt.Errorf("parse flake.lock: node %q: %w", key, err)
		}
		l.Nodes[key] = n
	}
	if _, ok := l.Nodes[l.Root]; !ok {
		return nil, fmt.Errorf("parse flake.lock: root node %q does not exist", l.Root)
	}
	for key, n := range l.Nodes {
		for name, in := range n.Inputs {
			if in.Follows == nil {
				if _, ok := l.Nodes[in.Node]; !ok {
					return nil, fmt.Errorf("parse flake.lock: node %q input %q refers to missing node %q", key, name, in.Node)
				}
			}
		}
		if key != l.Root && (n.Locked == nil || n.Original == nil) {
			return nil, fmt.Errorf("parse flake.lock: node %q lacks locked or original", key)
		}
	}
	return l, nil
}

func parseNode(raw json.RawMessage) (*Node, error) {
	var n struct {
		Inputs   map[string]json.RawMessage `json:"inputs"`
		Locked   json.RawMessage            `json:"locked"`
		Original json.RawMessage            `json:"original"`
		Flake    *bool                      `json:"flake"`
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, err
	}
	node := &Node{Flake: true}
	if n.Flake != nil {
		node.Flake = *n.Flake
	}
	if len(n.Inputs) > 0 {
		node.Inputs = map[string]Input{}
	}
	for name, v := range n.Inputs {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			node.Inputs[name] = Input{Node: s}
			continue
		}
		var path []string
		if err := json.Unmarshal(v, &path); err != nil {
			return nil, fmt.Errorf("input %q: must be a string or a list of strings", name)
		}
		if path == nil {
			path = []string{}
		}
		node.Inputs[name] = Input{Follows: path}
	}
	var err error
	if node.Locked, err = parseAttrs(n.Locked); err != nil {
		return nil, fmt.Errorf("locked: %w", err)
	}
	if node.Original, err = parseAttrs(n.Original); err != nil {
		return nil, fmt.Errorf("original: %w", err)
	}
	return node, nil
}

func parseAttrs(raw json.RawMessage) (Attrs, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("must be an object")
	}
	out := Attrs{}
	for k, v := range m {
		switch v := v.(type) {
		case string, bool:
			out[k] = v
		case json.Number:
			i, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil || i < 0 {
				return nil, fmt.Errorf("attribute %q: %q is not a non-negative integer", k, v)
			}
			out[k] = i
		default:
			return nil, fmt.Errorf("attribute %q has unsupported type %T", k, v)
		}
	}
	return out, nil
}

// Marshal renders the lock exactly as Nix writes flake.lock.
func (l *Lock) Marshal() []byte {
	w := &writer{}
	w.open('{')
	w.key("nodes")
	w.open('{')
	for _, key := range sortedKeys(l.Nodes) {
		n := l.Nodes[key]
		w.key(key)
		w.open('{')
		// Fields in sorted key order: flake, inputs, locked, original.
		if !n.Flake {
			w.key("flake")
			w.b.WriteString("false")
		}
		if len(n.Inputs) > 0 {
			w.key("inputs")
			w.open('{')
			for _, name := range sortedKeys(n.Inputs) {
				in := n.Inputs[name]
				w.key(name)
				if in.Follows != nil {
					w.open('[')
					for _, p := range in.Follows {
						w.elem()
						w.str(p)
					}
					w.close(']')
				} else {
					w.str(in.Node)
				}
			}
			w.close('}')
		}
		if n.Locked != nil {
			w.key("locked")
			w.attrs(n.Locked)
		}
		if n.Original != nil {
			w.key("original")
			w.attrs(n.Original)
		}
		w.close('}')
	}
	w.close('}')
	w.key("root")
	w.str(l.Root)
	w.key("version")
	w.b.WriteString(strconv.Itoa(l.Version))
	w.close('}')
	w.b.WriteByte('\n')
	return []byte(w.b.String())
}

// writer mimics nlohmann::json::dump(2).
type writer struct {
	b     strings.Builder
	count []int
}

func (w *writer) indent() {
	w.b.WriteByte('\n')
	w.b.WriteString(strings.Repeat("  ", len(w.count)))
}

func (w *writer) open(c byte) {
	w.b.WriteByte(c)
	w.count = append(w.count, 0)
}

func (w *writer) close(c byte) {
	n := w.count[len(w.count)-1]
	w.count = w.count[:len(w.count)-1]
	if n > 0 {
		w.indent()
	}
	w.b.WriteByte(c)
}

func (w *writer) elem() {
	if w.count[len(w.count)-1] > 0 {
		w.b.WriteByte(',')
	}
	w.count[len(w.count)-1]++
	w.indent()
}

func (w *writer) key(k string) {
	w.elem()
	w.str(k)
	w.b.WriteString(": ")
}

func (w *writer) str(s string) { nixjson.AppendQuoted(&w.b, s, nixjson.Nlohmann) }

func (w *writer) attrs(a Attrs) {
	w.open('{')
	for _, k := range sortedKeys(a) {
		w.key(k)
		switch v := a[k].(type) {
		case string:
			w.str(v)
		case bool:
			w.b.WriteString(strconv.FormatBool(v))
		case int64:
			w.b.WriteString(strconv.FormatInt(v, 10))
		case int:
			w.b.WriteString(strconv.Itoa(v))
		case uint64:
			w.b.WriteString(strconv.FormatUint(v, 10))
		default:
			w.b.WriteString("null")
		}
	}
	w.close('}')
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
