package modules

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/onix-dev/onix/internal/eval"
)

// markerLines returns the 1-based lines of file that carry the comment
// marker (e.g. "# def").
func markerLines(t *testing.T, file, marker string) []int {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []int
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.HasSuffix(strings.TrimSpace(sc.Text()), marker) {
			lines = append(lines, n)
		}
	}
	return lines
}

func newLibEvaluator(t *testing.T) *eval.Evaluator {
	t.Helper()
	return eval.New(context.Background(), eval.Options{
		FS:       map[string]fs.FS{"onix": FS()},
		CacheDir: t.TempDir(),
	})
}

var defLineRE = regexp.MustCompile("- In `([^']*)', line ([0-9]+)")

// TestDefinitionLines: module-system errors name each definition's file
// and line. The expected lines are the ones marked "# def" in the fixture
// files under testdata/lines; every definition the message lists must
// carry its line.
func TestDefinitionLines(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("testdata", "lines"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		modules []string
		option  string
		want    string // a phrase of the message
	}{
		{"type error", []string{"type-plain.nix"}, "port", "is not of type"},
		{"type error under mkMerge, mkIf and mkForce", []string{"type-props.nix"}, "port", "is not of type"},
		{"conflict", []string{"conflict-a.nix", "conflict-b.nix"}, "name", "conflicting definition values"},
		{"undeclared option", []string{"undeclared.nix"}, "name", "does not exist"},
		{"attrsOf submodule element", []string{"element.nix"}, "users", "is not of type"},
		{"listOf element", []string{"list.nix"}, "flags", "is not of type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mods := []string{filepath.Join(dir, "options.nix")}
			want := map[string]bool{}
			for _, m := range c.modules {
				p := filepath.Join(dir, m)
				mods = append(mods, p)
				for _, l := range markerLines(t, p, "# def") {
					want[fmt.Sprintf("%s:%d", p, l)] = true
				}
			}
			expr := fmt.Sprintf(`let lib = import <onix/lib>; in builtins.deepSeq (lib.evalModules { modules = [ %s ]; }).config.services.foo.%s null`,
				strings.Join(mods, " "), c.option)
			ev := newLibEvaluator(t)
			v, err := ev.EvalString(expr, "«test»", dir)
			if err == nil {
				err = ev.ForceDeep(v)
			}
			if err == nil {
				t.Fatal("evaluation succeeded, want an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, c.want) {
				t.Fatalf("error lacks %q:\n%s", c.want, msg)
			}
			got := map[string]bool{}
			for _, m := range defLineRE.FindAllStringSubmatch(msg, -1) {
				got[m[1]+":"+m[2]] = true
			}
			for w := range want {
				if !got[w] {
					t.Errorf("error does not name definition %s:\n%s", w, msg)
				}
			}
			for g := range got {
				if !want[g] {
					t.Errorf("error names %s, which is not a marked definition:\n%s", g, msg)
				}
			}
		})
	}
}

// TestDeclarationPositions: options carry the line of their declaration
// in declarationPositions (the lines marked "# decl:NAME").
func TestDeclarationPositions(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("testdata", "lines"))
	if err != nil {
		t.Fatal(err)
	}
	opts := filepath.Join(dir, "options.nix")
	for _, name := range []string{"port", "name"} {
		lines := markerLines(t, opts, "# decl:"+name)
		if len(lines) != 1 {
			t.Fatalf("fixture has %d markers for %s", len(lines), name)
		}
		expr := fmt.Sprintf(`let lib = import <onix/lib>; in map (p: "${p.file}:${toString p.line}") (lib.evalModules { modules = [ %s ]; }).options.services.foo.%s.declarationPositions`, opts, name)
		ev := newLibEvaluator(t)
		v, err := ev.EvalString(expr, "«test»", dir)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ev.PrintValue(v, true)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf(`[ "%s:%d" ]`, opts, lines[0])
		if got != want {
			t.Errorf("%s: declarationPositions %s, want %s", name, got, want)
		}
	}
}
