package build

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/onix-dev/onix/internal/nixcompat/derivation"
	"github.com/onix-dev/onix/internal/store"
)

// refGraph answers exportReferencesGraph: closures of paths in a
// derivation's input closure, rendered as Nix 2.8 does.
type refGraph struct {
	st     *store.Store
	inputs map[string]bool // the input closure
	infos  map[string]*store.PathInfo
}

func newRefGraph(st *store.Store, inputClosure []string) *refGraph {
	g := &refGraph{st: st, inputs: map[string]bool{}, infos: map[string]*store.PathInfo{}}
	for _, p := range inputClosure {
		g.inputs[p] = true
	}
	return g
}

func (g *refGraph) info(ctx context.Context, p string) (*store.PathInfo, error) {
	if in, ok := g.infos[p]; ok {
		return in, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in, err := g.st.QueryPathInfo(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("path '%s' is not valid: %w", p, err)
	}
	g.infos[p] = in
	return in, nil
}

// fsClosure adds the closure of p to set.
func (g *refGraph) fsClosure(ctx context.Context, p string, set map[string]bool) error {
	queue := []string{p}
	for len(queue) > 0 {
		q := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		if set[q] {
			continue
		}
		in, err := g.info(ctx, q)
		if err != nil {
			return err
		}
		set[q] = true
		queue = append(queue, in.References...)
	}
	return nil
}

// export is Store::exportReferences: the closure of paths (which must be
// in the input closure), plus the closures of the outputs of every
// derivation in it; sorted.
func (g *refGraph) export(ctx context.Context, paths []string) ([]string, error) {
	set := map[string]bool{}
	for _, p := range paths {
		if !g.inputs[p] {
			return nil, fmt.Errorf("cannot export references of path '%s' because it is not in the input closure of the derivation", p)
		}
		if err := g.fsClosure(ctx, p, set); err != nil {
			return nil, err
		}
	}
	var drvs []string
	for p := range set {
		if strings.HasSuffix(p, ".drv") {
			drvs = append(drvs, p)
		}
	}
	sort.Strings(drvs)
	for _, d := range drvs {
		data, err := os.ReadFile(g.st.RealPath(d))
		if err != nil {
			return nil, fmt.Errorf("reading derivation '%s': %w", d, err)
		}
		drv, err := derivation.Parse(filepath.Base(d), data)
		if err != nil {
			return nil, fmt.Errorf("parsing derivation '%s': %w", d, err)
		}
		for _, o := range drv.OutputNames() {
			out := drv.Outputs[o].Path
			if out == "" {
				return nil, fmt.Errorf("exportReferences on CA derivations is not yet implemented ('%s')", d)
			}
			if err := g.fsClosure(ctx, out, set); err != nil {
				return nil, err
			}
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// registration is Store::makeValidityRegistration(paths, false, false),
// the `nix-store --register-validity` format without hashes: per path its
// name, an empty deriver line, the number of references and the
// references.
func (g *refGraph) registration(ctx context.Context, paths []string) (string, error) {
	var b strings.Builder
	for _, p := range paths {
		in, err := g.info(ctx, p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s\n\n%d\n", p, len(in.References))
		for _, r := range in.References {
			b.WriteString(r + "\n")
		}
	}
	return b.String(), nil
}

// pathInfoJSON is Store::pathInfoToJSON(paths, includeImpureInfo=false,
// showClosureSize=true) with base-32 hashes, as JSON values for
// writeNixJSON.
func (g *refGraph) pathInfoJSON(ctx context.Context, paths []string) ([]any, error) {
	out := make([]any, 0, len(paths))
	for _, p := range paths {
		in, err := g.info(ctx, p)
		if err != nil {
			return nil, err
		}
		refs := make([]any, len(in.References))
		for i, r := range in.References {
			refs[i] = r
		}
		cl := map[string]bool{}
		if err := g.fsClosure(ctx, p, cl); err != nil {
			return nil, err
		}
		var size uint64
		for q := range cl {
			size += g.infos[q].NarSize
		}
		m := map[string]any{
			"path":        p,
			"narHash":     in.NarHash.String(),
			"narSize":     json.Number(strconv.FormatUint(in.NarSize, 10)),
			"references":  refs,
			"closureSize": json.Number(strconv.FormatUint(size, 10)),
		}
		if in.CA != "" {
			m["ca"] = in.CA
		}
		out = append(out, m)
	}
	return out, nil
}

var exportFileName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// writeExportedGraphs handles the environment form of
// exportReferencesGraph ("name1 path1 name2 path2 ..."): the closure of
// each path is written to the file name in the build directory.
func (g *refGraph) writeExportedGraphs(ctx context.Context, storeDir, value, hostBuildDir string) error {
	toks := nixTokens(value)
	if len(toks)%2 != 0 {
		return fmt.Errorf("odd number of tokens in 'exportReferencesGraph': '%s'", value)
	}
	for i := 0; i < len(toks); i += 2 {
		name, p := toks[i], toks[i+1]
		if !exportFileName.MatchString(name) {
			return fmt.Errorf("invalid file name '%s' in 'exportReferencesGraph'", name)
		}
		if !strings.HasPrefix(p, storeDir+"/") || len(p) < len(storeDir)+2 {
			return fmt.Errorf("'exportReferencesGraph' contains a non-store path '%s'", p)
		}
		sp, err := g.st.ToStorePath(p)
		if err != nil {
			return fmt.Errorf("'exportReferencesGraph': %w", err)
		}
		closure, err := g.export(ctx, []string{sp})
		if err != nil {
			return err
		}
		reg, err := g.registration(ctx, closure)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(hostBuildDir, name), []byte(reg), 0o644); err != nil {
			return fmt.Errorf("writing exportReferencesGraph file '%s': %w", name, err)
		}
	}
	return nil
}

// addStructuredGraphs handles the structured-attributes form: for each
// NAME = [ paths ] in the exportReferencesGraph object, attrs.NAME becomes
// the closure's path infos (as `nix path-info --json --closure-size`).
func (g *refGraph) addStructuredGraphs(ctx context.Context, attrs map[string]any) error {
	e, ok := attrs["exportReferencesGraph"].(map[string]any)
	if !ok {
		return nil
	}
	for _, name := range sortedKeys(e) {
		var paths []string
		for _, v := range jsonElems(e[name]) {
			s, ok := v.(string)
			if !ok {
				return fmt.Errorf("exportReferencesGraph.%s: expected store paths (strings), got %v", name, v)
			}
			p, err := g.st.ParsePath(s)
			if err != nil {
				return fmt.Errorf("exportReferencesGraph.%s: %w", name, err)
			}
			paths = append(paths, p)
		}
		closure, err := g.export(ctx, paths)
		if err != nil {
			return err
		}
		infos, err := g.pathInfoJSON(ctx, closure)
		if err != nil {
			return err
		}
		attrs[name] = infos
	}
	return nil
}
