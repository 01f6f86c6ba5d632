package syntax

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// langTestsDir is where ../shared/conformance/get-suites.sh extracts the
// official Nix language tests (NixOS/nix master). They are other projects'
// code and are never copied into this repository.
func langTestsDir(t *testing.T) string {
	dir := os.Getenv("NIX_LANG_TESTS")
	if dir == "" {
		dir = "/tmp/nix-lang-tests"
	}
	dir = filepath.Join(dir, "lang")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("official Nix language tests not found at %s (see ../shared/conformance/README.md)", dir)
	}
	return dir
}

// TestOfficialParse runs the parse-okay (output compared with .exp) and
// parse-fail tests of the official suite, and checks that every eval-*
// test parses (eval-fail tests may fail at parse time only if they are
// about parse errors, which none is).
func TestOfficialParse(t *testing.T) {
	dir := langTestsDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.nix"))
	for _, path := range files {
		base := strings.TrimSuffix(filepath.Base(path), ".nix")
		kind := ""
		for _, k := range []string{"parse-okay-", "parse-fail-", "eval-okay-", "eval-fail-"} {
			if strings.HasPrefix(base, k) {
				kind = k
			}
		}
		if kind == "" {
			continue
		}
		t.Run(base, func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// The runner feeds the file on stdin, so relative paths
			// resolve against the working directory.
			f := &File{Name: "«stdin»", Dir: "/pwd", Src: src}
			e, err := ParseWith(f, Options{Home: "/home/test"})
			switch kind {
			case "parse-okay-":
				if err != nil {
					t.Fatalf("unexpected error:\n%v", err.(*Error).Format())
				}
				exp, err := os.ReadFile(filepath.Join(dir, base+".exp"))
				if err != nil {
					return
				}
				if got, want := ShowString(e), strings.TrimRight(string(exp), "\n"); got != want {
					t.Errorf("got:\n%s\nwant:\n%s", got, want)
				}
			case "parse-fail-":
				if err == nil {
					// undefined variables are reported by the
					// evaluator's compiler, not the parser
					if strings.Contains(base, "undef-var") || strings.Contains(base, "regression-20060610") {
						return
					}
					t.Fatalf("parsed, want an error; got %s", ShowString(e))
				}
				checkErrExp(t, filepath.Join(dir, base+".err.exp"), err.(*Error))
			default:
				if err == nil {
					return
				}
				if kind == "eval-okay-" {
					t.Fatalf("does not parse:\n%s", err.(*Error).Format())
				}
				// Some eval-fail tests are errors of the parser.
				checkErrExp(t, filepath.Join(dir, base+".err.exp"), err.(*Error))
			}
		})
	}
}

// checkErrExp compares the message and the line:column of a parse error
// with an .err.exp file (the source excerpt layout differs: it is Nix
// 2.8's here).
func checkErrExp(t *testing.T, path string, pe *Error) {
	t.Helper()
	exp, err := os.ReadFile(path)
	if err != nil {
		return
	}
	// The message may span lines (a quoted multi-line string); the
	// position is on the first line that starts with "at ".
	lines := strings.Split(string(exp), "\n")
	atLine := -1
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "at ") {
			atLine = i
			break
		}
	}
	if atLine < 1 {
		t.Fatalf("%s: no position line", path)
	}
	wantMsg := strings.TrimPrefix(strings.Join(lines[:atLine], "\n"), "error: ")
	if gotMsg := strings.ReplaceAll(pe.Msg, "\n", "\n       "); pe.Msg != wantMsg && gotMsg != wantMsg {
		t.Errorf("message %q, want %q", pe.Msg, wantMsg)
	}
	at := strings.TrimSuffix(strings.TrimSpace(lines[atLine]), ":")
	lc := at[strings.LastIndex(at[:strings.LastIndex(at, ":")], ":")+1:]
	if got := strconv.Itoa(int(pe.Pos.Line)) + ":" + strconv.Itoa(int(pe.Pos.Col)); got != lc {
		t.Errorf("position %s, want %s (%s)", got, lc, at)
	}
}
