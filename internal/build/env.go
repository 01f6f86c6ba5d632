package build

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/onix-dev/onix/internal/nixcompat/derivation"
	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/nixjson"
)

// builderEnv computes the builder's environment exactly as Nix 2.8's
// initEnv/initTmpDir/writeStructuredAttrs, writing passAsFile,
// structured-attrs and exportReferencesGraph files into hostBuildDir.
// sandboxBuildDir is the build directory as the builder sees it; graphs
// answers exportReferencesGraph (nil: the attribute is ignored).
func builderEnv(ctx context.Context, drv *derivation.Derivation, storeDir string, cores int, hostBuildDir, sandboxBuildDir string, graphs *refGraph) (map[string]string, error) {
	env := map[string]string{
		"PATH":            "/path-not-set",
		"HOME":            "/homeless-shelter",
		"NIX_STORE":       storeDir,
		"NIX_BUILD_CORES": strconv.Itoa(cores),
	}
	if jsonStr, structured := drv.Env["__json"]; structured {
		if err := writeStructuredAttrs(ctx, drv, jsonStr, env, hostBuildDir, sandboxBuildDir, graphs); err != nil {
			return nil, err
		}
	} else {
		passAsFile := map[string]bool{}
		for _, f := range strings.Fields(drv.Env["passAsFile"]) {
			passAsFile[f] = true
		}
		for k, v := range drv.Env {
			if !passAsFile[k] {
				env[k] = v
				continue
			}
			fn := ".attr-" + hash.SumString(hash.SHA256, k).Base32()
			if err := os.WriteFile(filepath.Join(hostBuildDir, fn), []byte(v), 0o644); err != nil {
				return nil, fmt.Errorf("writing passAsFile attribute '%s': %w", k, err)
			}
			env[k+"Path"] = sandboxBuildDir + "/" + fn
		}
		if v, ok := drv.Env["exportReferencesGraph"]; ok && graphs != nil {
			if err := graphs.writeExportedGraphs(ctx, storeDir, v, hostBuildDir); err != nil {
				return nil, err
			}
		}
	}
	env["NIX_BUILD_TOP"] = sandboxBuildDir
	for _, k := range []string{"TMPDIR", "TEMPDIR", "TMP", "TEMP", "PWD"} {
		env[k] = sandboxBuildDir
	}
	if drv.IsFixedOutput() {
		env["NIX_OUTPUT_CHECKED"] = "1"
		for _, k := range impureEnvVars(drv) {
			env[k] = os.Getenv(k)
		}
	}
	env["NIX_LOG_FD"] = "2"
	env["TERM"] = "xterm-256color"
	return env, nil
}

// impureEnvVars reads the impureEnvVars attribute (env or structured).
func impureEnvVars(drv *derivation.Derivation) []string {
	if j, ok := drv.Env["__json"]; ok {
		var m map[string]any
		if json.Unmarshal([]byte(j), &m) == nil {
			if l, ok := m["impureEnvVars"].([]any); ok {
				var out []string
				for _, v := range l {
					if s, ok := v.(string); ok {
						out = append(out, s)
					}
				}
				return out
			}
		}
		return nil
	}
	return strings.Fields(drv.Env["impureEnvVars"])
}

var shVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func writeStructuredAttrs(ctx context.Context, drv *derivation.Derivation, jsonStr string, env map[string]string, hostDir, sandboxDir string, graphs *refGraph) error {
	dec := json.NewDecoder(strings.NewReader(jsonStr))
	dec.UseNumber()
	var attrs map[string]any
	if err := dec.Decode(&attrs); err != nil {
		return fmt.Errorf("parsing structured attributes (__json): %w", err)
	}
	if attrs == nil {
		attrs = map[string]any{}
	}
	outputs := map[string]any{}
	for name, o := range drv.Outputs {
		outputs[name] = o.Path
	}
	attrs["outputs"] = outputs
	if graphs != nil {
		if err := graphs.addStructuredGraphs(ctx, attrs); err != nil {
			return err
		}
	}
	var js bytes.Buffer
	writeNixJSON(&js, attrs)
	sh := structuredAttrsShell(attrs)
	shPath := filepath.Join(hostDir, ".attrs.sh")
	if err := os.WriteFile(shPath, []byte(sh), 0o644); err != nil {
		return fmt.Errorf("writing .attrs.sh: %w", err)
	}
	if err := os.WriteFile(filepath.Join(hostDir, ".attrs.json"), js.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing .attrs.json: %w", err)
	}
	// Nix 2.8 exports the host-side paths here (a bug fixed in later
	// versions); we give the paths as the builder sees them.
	env["NIX_ATTRS_SH_FILE"] = sandboxDir + "/.attrs.sh"
	env["NIX_ATTRS_JSON_FILE"] = sandboxDir + "/.attrs.json"
	return nil
}

// structuredAttrsShell is Nix's writeStructuredAttrsShell.
func structuredAttrsShell(attrs map[string]any) string {
	simple := func(v any) (string, bool) {
		switch x := v.(type) {
		case string:
			return shellEscape(x), true
		case json.Number:
			f, err := x.Float64()
			if err == nil && math.Ceil(f) == f {
				return strconv.FormatInt(int64(f), 10), true
			}
			return "", false
		case nil:
			return "''", true
		case bool:
			if x {
				return "1", true
			}
			return "", true
		}
		return "", false
	}
	var b strings.Builder
	for _, k := range sortedKeys(attrs) {
		if !shVarName.MatchString(k) {
			continue
		}
		v := attrs[k]
		if s, ok := simple(v); ok {
			fmt.Fprintf(&b, "declare %s=%s\n", k, s)
			continue
		}
		switch x := v.(type) {
		case []any:
			var s2 strings.Builder
			good := true
			for _, e := range x {
				s3, ok := simple(e)
				if !ok {
					good = false
					break
				}
				s2.WriteString(s3 + " ")
			}
			if good {
				fmt.Fprintf(&b, "declare -a %s=(%s)\n", k, s2.String())
			}
		case map[string]any:
			var s2 strings.Builder
			good := true
			for _, k2 := range sortedKeys(x) {
				s3, ok := simple(x[k2])
				if !ok {
					good = false
					break
				}
				fmt.Fprintf(&s2, "[%s]=%s ", shellEscape(k2), s3)
			}
			if good {
				fmt.Fprintf(&b, "declare -A %s=(%s)\n", k, s2.String())
			}
		}
	}
	return b.String()
}

func shellEscape(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// writeNixJSON writes v compactly with sorted keys and nlohmann's string
// escaping (control characters as \uXXXX except \b\f\n\r\t; no HTML or
// non-ASCII escaping), like json.dump() in Nix.
func writeNixJSON(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case json.Number:
		b.WriteString(x.String())
	case string:
		b.WriteString(nixjson.Quote(x, nixjson.Nlohmann))
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeNixJSON(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b.WriteByte(',')
			}
			writeNixJSON(b, k)
			b.WriteByte(':')
			writeNixJSON(b, x[k])
		}
		b.WriteByte('}')
	default:
		fmt.Fprintf(b, "%v", x)
	}
}
