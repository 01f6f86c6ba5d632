package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/onix-dev/onix/internal/eval"
)

// runOnixCmd runs onix with args and returns stdout, stderr and the error.
func runOnixCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

func exampleDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// mustOptions runs `onix options` and fails the test on an error.
func mustOptions(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := runOnixCmd(t, append([]string{"options"}, args...)...)
	if err != nil {
		t.Fatalf("onix options %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// section returns the body of a nixos-option style block ("Title:\n...\n\n").
func section(t *testing.T, out, title string) string {
	t.Helper()
	i := strings.Index(out, title+":\n")
	if i < 0 {
		t.Fatalf("no %q section in:\n%s", title, out)
	}
	body := out[i+len(title)+2:]
	if j := strings.Index(body, "\n\n"); j >= 0 {
		body = body[:j]
	}
	return strings.TrimRight(body, "\n")
}

// lineOf returns the 1-based line of the first line of file containing s.
func lineOf(t *testing.T, file, s string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line containing %q", file, s)
	return 0
}

func TestOptionsExampleOption(t *testing.T) {
	dir := exampleDir(t)
	example := filepath.Join(dir, "default.nix")
	out := mustOptions(t, example, "networking.hostName")
	for title, want := range map[string]string{
		"Value":       `"web-01"`,
		"Default":     `"nixos"`,
		"Type":        "string",
		"Description": "The name of the machine.",
		"Declared by": fmt.Sprintf("  %s:%d", filepath.Join(dir, "options.nix"), lineOf(t, filepath.Join(dir, "options.nix"), "networking.hostName = mkOption")),
		"Defined by":  fmt.Sprintf("  %s:%d:\n    \"web-01\"", filepath.Join(dir, "configuration.nix"), lineOf(t, filepath.Join(dir, "configuration.nix"), "networking.hostName = ")),
	} {
		if got := section(t, out, title); got != want {
			t.Errorf("networking.hostName %s:\n got %q\nwant %q", title, got, want)
		}
	}

	// a value computed from other options, and a default-only option
	out = mustOptions(t, example, "networking.firewall.allowedTCPPorts")
	if got, want := section(t, out, "Value"), "[\n  22\n  80\n  8080\n]"; got != want {
		t.Errorf("allowedTCPPorts value: got %q want %q", got, want)
	}
	if !strings.Contains(section(t, out, "Defined by"), "configuration.nix") {
		t.Errorf("allowedTCPPorts definitions do not list configuration.nix:\n%s", out)
	}
	if got := section(t, out, "Type"); !strings.HasPrefix(got, "list of 16 bit unsigned integer") {
		t.Errorf("allowedTCPPorts type: %q", got)
	}
}

func TestOptionsListing(t *testing.T) {
	example := filepath.Join(exampleDir(t), "default.nix")
	if got, want := mustOptions(t, example), "environment\nnetworking\nservices\nusers\n"; got != want {
		t.Errorf("top-level listing:\n got %q\nwant %q", got, want)
	}
	if got, want := mustOptions(t, example, "services.nginx"), "services.nginx.enable\nservices.nginx.virtualHosts\n"; got != want {
		t.Errorf("services.nginx listing:\n got %q\nwant %q", got, want)
	}
	if got, want := mustOptions(t, example, "users.users.alice"),
		"users.users.alice.extraGroups\nusers.users.alice.isNormalUser\nusers.users.alice.name\n"; got != want {
		t.Errorf("users.users.alice listing:\n got %q\nwant %q", got, want)
	}
}

func TestOptionsUnknownSuggests(t *testing.T) {
	example := filepath.Join(exampleDir(t), "default.nix")
	for path, want := range map[string]string{
		"services.nginx.enabel":          "error: option 'services.nginx.enabel' does not exist; did you mean 'services.nginx.enable'?",
		"servics.nginx":                  "did you mean 'services.nginx'?",
		"users.users.alice.isNormalUsr":  "did you mean 'users.users.alice.isNormalUser'?",
		"users.users.alcie.isNormalUser": "did you mean 'users.users.alice.isNormalUser'?",
		"completely.unrelated.thing":     "error: option 'completely.unrelated.thing' does not exist\n",
	} {
		out, errOut, err := runOnixCmd(t, "options", example, path)
		if err == nil {
			t.Errorf("%s: no error; output:\n%s", path, out)
			continue
		}
		if !strings.Contains(errOut, want) {
			t.Errorf("%s: stderr %q does not contain %q", path, errOut, want)
		}
	}
}

func TestOptionsSubmodule(t *testing.T) {
	dir := exampleDir(t)
	example := filepath.Join(dir, "default.nix")
	out := mustOptions(t, example, "users.users.alice.isNormalUser")
	if got := section(t, out, "Value"); got != "true" {
		t.Errorf("alice.isNormalUser value %q, want true\n%s", got, out)
	}
	conf := filepath.Join(dir, "configuration.nix")
	if got, want := section(t, out, "Defined by"), fmt.Sprintf("  %s:%d:\n    true", conf, lineOf(t, conf, "isNormalUser = true")); got != want {
		t.Errorf("alice.isNormalUser definitions:\n got %q\nwant %q", got, want)
	}
	if got := section(t, out, "Declared by"); !strings.Contains(got, filepath.Join(dir, "options.nix")) {
		t.Errorf("alice.isNormalUser declarations %q", got)
	}
	// the name default comes from the attribute name
	out = mustOptions(t, example, "services.nginx.virtualHosts.\"status.example.org\".serverName")
	if got := section(t, out, "Value"); got != `"status.example.org"` {
		t.Errorf("serverName value %q\n%s", got, out)
	}
	// a submodule type describes itself in words (this once recursed forever)
	out = mustOptions(t, example, "users.users")
	if got := section(t, out, "Type"); got != "attribute set of (submodule)" {
		t.Errorf("users.users type %q, want \"attribute set of (submodule)\"", got)
	}
	// the declaration, through the placeholder
	out = mustOptions(t, example, "users.users.<name>.extraGroups")
	if got := section(t, out, "Default"); got != "[ ]" {
		t.Errorf("<name>.extraGroups default %q\n%s", got, out)
	}
}

func TestOptionsJSON(t *testing.T) {
	dir := exampleDir(t)
	example := filepath.Join(dir, "default.nix")
	var info optionInfo
	if err := json.Unmarshal([]byte(mustOptions(t, example, "users.users.alice.extraGroups", "--json")), &info); err != nil {
		t.Fatalf("option JSON does not parse: %v", err)
	}
	var value []string
	if info.Value == nil || json.Unmarshal(info.Value.JSON, &value) != nil || !reflect.DeepEqual(value, []string{"wheel"}) {
		t.Errorf("extraGroups JSON value: %+v", info.Value)
	}
	if info.Name != "users.users.alice.extraGroups" || info.Type != "list of string" {
		t.Errorf("extraGroups JSON name/type: %q %q", info.Name, info.Type)
	}
	if len(info.Definitions) != 1 || info.Definitions[0].File != filepath.Join(dir, "configuration.nix") {
		t.Errorf("extraGroups JSON definitions: %+v", info.Definitions)
	}

	var all []optionInfo
	if err := json.Unmarshal([]byte(mustOptions(t, example, "services", "-r", "--json")), &all); err != nil {
		t.Fatalf("recursive JSON does not parse: %v", err)
	}
	var names []string
	for _, o := range all {
		names = append(names, o.Name)
	}
	if want := []string{"services.nginx.enable", "services.nginx.virtualHosts", "services.openssh.enable"}; !reflect.DeepEqual(names, want) {
		t.Errorf("recursive JSON names %q, want %q", names, want)
	}

	var list []string
	if err := json.Unmarshal([]byte(mustOptions(t, example, "--json")), &list); err != nil || len(list) != 4 {
		t.Errorf("listing JSON %q (%v)", list, err)
	}
}

// TestOptionsModules: FILE may be a list of modules or one module, which
// onix evaluates itself; --arg reaches a wrapper function.
func TestOptionsModules(t *testing.T) {
	dir := exampleDir(t)
	tmp := t.TempDir()
	list := filepath.Join(tmp, "list.nix")
	module := filepath.Join(tmp, "module.nix")
	wrapper := filepath.Join(tmp, "wrapper.nix")
	files := map[string]string{
		list:   "[ " + filepath.Join(dir, "options.nix") + " " + filepath.Join(dir, "configuration.nix") + " ]\n",
		module: "{ lib, ... }: {\n  options.greeting = lib.mkOption { type = lib.types.str; default = \"hi\"; };\n}\n",
		wrapper: "{ who }: (import <onix/lib>).evalModules { modules = [ " + module +
			" { greeting = \"hello ${who}\"; } ]; }\n",
	}
	for p, text := range files {
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := section(t, mustOptions(t, list, "services.nginx.enable"), "Value"); got != "true" {
		t.Errorf("list of modules: services.nginx.enable = %q", got)
	}
	out := mustOptions(t, module, "greeting")
	if got := section(t, out, "Value"); got != `"hi"` {
		t.Errorf("single module: greeting = %q", got)
	}
	if got, want := section(t, out, "Declared by"), "  "+module+":2"; got != want {
		t.Errorf("single module: declared by %q, want %q", got, want)
	}
	out = mustOptions(t, wrapper, "greeting", "--argstr", "who", "onix")
	if got := section(t, out, "Value"); got != `"hello onix"` {
		t.Errorf("wrapper: greeting = %q", got)
	}
}

// TestOptionsAgreesWithNix compares option values with real Nix evaluating
// the example with the same library.
func TestOptionsAgreesWithNix(t *testing.T) {
	if _, err := exec.LookPath("nix-instantiate"); err != nil {
		t.Skip("nix-instantiate not on PATH (apt-get install nix-bin)")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	example := filepath.Join(root, "examples", "default.nix")
	for _, opt := range []string{"networking.firewall.allowedTCPPorts", "environment.systemPackages", "services.nginx.virtualHosts"} {
		var info optionInfo
		if err := json.Unmarshal([]byte(mustOptions(t, example, opt, "--json")), &info); err != nil {
			t.Fatalf("%s: %v", opt, err)
		}
		want, err := exec.Command("nix-instantiate", "--eval", "--strict", "--json", example,
			"--arg", "lib", "import "+filepath.Join(root, "internal", "modules", "lib"),
			"-A", "options."+opt+".value").Output()
		if err != nil {
			t.Fatalf("nix-instantiate %s: %v", opt, err)
		}
		var got, exp any
		if info.Value == nil || json.Unmarshal(info.Value.JSON, &got) != nil || json.Unmarshal(want, &exp) != nil || !reflect.DeepEqual(got, exp) {
			t.Errorf("%s: onix %+v, nix %s", opt, info.Value, want)
		}
	}
}

func TestOptionPathHelpers(t *testing.T) {
	p, err := splitOptionPath(`services.nginx.virtualHosts."example.org".root`)
	if err != nil || !reflect.DeepEqual(p, []string{"services", "nginx", "virtualHosts", "example.org", "root"}) {
		t.Errorf("splitOptionPath: %q %v", p, err)
	}
	if got := showOptionPath(p); got != `services.nginx.virtualHosts."example.org".root` {
		t.Errorf("showOptionPath: %s", got)
	}
	for _, bad := range []string{"", "a..b", "a.", `a."b`} {
		if _, err := splitOptionPath(bad); err == nil {
			t.Errorf("splitOptionPath(%q) accepted", bad)
		}
	}
	if d := eval.EditDistance("enabel", "enable"); d != 2 {
		t.Errorf("EditDistance(enabel, enable) = %d", d)
	}
	got := nearestNames("a.enabel", []string{"a.enable", "a.enabled", "b.other", "a.enable"}, 3)
	if !reflect.DeepEqual(got, []string{"a.enable", "a.enabled"}) {
		t.Errorf("nearestNames: %q", got)
	}
}
