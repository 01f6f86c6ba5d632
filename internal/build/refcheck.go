package build

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/onix-dev/onix/internal/nixcompat/nar"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
	"github.com/onix-dev/onix/internal/store"
)

// refSpec is one optional list of reference specifiers (store paths or
// output names); set distinguishes an empty list from none.
type refSpec struct {
	set  bool
	list []string
}

// outputCheck is what Nix 2.8 checks of one output before registering it
// (LocalDerivationGoal::checkOutputs).
type outputCheck struct {
	ignoreSelfRefs       bool // requisite checks skip the output itself (env form)
	maxSize              *uint64
	maxClosureSize       *uint64
	allowedReferences    refSpec
	allowedRequisites    refSpec
	disallowedReferences refSpec
	disallowedRequisites refSpec
}

// outputChecks reads the checks per output name: the allowedReferences
// family of attributes for every output of an ordinary derivation, or
// outputChecks.<output> under structured attributes. An empty map means
// nothing is checked.
// namedRefSpec is one of the four reference checks and its attribute name.
type namedRefSpec struct {
	name string
	dst  *refSpec
}

// refSpecs lists c's reference checks under their attribute names.
func (c *outputCheck) refSpecs() []namedRefSpec {
	return []namedRefSpec{
		{"allowedReferences", &c.allowedReferences},
		{"allowedRequisites", &c.allowedRequisites},
		{"disallowedReferences", &c.disallowedReferences},
		{"disallowedRequisites", &c.disallowedRequisites},
	}
}

func outputChecks(a *drvAttrs, outputNames []string) (map[string]*outputCheck, error) {
	res := map[string]*outputCheck{}
	if a.structured == nil {
		c := &outputCheck{ignoreSelfRefs: true}
		found := false
		for _, f := range c.refSpecs() {
			l, ok, err := a.strings(f.name)
			if err != nil {
				return nil, err
			}
			if ok {
				*f.dst = refSpec{set: true, list: l}
				found = true
			}
		}
		if found {
			for _, o := range outputNames {
				res[o] = c
			}
		}
		return res, nil
	}
	oc, ok := a.structured["outputChecks"].(map[string]any)
	if !ok {
		return res, nil
	}
	for _, o := range outputNames {
		spec, ok := oc[o].(map[string]any)
		if !ok {
			continue
		}
		c := &outputCheck{}
		for _, f := range []struct {
			name string
			dst  **uint64
		}{{"maxSize", &c.maxSize}, {"maxClosureSize", &c.maxClosureSize}} {
			v, ok := spec[f.name]
			if !ok {
				continue
			}
			num, isNum := v.(json.Number)
			n, err := strconv.ParseUint(string(num), 10, 64)
			if !isNum || err != nil {
				return nil, fmt.Errorf("outputChecks.%s.%s of derivation '%s' must be a non-negative integer, not %v", o, f.name, a.drvPath, v)
			}
			*f.dst = &n
		}
		for _, f := range c.refSpecs() {
			v, ok := spec[f.name]
			if !ok {
				continue
			}
			var l []string
			for _, e := range jsonElems(v) {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("attribute '%s' of derivation '%s' must be a list of strings", f.name, a.drvPath)
				}
				l = append(l, s)
			}
			*f.dst = refSpec{set: true, list: l}
		}
		res[o] = c
	}
	return res, nil
}

// builtOutput is what the checks need of a built, not yet registered
// output.
type builtOutput struct {
	path    string
	narSize uint64
	refs    []string // sorted, may include path itself
}

// scanOutput dumps the output at src as a NAR to find its size and its
// references among cands (logical store paths), like RegisterOutputs does.
func scanOutput(ctx context.Context, st *store.Store, src string, cands []string) (narSize uint64, refs []string, err error) {
	var parts []string
	for _, c := range cands {
		if sp, err := st.StoreDir().Parse(c); err == nil {
			parts = append(parts, sp.HashPart)
		}
	}
	sc := storepath.NewRefScanner(parts)
	cw := &countWriter{}
	if err := nar.DumpPath(ctx, io.MultiWriter(cw, sc), src, nil); err != nil {
		return 0, nil, fmt.Errorf("scanning output '%s': %w", src, err)
	}
	refs = sc.FoundPaths(st.StoreDir(), storepath.SortedRefs(cands))
	if refs == nil {
		refs = []string{}
	}
	return cw.n, refs, nil
}

type countWriter struct{ n uint64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += uint64(len(p))
	return len(p), nil
}

// applyOutputChecks is LocalDerivationGoal::checkOutputs: it enforces the
// checks on the built outputs (by output name), in output-name order, and
// returns the first violation, worded as Nix words it.
func applyOutputChecks(ctx context.Context, st *store.Store, checks map[string]*outputCheck, outs map[string]*builtOutput) error {
	byPath := map[string]*builtOutput{}
	for _, o := range outs {
		byPath[o.path] = o
	}
	// closure of an output: other outputs are not valid yet, so their
	// references come from outs.
	closure := func(p string) (map[string]bool, uint64, error) {
		done := map[string]bool{}
		var size uint64
		queue := []string{p}
		for len(queue) > 0 {
			q := queue[0]
			queue = queue[1:]
			if done[q] {
				continue
			}
			done[q] = true
			if o, ok := byPath[q]; ok {
				size += o.narSize
				queue = append(queue, o.refs...)
				continue
			}
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
			in, err := st.QueryPathInfo(ctx, q)
			if err != nil {
				return nil, 0, fmt.Errorf("path '%s' is not valid: %w", q, err)
			}
			size += in.NarSize
			queue = append(queue, in.References...)
		}
		return done, size, nil
	}
	for _, name := range sortedKeys(outs) {
		c, ok := checks[name]
		if !ok {
			continue
		}
		info := outs[name]
		if c.maxSize != nil && info.narSize > *c.maxSize {
			return fmt.Errorf("path '%s' is too large at %d bytes; limit is %d bytes", info.path, info.narSize, *c.maxSize)
		}
		if c.maxClosureSize != nil {
			_, size, err := closure(info.path)
			if err != nil {
				return err
			}
			if size > *c.maxClosureSize {
				return fmt.Errorf("closure of path '%s' is too large at %d bytes; limit is %d bytes", info.path, size, *c.maxClosureSize)
			}
		}
		checkRefs := func(spec refSpec, allowed, recursive bool) error {
			if !spec.set {
				return nil
			}
			want := map[string]bool{}
			for _, s := range spec.list {
				if st.StoreDir().IsStorePath(s) {
					p, _ := st.ParsePath(s)
					want[p] = true
				} else if o, ok := outs[s]; ok {
					want[o.path] = true
				} else {
					return fmt.Errorf("derivation contains an illegal reference specifier '%s'", s)
				}
			}
			used := map[string]bool{}
			if recursive {
				cl, _, err := closure(info.path)
				if err != nil {
					return err
				}
				used = cl
				if c.ignoreSelfRefs {
					delete(used, info.path)
				}
			} else {
				for _, r := range info.refs {
					used[r] = true
				}
			}
			var bad []string
			for p := range used {
				if want[p] != allowed {
					bad = append(bad, p)
				}
			}
			if len(bad) == 0 {
				return nil
			}
			sort.Strings(bad)
			return fmt.Errorf("output '%s' is not allowed to refer to the following paths:\n  %s", info.path, strings.Join(bad, "\n  "))
		}
		for _, f := range []struct {
			spec               refSpec
			allowed, recursive bool
		}{
			{c.allowedReferences, true, false},
			{c.allowedRequisites, true, true},
			{c.disallowedReferences, false, false},
			{c.disallowedRequisites, false, true},
		} {
			if err := checkRefs(f.spec, f.allowed, f.recursive); err != nil {
				return err
			}
		}
	}
	return nil
}

// enforceOutputChecks applies the derivation's reference and size checks
// to the built outputs before they are registered; a violation leaves
// every output unregistered. The references found are stored in regs, so
// registration does not scan again.
func (b *builder) enforceOutputChecks(ctx context.Context, n *node, regs []store.Output) error {
	attrs, err := parseDrvAttrs(n.drvPath, n.drv)
	if err != nil {
		return err
	}
	checks, err := outputChecks(attrs, n.drv.OutputNames())
	if err != nil || len(checks) == 0 {
		return err
	}
	outs := map[string]*builtOutput{}
	var all []string
	for _, r := range regs {
		all = append(all, r.Path)
	}
	for i := range regs {
		r := &regs[i]
		name := outputNameOf(n, r.Path)
		narSize, refs, err := scanOutput(ctx, b.st, r.Src, append(append([]string(nil), r.Candidates...), all...))
		if err != nil {
			return err
		}
		if r.References != nil {
			refs = r.References // fixed outputs: registered without references
		} else {
			r.References = refs
		}
		outs[name] = &builtOutput{path: r.Path, narSize: narSize, refs: refs}
	}
	return applyOutputChecks(ctx, b.st, checks, outs)
}

func outputNameOf(n *node, p string) string {
	for name, o := range n.drv.Outputs {
		if o.Path == p {
			return name
		}
	}
	return p
}
