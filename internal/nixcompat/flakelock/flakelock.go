// Package flakelock reads and writes flake.lock files (versions 5–7)
// byte-identically to Nix 2.8, which serialises through nlohmann::json:
// keys sorted byte-wise, 2-space indent, ": " separators, final newline.
package flakelock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/onix-dev/onix/internal/nixcompat/nixjson"
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
	w := &nixjson.Writer{Style: nixjson.Nlohmann}
	w.Open('{')
	w.Key("nodes")
	w.Open('{')
	for _, key := range sortedKeys(l.Nodes) {
		n := l.Nodes[key]
		w.Key(key)
		w.Open('{')
		// Fields in sorted key order: flake, inputs, locked, original.
		if !n.Flake {
			w.Key("flake")
			w.Raw("false")
		}
		if len(n.Inputs) > 0 {
			w.Key("inputs")
			w.Open('{')
			for _, name := range sortedKeys(n.Inputs) {
				in := n.Inputs[name]
				w.Key(name)
				if in.Follows != nil {
					w.Open('[')
					for _, p := range in.Follows {
						w.Elem()
						w.Str(p)
					}
					w.Close(']')
				} else {
					w.Str(in.Node)
				}
			}
			w.Close('}')
		}
		if n.Locked != nil {
			w.Key("locked")
			writeAttrs(w, n.Locked)
		}
		if n.Original != nil {
			w.Key("original")
			writeAttrs(w, n.Original)
		}
		w.Close('}')
	}
	w.Close('}')
	w.Key("root")
	w.Str(l.Root)
	w.Key("version")
	w.Raw(strconv.Itoa(l.Version))
	w.Close('}')
	w.Raw("\n")
	return w.Bytes()
}

func writeAttrs(w *nixjson.Writer, a Attrs) {
	w.Open('{')
	for _, k := range sortedKeys(a) {
		w.Key(k)
		switch v := a[k].(type) {
		case string:
			w.Str(v)
		case bool:
			w.Raw(strconv.FormatBool(v))
		case int64:
			w.Raw(strconv.FormatInt(v, 10))
		case int:
			w.Raw(strconv.Itoa(v))
		case uint64:
			w.Raw(strconv.FormatUint(v, 10))
		default:
			w.Raw("null")
		}
	}
	w.Close('}')
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
