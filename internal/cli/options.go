package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/onix-dev/onix/internal/eval"
)

// optionsHelperNix is the Nix side of `onix options`: small functions over
// an evalModules result that the Go side calls while walking the option
// tree. It is evaluated once per run, in the run's evaluator.
const optionsHelperNix = `
let
  lib = import <onix/lib>;
  inherit (builtins) head isAttrs isList isFunction functionArgs attrNames all elem
    concatMap filter foldl' match unsafeGetAttrPos;
  isSubmodule = t: (t.name or null) == "submodule";
  # The option tree of one submodule value: the evaluation the submodule
  # type's merge does, keeping its options instead of only its config.
  subEval = loc: t: defs:
    let p = t.functor.payload or { }; in
    (lib.evalModules {
      prefix = loc;
      class = p.class or null;
      specialArgs = p.specialArgs or { };
      modules = [ { _file = "<onix options>"; config._module.args.name = lib.last loc; } ]
        ++ t.getSubModules
        ++ map (d:
          if isAttrs d.value && (p.shorthandOnlyDefinesConfig or false)
          then { _file = d.file; config = d.value; }
          else { _file = d.file; imports = [ d.value ]; }) defs;
    }).options;
in
{
  # A file's function is called with --arg/--argstr (like nix-instantiate)
  # when every formal it requires is given; otherwise it is a module.
  autoCallable = argNames: f:
    isFunction f && (let fa = functionArgs f; in
      fa != { } && all (n: fa.${n} || elem n argNames) (attrNames fa));

  # file: the file v came from, where a single module is declared.
  toResult = file: v:
    if isAttrs v && (v._type or null) == "configuration" then v
    else lib.evalModules { modules = if isList v then v else [ { _file = file; imports = [ v ]; } ]; };

  isOption = v: isAttrs v && (v._type or null) == "option";

  pretty = v: lib.generators.toPretty { } v;

  # The default as documentation shows it: defaultText wins.
  defaultText = opt:
    if opt ? defaultText then
      (if isAttrs opt.defaultText && opt.defaultText ? text then opt.defaultText.text
       else lib.generators.toPretty { } opt.defaultText)
    else lib.generators.toPretty { } opt.default;

  # The first line of the declaration in file, where the option record
  # still carries attribute positions from that file (else null).
  # declarationPositions has it under <onix/lib>; otherwise the first
  # positioned attribute of the declaration is used.
  declLine = opt: file:
    let
      known = filter (p: p.file == file && p.line != null) (opt.declarationPositions or [ ]);
      ps = filter (p: p != null && p.file == file)
        (map (n: unsafeGetAttrPos n opt) [ "default" "defaultText" "description" "example" "apply" "readOnly" "internal" "visible" ]);
    in
    if known != [ ] then (head known).line
    else if ps == [ ] then null else foldl' (m: p: if m == null || p.line < m then p.line else m) null ps;

  # The line of a definition (under <onix/lib> its value attribute is at
  # the attribute that defined it), else null.
  defLine = def:
    let p = unsafeGetAttrPos "value" def; in
    if p != null && p.file == toString def.file then p.line else null;

  # Where a path continues below the option opt (whose next component is
  # name): { options; consumed; } (consumed: path components used up by
  # the attribute name of an attrsOf), { names; } when an attrsOf has no
  # such entry, or null when opt has no sub-options.
  subOptions = opt: name:
    let t = opt.type; in
    if isSubmodule t then { options = subEval opt.loc t opt.definitionsWithLocations; consumed = 0; }
    else if elem (t.name or null) [ "attrsOf" "lazyAttrsOf" ] && isSubmodule (t.nestedTypes.elemType or { }) then
      let
        et = t.nestedTypes.elemType;
        loc = opt.loc ++ [ name ];
        raw = concatMap (d:
          if isAttrs d.value && d.value ? ${name} then [ { inherit (d) file; value = d.value.${name}; } ] else [ ])
          opt.definitionsWithLocations;
      in
      if match "<.*>" name != null then { options = t.getSubOptions opt.loc; consumed = 1; }
      else if raw == [ ] then { names = attrNames opt.value; }
      else { options = subEval loc et (lib.modules.mergeDefinitions loc et raw).defsFinal; consumed = 1; }
    else null;
}
`

type optionsFlags struct {
	evalArgs
	json, recursive      bool
	showTrace, wantsHelp bool
	positional           []string
}

func newOptionsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "options FILE [OPTION] [-I PATH] [--arg NAME EXPR] [--argstr NAME STR] [--json] [-r]",
		Short: "Show NixOS-style module options: values, defaults, types, declarations, definitions",
		Long: `options shows the options of a module-system evaluation, like nixos-option.

FILE evaluates to the result of evalModules (a set with options and config),
or to a module or a list of modules, which are then evaluated with
(import <onix/lib>).evalModules. Without OPTION the top-level option names are
listed; an option set lists the options below it (all of them, described,
with -r); an option is described: value, default, type, description, where it
is declared and every definition. Submodule values are reached by name
(users.users.alice.isNormalUser), their declarations by placeholder
(users.users.<name>.isNormalUser).`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parseOptionsArgs(args)
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "error: %v\n", err)
				return exitError{1}
			}
			if f.wantsHelp {
				return cmd.Help()
			}
			return runOptions(cmd, f)
		},
	}
}

func parseOptionsArgs(args []string) (*optionsFlags, error) {
	f := &optionsFlags{}
	for i := 0; i < len(args); i++ {
		if last, ok, err := f.parseFlag(args, i); ok {
			if err != nil {
				return nil, err
			}
			i = last
			continue
		}
		a := args[i]
		switch a {
		case "-h", "--help":
			f.wantsHelp = true
		case "--json":
			f.json = true
		case "-r", "--recursive":
			f.recursive = true
		case "--show-trace":
			f.showTrace = true
		default:
			switch {
			case strings.HasPrefix(a, "-") && a != "-":
				return nil, fmt.Errorf("unrecognised flag '%s'", a)
			default:
				f.positional = append(f.positional, a)
			}
		}
	}
	if !f.wantsHelp && (len(f.positional) < 1 || len(f.positional) > 2) {
		return nil, errors.New("expected FILE and at most one OPTION (see 'onix options --help')")
	}
	return f, nil
}

// optionsRun is one `onix options` invocation: the evaluator, the helper
// functions and the evalModules result being inspected.
type optionsRun struct {
	ev     *eval.Evaluator
	helper *eval.Value
	result *eval.Value
}

func runOptions(cmd *cobra.Command, f *optionsFlags) error {
	tuneRuntime()
	stderr := cmd.ErrOrStderr()
	fail := func(err error) error {
		var ee *eval.Error
		if errors.As(err, &ee) {
			fmt.Fprintln(stderr, ee.Format(f.showTrace))
		} else {
			fmt.Fprintf(stderr, "error: %v\n", err)
		}
		return exitError{1}
	}
	ev := eval.New(cmd.Context(), evalOptions(f.include, f.showTrace, stderr))
	r, err := loadOptionsRun(ev, f.positional[0], f.args)
	if err != nil {
		return fail(err)
	}
	var path []string
	if len(f.positional) == 2 {
		if path, err = splitOptionPath(f.positional[1]); err != nil {
			return fail(err)
		}
	}
	res, err := r.resolve(path)
	if err != nil {
		return fail(err)
	}
	out := cmd.OutOrStdout()
	switch {
	case res.option != nil:
		info := r.describe(res.option)
		if f.json {
			return writeJSON(out, info)
		}
		writeOptionText(out, info)
	case f.recursive:
		var infos []*optionInfo
		if err := r.eachOption(res.tree, func(opt *eval.Value) error {
			infos = append(infos, r.describe(opt))
			return nil
		}); err != nil {
			return fail(err)
		}
		if f.json {
			if infos == nil {
				infos = []*optionInfo{}
			}
			return writeJSON(out, infos)
		}
		for i, info := range infos {
			if i > 0 {
				fmt.Fprintln(out)
			}
			fmt.Fprintf(out, "%s\n", info.Name)
			writeOptionText(out, info)
		}
	default:
		names, err := r.childNames(res.tree)
		if err != nil {
			return fail(err)
		}
		if f.json {
			if names == nil {
				names = []string{}
			}
			return writeJSON(out, names)
		}
		for _, n := range names {
			fmt.Fprintln(out, showOptionPath(append(append([]string(nil), path...), n)))
		}
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding JSON: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// loadOptionsRun evaluates file (auto-called with args when it is a
// function of them, as nix-instantiate does) to an evalModules result.
func loadOptionsRun(ev *eval.Evaluator, file string, args []eval.AutoArg) (*optionsRun, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("getting the working directory: %w", err)
	}
	helper, err := ev.EvalString(optionsHelperNix, "«onix options»", wd)
	if err != nil {
		return nil, fmt.Errorf("loading the options helper: %w", err)
	}
	r := &optionsRun{ev: ev, helper: helper}
	p := file
	if len(p) > 2 && p[0] == '<' && p[len(p)-1] == '>' {
		if p, err = ev.FindFile(p[1 : len(p)-1]); err != nil {
			return nil, err
		}
	} else if !filepath.IsAbs(p) {
		p = filepath.Join(wd, p)
	}
	p = eval.ResolveExprPath(p)
	v, err := ev.EvalFile(p)
	if err != nil {
		return nil, err
	}
	names := make([]*eval.Value, len(args))
	for i, a := range args {
		names[i] = eval.MkString(a.Name)
	}
	call, err := r.call("autoCallable", eval.MkList(names), v)
	if err != nil {
		return nil, err
	}
	if call.Kind() == eval.KBool && call.Bool() {
		if v, err = ev.AutoCall(v, args); err != nil {
			return nil, err
		}
	}
	if r.result, err = r.call("toResult", eval.MkString(p), v); err != nil {
		return nil, err
	}
	return r, nil
}

// call applies the helper function name to args and forces the result.
func (r *optionsRun) call(name string, args ...*eval.Value) (*eval.Value, error) {
	if err := r.ev.Force(r.helper); err != nil {
		return nil, err
	}
	fn := r.ev.GetAttr(r.helper.Attrs(), name)
	if fn == nil {
		return nil, fmt.Errorf("options helper has no function %q", name)
	}
	v, err := r.ev.Call(fn, args...)
	if err != nil {
		return nil, err
	}
	if err := r.ev.Force(v); err != nil {
		return nil, err
	}
	return v, nil
}

// attr forces v to a set and returns its attribute name (nil if absent).
func (r *optionsRun) attr(v *eval.Value, name string) (*eval.Value, error) {
	if err := r.ev.Force(v); err != nil {
		return nil, err
	}
	if v.Kind() != eval.KAttrs {
		return nil, nil
	}
	a := r.ev.GetAttr(v.Attrs(), name)
	if a == nil {
		return nil, nil
	}
	if err := r.ev.Force(a); err != nil {
		return nil, err
	}
	return a, nil
}

func (r *optionsRun) isOption(v *eval.Value) (bool, error) {
	b, err := r.call("isOption", v)
	if err != nil {
		return false, err
	}
	return b.Kind() == eval.KBool && b.Bool(), nil
}

func (r *optionsRun) str(v *eval.Value) (string, error) {
	if err := r.ev.Force(v); err != nil {
		return "", err
	}
	if v.Kind() != eval.KString && v.Kind() != eval.KPath {
		return r.ev.CoerceString(v)
	}
	return v.Str(), nil
}

func (r *optionsRun) strList(v *eval.Value) ([]string, error) {
	if err := r.ev.Force(v); err != nil {
		return nil, err
	}
	if v.Kind() != eval.KList {
		return nil, fmt.Errorf("expected a list, got a value of kind %d", v.Kind())
	}
	var out []string
	for _, e := range v.List() {
		s, err := r.str(e)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// resolved is where an option path leads: an option, or an option set.
type resolved struct {
	option *eval.Value
	tree   *eval.Value
}

// resolve walks path through the option tree, descending into submodule
// values where the path goes below a submodule-typed option.
func (r *optionsRun) resolve(path []string) (*resolved, error) {
	tree, err := r.attr(r.result, "options")
	if err != nil {
		return nil, fmt.Errorf("reading the options of the evaluation: %w", err)
	}
	if tree == nil {
		return nil, errors.New("FILE did not evaluate to an evalModules result (no 'options' attribute)")
	}
	base, basePrefix := tree, []string(nil) // the tree suggestions are taken from
	missing := func(extra []string) error {
		cands, err := r.candidates(base, basePrefix)
		if err != nil {
			return err
		}
		return unknownOptionError(path, append(cands, extra...))
	}
	cur := tree
	for i := 0; i < len(path); {
		name := path[i]
		child, err := r.attr(cur, name)
		if err != nil {
			return nil, err
		}
		if child == nil || child.Kind() != eval.KAttrs {
			return nil, missing(nil)
		}
		isOpt, err := r.isOption(child)
		if err != nil {
			return nil, err
		}
		if !isOpt {
			cur = child
			i++
			continue
		}
		if i == len(path)-1 {
			return &resolved{option: child}, nil
		}
		sub, err := r.call("subOptions", child, eval.MkString(path[i+1]))
		if err != nil {
			return nil, fmt.Errorf("evaluating the sub-options of '%s': %w", showOptionPath(path[:i+1]), err)
		}
		if sub.Kind() != eval.KAttrs {
			return nil, missing(nil)
		}
		if names, err := r.attr(sub, "names"); err != nil {
			return nil, err
		} else if names != nil {
			// an attrsOf (submodule) without that entry: suggest the
			// entries it has, with the rest of the path
			defined, err := r.strList(names)
			if err != nil {
				return nil, err
			}
			var extra []string
			for _, d := range defined {
				extra = append(extra, showOptionPath(append(append(append([]string(nil), path[:i+1]...), d), path[i+2:]...)))
			}
			return nil, missing(extra)
		}
		opts, err := r.attr(sub, "options")
		if err != nil {
			return nil, err
		}
		consumed, err := r.attr(sub, "consumed")
		if err != nil {
			return nil, err
		}
		i += 1 + int(consumed.Int())
		cur = opts
		base, basePrefix = opts, path[:i]
	}
	return &resolved{tree: cur}, nil
}

// childNames lists the names below an option set, without the module
// system's internal _module.
func (r *optionsRun) childNames(tree *eval.Value) ([]string, error) {
	if err := r.ev.Force(tree); err != nil {
		return nil, err
	}
	if tree.Kind() != eval.KAttrs {
		return nil, nil
	}
	var names []string
	for _, a := range tree.Attrs().All() {
		if n := r.ev.SymbolName(a.Name); n != "_module" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// walkTree calls fn for every option set and option below tree (names
// relative to it, depth first in name order), not below options.
func (r *optionsRun) walkTree(tree *eval.Value, prefix []string, fn func(path []string, v *eval.Value, isOpt bool) error) error {
	names, err := r.childNames(tree)
	if err != nil {
		return err
	}
	for _, n := range names {
		child, err := r.attr(tree, n)
		if err != nil {
			return err
		}
		if child == nil || child.Kind() != eval.KAttrs {
			continue
		}
		isOpt, err := r.isOption(child)
		if err != nil {
			return err
		}
		p := append(append([]string(nil), prefix...), n)
		if err := fn(p, child, isOpt); err != nil {
			return err
		}
		if !isOpt {
			if err := r.walkTree(child, p, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *optionsRun) eachOption(tree *eval.Value, fn func(opt *eval.Value) error) error {
	return r.walkTree(tree, nil, func(_ []string, v *eval.Value, isOpt bool) error {
		if isOpt {
			return fn(v)
		}
		return nil
	})
}

// candidates are the option and option-set names below tree, for
// did-you-mean suggestions.
func (r *optionsRun) candidates(tree *eval.Value, prefix []string) ([]string, error) {
	var out []string
	err := r.walkTree(tree, prefix, func(p []string, _ *eval.Value, _ bool) error {
		out = append(out, showOptionPath(p))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the declared options: %w", err)
	}
	return out, nil
}

// unknownOptionError names the candidates nearest to path by edit distance.
func unknownOptionError(path []string, candidates []string) error {
	want := showOptionPath(path)
	best := nearestNames(want, candidates, 3)
	if len(best) == 0 {
		return fmt.Errorf("option '%s' does not exist", want)
	}
	return fmt.Errorf("option '%s' does not exist; did you mean %s?", want, quoteJoin(best))
}

func quoteJoin(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = "'" + s + "'"
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// nearestNames returns up to n candidates closest to want, all within a
// distance that grows with the length of want, best first.
func nearestNames(want string, candidates []string, n int) []string {
	limit := max(3, len(want)/4)
	type scored struct {
		d    int
		name string
	}
	seen := map[string]bool{}
	var l []scored
	for _, c := range candidates {
		if seen[c] {
			continue
		}
		seen[c] = true
		if d := eval.EditDistance(want, c); d <= limit {
			l = append(l, scored{d, c})
		}
	}
	sort.Slice(l, func(i, j int) bool {
		if l[i].d != l[j].d {
			return l[i].d < l[j].d
		}
		return l[i].name < l[j].name
	})
	var out []string
	for i := 0; i < len(l) && i < n; i++ {
		out = append(out, l[i].name)
	}
	return out
}

// splitOptionPath splits "a.b.\"c.d\".e" into components.
func splitOptionPath(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	quoted, started := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			quoted, started = !quoted, true
		case c == '.' && !quoted:
			if !started {
				return nil, fmt.Errorf("invalid option path '%s': empty component", s)
			}
			out = append(out, cur.String())
			cur.Reset()
			started = false
		default:
			cur.WriteByte(c)
			started = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("invalid option path '%s': unterminated quote", s)
	}
	if !started {
		return nil, fmt.Errorf("invalid option path '%s': empty component", s)
	}
	return append(out, cur.String()), nil
}

// showOptionPath joins components like lib.showOption: components that are
// not plain identifiers (and not <placeholders>) are quoted.
func showOptionPath(p []string) string {
	parts := make([]string, len(p))
	for i, c := range p {
		if isPlainOptionName(c) || c == "*" || (strings.HasPrefix(c, "<") && strings.HasSuffix(c, ">")) {
			parts[i] = c
		} else {
			parts[i] = `"` + strings.ReplaceAll(strings.ReplaceAll(c, `\`, `\\`), `"`, `\"`) + `"`
		}
	}
	return strings.Join(parts, ".")
}

func isPlainOptionName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '\'' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// optionInfo is everything `onix options` shows about one option.
type optionInfo struct {
	Name         string            `json:"name"`
	Loc          []string          `json:"loc"`
	Type         string            `json:"type,omitempty"`
	Description  *string           `json:"description"`
	Value        *shownValue       `json:"value"`
	Default      *shownValue       `json:"default,omitempty"`
	ReadOnly     bool              `json:"readOnly"`
	Internal     bool              `json:"internal"`
	Declarations []optionDeclInfo  `json:"declarations"`
	Definitions  []optionDefInfo   `json:"definitions"`
	Errors       map[string]string `json:"errors,omitempty"`
}

// shownValue is a Nix value: as JSON when it has a JSON form, and as
// pretty-printed Nix text.
type shownValue struct {
	JSON json.RawMessage `json:"json,omitempty"`
	Text string          `json:"text"`
}

type optionDeclInfo struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
}

type optionDefInfo struct {
	File  string      `json:"file"`
	Line  int         `json:"line,omitempty"`
	Value *shownValue `json:"value"`
}

// describe collects an option's information; a part that fails to
// evaluate is recorded in Errors rather than failing the whole command.
func (r *optionsRun) describe(opt *eval.Value) *optionInfo {
	info := &optionInfo{Declarations: []optionDeclInfo{}, Definitions: []optionDefInfo{}}
	note := func(what string, err error) {
		if err == nil {
			return
		}
		if info.Errors == nil {
			info.Errors = map[string]string{}
		}
		info.Errors[what] = firstLine(err.Error())
	}
	get := func(name string) *eval.Value {
		v, err := r.attr(opt, name)
		note(name, err)
		return v
	}
	if loc := get("loc"); loc != nil {
		l, err := r.strList(loc)
		note("loc", err)
		info.Loc = l
		info.Name = showOptionPath(l)
	}
	if t := get("type"); t != nil {
		if d, err := r.attr(t, "description"); err != nil {
			note("type", err)
		} else if d != nil {
			s, err := r.str(d)
			note("type", err)
			info.Type = s
		}
	}
	if d := get("description"); d != nil && d.Kind() != eval.KNull {
		s, err := r.str(d)
		note("description", err)
		if err == nil {
			info.Description = &s
		}
	}
	for _, flag := range []struct {
		name string
		dst  *bool
	}{{"readOnly", &info.ReadOnly}, {"internal", &info.Internal}} {
		if b := get(flag.name); b != nil && b.Kind() == eval.KBool {
			*flag.dst = b.Bool()
		}
	}
	if v := get("value"); v != nil {
		sv, err := r.show(v)
		note("value", err)
		info.Value = sv
	}
	hasDefault := get("default") != nil || get("defaultText") != nil
	if info.Errors["default"] != "" {
		hasDefault = true
	}
	if hasDefault {
		sv := &shownValue{}
		txt, err := r.call("defaultText", opt)
		if err == nil {
			sv.Text, err = r.str(txt)
		}
		note("default", err)
		if d := r.ev.GetAttr(opt.Attrs(), "default"); d != nil && err == nil {
			if j, jerr := r.ev.ToJSON(d, false); jerr == nil {
				sv.JSON = json.RawMessage(j)
			}
		}
		info.Default = sv
	}
	if decls := get("declarations"); decls != nil {
		files, err := r.strList(decls)
		note("declarations", err)
		for _, f := range files {
			d := optionDeclInfo{File: f}
			if line, err := r.call("declLine", opt, eval.MkString(f)); err == nil && line.Kind() == eval.KInt {
				d.Line = int(line.Int())
			}
			info.Declarations = append(info.Declarations, d)
		}
	}
	if defs := get("definitionsWithLocations"); defs != nil && defs.Kind() == eval.KList {
		for _, def := range defs.List() {
			var di optionDefInfo
			if f, err := r.attr(def, "file"); err != nil {
				note("definitions", err)
			} else if f != nil {
				di.File, err = r.str(f)
				note("definitions", err)
			}
			if line, err := r.call("defLine", def); err == nil && line.Kind() == eval.KInt {
				di.Line = int(line.Int())
			}
			if v, err := r.attr(def, "value"); err != nil {
				note("definitions", err)
			} else if v != nil {
				sv, err := r.show(v)
				note("definitions", err)
				di.Value = sv
			}
			info.Definitions = append(info.Definitions, di)
		}
	}
	return info
}

// show renders v as pretty Nix text, and as JSON when it has a JSON form.
func (r *optionsRun) show(v *eval.Value) (*shownValue, error) {
	txt, err := r.call("pretty", v)
	if err != nil {
		return nil, err
	}
	s, err := r.str(txt)
	if err != nil {
		return nil, err
	}
	sv := &shownValue{Text: s}
	if j, err := r.ev.ToJSON(v, false); err == nil {
		sv.JSON = json.RawMessage(j)
	}
	return sv, nil
}

func firstLine(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "error: ")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// writeOptionText prints an option the way nixos-option does.
func writeOptionText(w io.Writer, info *optionInfo) {
	block := func(title, body string) {
		fmt.Fprintf(w, "%s:\n%s\n\n", title, body)
	}
	errOr := func(what string, sv *shownValue) string {
		if e := info.Errors[what]; e != "" {
			return "<error: " + e + ">"
		}
		if sv == nil {
			return "<none>"
		}
		return sv.Text
	}
	block("Value", errOr("value", info.Value))
	if info.Default != nil {
		block("Default", errOr("default", info.Default))
	}
	if e := info.Errors["type"]; e != "" {
		block("Type", "<error: "+e+">")
	} else if info.Type != "" {
		block("Type", info.Type)
	}
	if info.Description != nil {
		block("Description", strings.TrimRight(*info.Description, "\n"))
	}
	var decl strings.Builder
	for _, d := range info.Declarations {
		if d.Line > 0 {
			fmt.Fprintf(&decl, "  %s:%d\n", d.File, d.Line)
		} else {
			fmt.Fprintf(&decl, "  %s\n", d.File)
		}
	}
	fmt.Fprintf(w, "Declared by:\n%s\n", decl.String())
	fmt.Fprintln(w, "Defined by:")
	if e := info.Errors["definitions"]; e != "" {
		fmt.Fprintf(w, "  <error: %s>\n", e)
	}
	for _, d := range info.Definitions {
		if d.Line > 0 {
			fmt.Fprintf(w, "  %s:%d:\n", d.File, d.Line)
		} else {
			fmt.Fprintf(w, "  %s:\n", d.File)
		}
		text := "<error>"
		if d.Value != nil {
			text = d.Value.Text
		}
		for _, l := range strings.Split(text, "\n") {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
}
