package eval

import (
	"os"
	"path/filepath"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

// ParseOnly parses text (file name name, relative paths against dir) and
// returns what nix-instantiate --parse prints for it (without newline).
func (ev *Evaluator) ParseOnly(text, name, dir string) (s string, err error) {
	err = ev.catch(func() {
		e := ev.parse(&syntax.File{Name: name, Dir: dir, Src: []byte(text)})
		(&compiler{ev: ev}).compile(e, ev.base) // binds variables, as Nix's parser does
		s = syntax.ShowString(e)
	})
	return
}

// ParseFileOnly is ParseOnly for a file (directories mean default.nix).
func (ev *Evaluator) ParseFileOnly(path string) (s string, err error) {
	err = ev.catch(func() {
		f := ev.readSource(path, syntax.Pos{})
		e := ev.parse(f)
		(&compiler{ev: ev}).compile(e, ev.base)
		s = syntax.ShowString(e)
	})
	return
}

// FindFile resolves a <name> lookup against the search path, as
// nix-instantiate does for a file argument written <name>.
func (ev *Evaluator) FindFile(name string) (p string, err error) {
	err = ev.catch(func() {
		nixPath, ok := ev.base.vars["__nixPath"]
		if !ok {
			ev.errorAt(syntax.Pos{}, "no search path")
		}
		p = ev.findFile(ev.ForceList(syntax.Pos{}, ev.baseEnv.get(nixPath)), name, syntax.Pos{})
	})
	return
}

// ResolveExprPath is Nix's resolveExprPath: symlinks followed, directories
// mean their default.nix.
func ResolveExprPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		return filepath.Join(p, "default.nix")
	}
	return p
}
