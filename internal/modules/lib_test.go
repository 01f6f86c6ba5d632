package modules

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The conformance cases in ../shared/testdata/modules are evaluated with an
// evaluator command (default nix-instantiate, override with
// ONIX_MODULES_EVALUATOR, e.g. "onix instantiate") against our lib and
// compared with the stored nixpkgs results. ONIX_MODULES_LIB overrides the
// Nix expression passed as `lib` (default: import of this package's lib
// directory), e.g. "import <onix/lib>".

var (
	ansiRE     = regexp.MustCompile("\x1b\\[[0-9;]*m")
	positionRE = regexp.MustCompile(`^at .*:\d+:\d+:$`)
	// onix adds the line of each definition to the file Nix names
	// ("- In `f.nix', line 3: ..."; see lib/ERRORS.md); the stored
	// messages have the file only, and TestDefinitionLines checks lines.
	defLineSuffixRE = regexp.MustCompile("^(- In `[^']*'), line [0-9]+")
)

// looseErrors are cases whose error text belongs to the evaluator, not to
// lib: only the error class is compared.
var looseErrors = map[string]string{
	"43-module-args-used-in-imports":    "infinite recursion encountered",
	"58-config-shape-depends-on-config": "infinite recursion encountered",
	"68-module-without-ellipsis":        "called with unexpected argument",
}

func TestLibFS(t *testing.T) {
	b, err := fs.ReadFile(LibFS(), "default.nix")
	if err != nil {
		t.Fatalf("default.nix not embedded: %v", err)
	}
	if !bytes.Contains(b, []byte("modules.nix")) {
		t.Fatalf("default.nix does not load modules.nix")
	}
	for _, f := range []string{"modules.nix", "types.nix", "options.nix", "lists.nix", "attrsets.nix", "strings.nix", "trivial.nix"} {
		if _, err := fs.Stat(LibFS(), f); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
}

// TestConformanceCases runs the 86 cases twice: with real Nix evaluating our
// lib (the lib's behaviour against Nix's own evaluator) and with onix
// evaluating <onix/lib> from its binary (what users run). With
// ONIX_MODULES_EVALUATOR set, only that evaluator runs; NIXPKGS_LIB (a
// nixpkgs lib/ directory) adds a run of onix with the real nixpkgs lib.
func TestConformanceCases(t *testing.T) {
	casesDir, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "testdata", "modules"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(casesDir, "eval.nix")); err != nil {
		t.Skipf("skipping: conformance cases not found at %s (%v)", casesDir, err)
	}
	libDir, err := filepath.Abs("lib")
	if err != nil {
		t.Fatal(err)
	}
	if ev := strings.Fields(os.Getenv("ONIX_MODULES_EVALUATOR")); len(ev) > 0 {
		libExpr := os.Getenv("ONIX_MODULES_LIB")
		if libExpr == "" {
			libExpr = "import " + libDir
		}
		runCases(t, casesDir, ev, libExpr)
		return
	}
	t.Run("nix-instantiate", func(t *testing.T) {
		if _, err := exec.LookPath("nix-instantiate"); err != nil {
			t.Skip("skipping: nix-instantiate not on PATH (apt-get install nix-bin)")
		}
		runCases(t, casesDir, []string{"nix-instantiate"}, "import "+libDir)
	})
	onix := filepath.Join(t.TempDir(), "onix")
	build := exec.Command("go", "build", "-o", onix, "github.com/onix-dev/onix/cmd/onix")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building onix: %v\n%s", err, out)
	}
	t.Run("onix", func(t *testing.T) {
		runCases(t, casesDir, []string{onix, "instantiate"}, "import <onix/lib>")
	})
	if nixpkgsLib := os.Getenv("NIXPKGS_LIB"); nixpkgsLib != "" {
		// The stored results come from one nixpkgs version; another
		// version may differ in small ways (e.g. the _prefix module
		// argument), so onix is compared with Nix on the same lib.
		t.Run("onix-vs-nix-on-nixpkgs-lib", func(t *testing.T) {
			if _, err := exec.LookPath("nix-instantiate"); err != nil {
				t.Skip("skipping: nix-instantiate not on PATH")
			}
			compareWithNix(t, casesDir, onix, "import "+nixpkgsLib)
		})
	}
}

// compareWithNix runs every case under nix-instantiate and under onix with
// the same lib and requires the same stdout and the same success or failure.
func compareWithNix(t *testing.T, casesDir, onix, libExpr string) {
	entries, err := os.ReadDir(casesDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || len(name) < 3 || name[2] != '-' {
			continue
		}
		t.Run(name, func(t *testing.T) {
			args := []string{"--eval", "--strict", "--json", "eval.nix", "--arg", "lib", libExpr, "--arg", "dir", filepath.Join(casesDir, name)}
			// run returns stdout (or, on failure, the first line of
			// stderr: Nix 2.8 streams partial --json output before an
			// error) and whether the evaluation succeeded.
			run := func(cmd ...string) (string, bool) {
				c := exec.Command(cmd[0], append(cmd[1:], args...)...)
				c.Dir = casesDir
				var stderr bytes.Buffer
				c.Stderr = &stderr
				out, err := c.Output()
				if err != nil {
					first, _, _ := strings.Cut(stderr.String(), "\n")
					// Nix 2.8 trims trailing blanks and says "anonymous
					// function" where current Nix says "anonymous lambda".
					first = strings.TrimRight(first, " ")
					first = strings.Replace(first, "anonymous function", "anonymous lambda", 1)
					return first, false
				}
				// Nix 2.8 ends --json output without a newline, current
				// Nix (and onix) with one.
				return strings.TrimRight(string(out), "\n"), true
			}
			nixOut, nixOK := run("nix-instantiate")
			onixOut, onixOK := run(onix, "instantiate")
			if nixOK != onixOK || (nixOut != onixOut && looseErrors[name] == "") {
				t.Errorf("nix (ok=%v): %s\nonix (ok=%v): %s", nixOK, nixOut, onixOK, onixOut)
			}
		})
	}
}

func runCases(t *testing.T, casesDir string, evaluator []string, libExpr string) {
	if _, err := exec.LookPath(evaluator[0]); err != nil {
		t.Skipf("skipping: evaluator %q not available: %v", evaluator[0], err)
	}
	entries, err := os.ReadDir(casesDir)
	if err != nil {
		t.Fatal(err)
	}
	sem := make(chan struct{}, runtime.NumCPU())
	n := 0
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || len(name) < 3 || name[2] != '-' {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sem <- struct{}{}
			defer func() { <-sem }()
			runCase(t, evaluator, libExpr, casesDir, name)
		})
	}
	if n == 0 {
		t.Fatalf("no cases found in %s", casesDir)
	}
}

func runCase(t *testing.T, evaluator []string, libExpr, casesDir, name string) {
	dir := filepath.Join(casesDir, name)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append(append([]string{}, evaluator[1:]...),
		"--eval", "--strict", "--json", "eval.nix", "--arg", "lib", libExpr, "--arg", "dir", dir)
	cmd := exec.CommandContext(ctx, evaluator[0], args...)
	cmd.Dir = casesDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("timed out")
	}
	stderrText := stderr.String()
	gotTrace := traceLines(stderrText, dir)

	if expected, err := os.ReadFile(filepath.Join(dir, "expected.json")); err == nil {
		if runErr != nil {
			t.Fatalf("evaluation failed (%v), expected a value:\n%s", runErr, stderrText)
		}
		var got, want any
		if err := json.Unmarshal([]byte(strings.ReplaceAll(stdout.String(), dir, "<DIR>")), &got); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, stdout.String())
		}
		if err := json.Unmarshal(expected, &want); err != nil {
			t.Fatalf("bad expected.json: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			g, _ := json.MarshalIndent(got, "", "  ")
			t.Errorf("value differs\n got: %s\nwant: %s", g, expected)
		}
		wantTrace := ""
		if b, err := os.ReadFile(filepath.Join(dir, "expected-trace.txt")); err == nil {
			wantTrace = strings.TrimRight(string(b), "\n")
		}
		if gotTrace != wantTrace {
			t.Errorf("traces differ\n got: %q\nwant: %q", gotTrace, wantTrace)
		}
		return
	}

	expectedErr, err := os.ReadFile(filepath.Join(dir, "expected-error.txt"))
	if err != nil {
		t.Fatalf("case has neither expected.json nor expected-error.txt")
	}
	if runErr == nil {
		t.Fatalf("evaluation succeeded, expected an error:\n%s\ngot value: %s", expectedErr, stdout.String())
	}
	got := normalizeError(stderrText, dir)
	want := strings.TrimRight(string(expectedErr), "\n")
	if class, ok := looseErrors[name]; ok {
		if !strings.Contains(got, class) {
			t.Errorf("error class differs\n got: %s\nwant something containing: %s", got, class)
		}
		return
	}
	// Same facts: the expected message, optionally followed by extra
	// paragraphs (e.g. "Did you mean ...?" suggestions).
	if got != want && !strings.HasPrefix(got, want+"\n") {
		t.Errorf("error differs\n got: %s\nwant: %s", got, want)
	}
}

// traceLines returns the trace: lines of stderr, ANSI colours removed.
func traceLines(stderr, dir string) string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "trace: ") {
			out = append(out, strings.ReplaceAll(ansiRE.ReplaceAllString(l, ""), dir, "<DIR>"))
		}
	}
	return strings.Join(out, "\n")
}

// normalizeError mirrors testdata/modules/normalize-error.py.
func normalizeError(stderr, dir string) string {
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "trace: ") || strings.HasPrefix(l, "(use '--show-trace'") {
			continue
		}
		lines = append(lines, l)
	}
	var out []string
	for i, l := range lines {
		if i == 0 {
			l = strings.TrimPrefix(strings.TrimPrefix(l, "error:"), " ")
		} else if strings.HasPrefix(l, "       ") {
			l = l[7:]
		}
		if positionRE.MatchString(l) {
			break
		}
		l = defLineSuffixRE.ReplaceAllString(l, "$1")
		out = append(out, strings.TrimRight(l, " \t\r"))
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return strings.ReplaceAll(strings.Join(out, "\n"), dir, "<DIR>")
}
