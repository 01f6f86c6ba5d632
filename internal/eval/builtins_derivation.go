package eval

import (
	"fmt"
	"strings"

	"github.com/onix-dev/onix/internal/eval/syntax"
	"github.com/onix-dev/onix/internal/nixcompat/derivation"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

// derivationNix is Nix's derivation-internal.nix: the `derivation` builtin
// is this wrapper around derivationStrict.
const derivationNix = `drvAttrs@{ outputs ? [ "out" ], ... }:
let
  strict = derivationStrict drvAttrs;
  commonAttrs = drvAttrs
    // (builtins.listToAttrs outputsList)
    // { all = map (x: x.value) outputsList; inherit drvAttrs; };
  outputToAttrListElement = outputName: {
    name = outputName;
    value = commonAttrs // {
      outPath = strict.${outputName};
      drvPath = strict.drvPath;
      type = "derivation";
      inherit outputName;
    };
  };
  outputsList = map outputToAttrListElement outputs;
in (builtins.head outputsList).value
`

func registerDerivation(r *registry, st *storeState) {
	r.Add("derivationStrict", 1, func(ev *Evaluator, pos syntax.Pos, a []*Value) *Value {
		return st.derivationStrict(pos, a[0])
	})
	// `derivation` is a lazily compiled Nix function: a deferred
	// application of a loader primop, replaced in place by the lambda
	// when first forced (after the base scope exists).
	loader := MkPrimOp(&PrimOp{Name: "derivation", Arity: 1, Fn: func(ev *Evaluator, pos syntax.Pos, _ []*Value) *Value {
		f := &syntax.File{Name: "«nix-internal»/derivation-internal.nix", Dir: "/", Src: []byte(derivationNix)}
		e := ev.parse(f)
		c := (&compiler{ev: ev}).compile(e, ev.base)
		return c.eval(ev, ev.baseEnv)
	}})
	r.Const("derivation", mkApp(loader, valNull))
}

// derivationStrict implements builtins.derivationStrict like Nix: it
// coerces the attributes into the environment, gathers inputs from the
// string contexts, computes output and .drv paths and (with a store)
// writes the .drv.
func (st *storeState) derivationStrict(pos syntax.Pos, arg *Value) *Value {
	ev := st.ev
	attrs := ev.ForceAttrs(pos, arg)
	nameAttr, ok := attrs.Get(ev.sName)
	if !ok {
		ev.errorAt(pos, "attribute 'name' missing")
	}
	namePos := derefPos(nameAttr.Pos)
	if !namePos.IsValid() {
		namePos = pos
	}
	drvName := func() string {
		defer func() {
			if r := recover(); r != nil {
				addTrace(r, namePos, "while evaluating the derivation attribute 'name'")
				panic(r)
			}
		}()
		return ev.ForceStringNoCtx(pos, nameAttr.Val)
	}()
	structured := false
	if a := ev.GetAttr(attrs, "__structuredAttrs"); a != nil {
		structured = ev.ForceBool(pos, a)
	}
	ignoreNulls := false
	if a := ev.GetAttr(attrs, "__ignoreNulls"); a != nil {
		ignoreNulls = ev.ForceBool(pos, a)
	}

	spec := derivation.Spec{Name: drvName, Env: map[string]string{}}
	var ctx []string
	var jsonBuf strings.Builder
	jsonFirst := true
	if structured {
		jsonBuf.WriteByte('{')
	}
	contentAddressed, impure := false, false
	var hashMode string
	outputs := []string{"out"}
	outputsSet := false

	handleHashMode := func(s string) {
		if s != "recursive" && s != "flat" {
			ev.errorAt(namePos, "invalid value '%s' for 'outputHashMode' attribute", s)
		}
		hashMode = s
	}
	handleOutputs := func(ss []string) {
		seen := map[string]bool{}
		outputs = outputs[:0:0]
		for _, o := range ss {
			if seen[o] {
				ev.errorAt(namePos, "duplicate derivation output '%s'", o)
			}
			// Nix 2.8 rejects "drv"; current Nix rejects "drvPath".
			if o == "drv" || o == "drvPath" {
				ev.errorAt(namePos, "invalid derivation output name '%s'", o)
			}
			seen[o] = true
			outputs = append(outputs, o)
		}
		if len(outputs) == 0 {
			ev.errorAt(namePos, "derivation cannot have an empty set of outputs")
		}
		outputsSet = true
	}
	coerce := func(p syntax.Pos, v *Value) string {
		s, c := ev.CoerceToString(p, v, true, true)
		if c != nil {
			ctx = append(ctx, c.Elems...)
		}
		return s
	}

	for _, at := range ev.sortedAttrs(attrs) {
		key := ev.syms.Name(at.Name)
		if key == "__ignoreNulls" {
			continue
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					addTrace(r, namePos, fmt.Sprintf("while evaluating the attribute '%s' of the derivation '%s'", key, drvName))
					panic(r)
				}
			}()
			if ignoreNulls {
				ev.force(at.Val)
				if at.Val.kind == KNull {
					return
				}
			}
			attrPos := derefPos(at.Pos)
			if !attrPos.IsValid() {
				attrPos = pos
			}
			switch {
			case key == "__contentAddressed":
				contentAddressed = ev.ForceBool(pos, at.Val)
				if contentAddressed {
					ev.errorAt(namePos, "experimental Nix feature 'ca-derivations' is disabled; use '--extra-experimental-features ca-derivations' to override")
				}
			case key == "__impure":
				impure = ev.ForceBool(pos, at.Val)
				if impure {
					ev.errorAt(namePos, "experimental Nix feature 'impure-derivations' is disabled; use '--extra-experimental-features impure-derivations' to override")
				}
			case key == "args":
				for _, e := range ev.ForceList(pos, at.Val) {
					spec.Args = append(spec.Args, coerce(namePos, e))
				}
			case structured:
				if key == "__structuredAttrs" {
					return
				}
				if !jsonFirst {
					jsonBuf.WriteByte(',')
				}
				jsonFirst = false
				jsonString(&jsonBuf, key)
				jsonBuf.WriteByte(':')
				ev.toJSON(&jsonBuf, at.Val, pos, &ctx, true)
				switch key {
				case "builder":
					s, c := ev.ForceString(namePos, at.Val)
					if c != nil {
						ctx = append(ctx, c.Elems...)
					}
					spec.Builder = s
				case "system":
					spec.System = ev.ForceStringNoCtx(namePos, at.Val)
				case "outputHash":
					spec.OutputHash = ev.ForceStringNoCtx(namePos, at.Val)
					spec.HasOutputHash = true
				case "outputHashAlgo":
					spec.OutputHashAlgo = ev.ForceStringNoCtx(namePos, at.Val)
				case "outputHashMode":
					handleHashMode(ev.ForceStringNoCtx(namePos, at.Val))
				case "outputs":
					var ss []string
					for _, e := range ev.ForceList(namePos, at.Val) {
						ss = append(ss, ev.ForceStringNoCtx(namePos, e))
					}
					handleOutputs(ss)
				}
			default:
				s := coerce(attrPos, at.Val)
				spec.Env[key] = s
				switch key {
				case "builder":
					spec.Builder = s
				case "system":
					spec.System = s
				case "outputHash":
					spec.OutputHash = s
					spec.HasOutputHash = true
				case "outputHashAlgo":
					spec.OutputHashAlgo = s
				case "outputHashMode":
					handleHashMode(s)
				case "outputs":
					handleOutputs(strings.Fields(s))
				}
			}
		}()
	}
	if structured {
		jsonBuf.WriteByte('}')
		spec.Env["__json"] = jsonBuf.String()
	}
	_ = outputsSet
	// Nix keeps outputs in a set: sorted, which only matters for errors.
	spec.Outputs = outputs
	spec.OutputHashMode = hashMode

	// Inputs from the string contexts.
	spec.InputDrvs = map[string][]string{}
	for _, e := range NewContext(ctx...).elems() {
		switch {
		case strings.HasPrefix(e, "="):
			cl, err := st.closure(e[1:])
			if err != nil {
				ev.errorAt(namePos, "%s", err)
			}
			for _, p := range cl {
				spec.InputSrcs = append(spec.InputSrcs, p)
				if strings.HasSuffix(p, ".drv") {
					d, err := st.loadDrv(ev.ctx, p)
					if err != nil {
						ev.errorAt(namePos, "%s", err)
					}
					spec.InputDrvs[p] = append(spec.InputDrvs[p], d.OutputNames()...)
				}
			}
		case strings.HasPrefix(e, "!"):
			out, drv, ok := strings.Cut(e[1:], "!")
			if !ok {
				ev.errorAt(namePos, "invalid string context element '%s'", e)
			}
			spec.InputDrvs[drv] = append(spec.InputDrvs[drv], out)
		default:
			spec.InputSrcs = append(spec.InputSrcs, e)
		}
	}

	if spec.Builder == "" {
		ev.errorAt(namePos, "required attribute 'builder' missing")
	}
	if spec.System == "" {
		ev.errorAt(namePos, "required attribute 'system' missing")
	}
	if strings.HasSuffix(drvName, ".drv") {
		ev.errorAt(namePos, "derivation names are not allowed to end in '.drv'")
	}
	if err := storepath.ValidateName(drvName); err != nil {
		ev.errorAt(namePos, "invalid derivation name: %s. Please pass a different 'name'.", strings.TrimPrefix(err.Error(), "invalid store path name: "))
	}
	if spec.HasOutputHash && (len(outputs) != 1 || outputs[0] != "out") {
		ev.errorAt(namePos, "multiple outputs are not supported in fixed-output derivations")
	}

	res, err := derivation.Build(ev.ctx, st.hasher, spec)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), fmt.Sprintf("derivation %q: ", drvName))
		ev.errorAt(namePos, "%s", msg)
	}
	if res.Warning != "" {
		fmt.Fprintf(ev.opts.Stderr, "warning: %s\n", res.Warning)
	}
	d := res.Drv
	refs := d.References()
	if ev.opts.Store != nil {
		p, err := ev.opts.Store.WriteDerivation(drvName+".drv", string(d.ATerm()), refs)
		if err != nil {
			ev.errorAt(namePos, "%s", err)
		}
		if p != res.DrvPath {
			ev.errorAt(namePos, "internal error: store wrote derivation to '%s', expected '%s'", p, res.DrvPath)
		}
	}
	st.drvs[res.DrvPath] = d
	st.refs[res.DrvPath] = refs

	b := ev.NewAttrsBuilder(1 + len(outputs))
	b.Set("drvPath", MkStringCtx(res.DrvPath, NewContext("="+res.DrvPath)))
	for _, o := range outputs {
		b.Set(o, MkStringCtx(res.Outputs[o], NewContext("!"+o+"!"+res.DrvPath)))
	}
	return b.Value()
}

func (c *Context) elems() []string {
	if c == nil {
		return nil
	}
	return c.Elems
}

// DrvInfo is one derivation found by CollectDerivations.
type DrvInfo struct {
	AttrPath   string
	DrvPath    string
	OutputName string
}

// CollectDerivations finds the derivations in v like Nix's getDerivations
// (as nix-instantiate uses it): v itself, the derivations among a set's
// attributes (recursing into sets with recurseForDerivations = true) or a
// list's elements, and forces their drvPath (instantiating them).
func (ev *Evaluator) CollectDerivations(v *Value) (out []DrvInfo, err error) {
	err = ev.catch(func() {
		done := map[*Attrs]bool{}
		// get returns true when v is not a derivation.
		get := func(v *Value, path string) bool {
			ev.force(v)
			if !ev.isDerivation(v) {
				return true
			}
			if done[v.Attrs()] {
				return false
			}
			done[v.Attrs()] = true
			info := DrvInfo{AttrPath: path}
			dp := ev.GetAttr(v.Attrs(), "drvPath")
			if dp == nil {
				ev.errorAt(syntax.Pos{}, "derivation does not contain a 'drvPath' attribute")
			}
			info.DrvPath, _ = ev.CoerceToString(syntax.Pos{}, dp, false, false)
			if on := ev.GetAttr(v.Attrs(), "outputName"); on != nil {
				info.OutputName = ev.ForceStringNoCtx(syntax.Pos{}, on)
			}
			if info.OutputName == "" {
				ev.errorAt(syntax.Pos{}, "derivation '%s' lacks an 'outputName' attribute", info.DrvPath)
			}
			out = append(out, info)
			return false
		}
		join := func(prefix, name string) string {
			if prefix == "" {
				return name
			}
			return prefix + "." + name
		}
		var rec func(v *Value, path string)
		rec = func(v *Value, path string) {
			if !get(v, path) {
				return
			}
			switch v.kind {
			case KAttrs:
				for _, a := range ev.sortedAttrs(v.Attrs()) {
					name := ev.syms.Name(a.Name)
					if !validDrvAttrName(name) {
						continue
					}
					p2 := join(path, name)
					if get(a.Val, p2) && a.Val.kind == KAttrs {
						if r := ev.GetAttr(a.Val.Attrs(), "recurseForDerivations"); r != nil && ev.ForceBool(syntax.Pos{}, r) {
							rec(a.Val, p2)
						}
					}
				}
			case KList:
				for i, e := range v.List() {
					p2 := join(path, itoa(int64(i)))
					if get(e, p2) {
						rec(e, p2)
					}
				}
			default:
				ev.errorAt(syntax.Pos{}, "expression does not evaluate to a derivation (or a set or list of those)")
			}
		}
		rec(v, "")
	})
	return
}

// validDrvAttrName is Nix's attrRegex [A-Za-z_][A-Za-z0-9-_+]*.
func validDrvAttrName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if !alpha && (i == 0 || !(c >= '0' && c <= '9' || c == '-' || c == '+')) {
			return false
		}
	}
	return true
}
