package cli

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestExampleConfiguration runs the README's main job (`onix eval -f
// examples/default.nix config --json`) and checks it against real Nix evaluating
// the same files with the same library (onix's lib directory passed to
// nix-instantiate), so a regression in either the evaluator or the module
// library shows up as a difference.
func TestExampleConfiguration(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	example := filepath.Join(root, "examples", "default.nix")
	var out, errb bytes.Buffer
	root2 := newRoot()
	root2.SetArgs([]string{"eval", "-f", example, "config", "--json"})
	root2.SetOut(&out)
	root2.SetErr(&errb)
	if err := root2.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("onix eval: %v\n%s", err, errb.String())
	}
	got := strings.TrimSpace(out.String())
	if !strings.Contains(got, `"hostName":"web-01"`) || !strings.Contains(got, `"allowedTCPPorts":[22,80,8080]`) {
		t.Errorf("example configuration evaluated to an unexpected value:\n%s", got)
	}
	if _, err := exec.LookPath("nix-instantiate"); err != nil {
		t.Skip("nix-instantiate not on PATH (apt-get install nix-bin); skipping the comparison with real Nix")
	}
	cmd := exec.Command("nix-instantiate", "--eval", "--strict", "--json", example, "-A", "config",
		"--arg", "lib", "import "+filepath.Join(root, "internal", "modules", "lib"))
	want, err := cmd.Output()
	if err != nil {
		t.Fatalf("nix-instantiate: %v", err)
	}
	if got != strings.TrimSpace(string(want)) {
		t.Errorf("onix and Nix disagree on the example:\nonix: %s\nnix:  %s", got, want)
	}
}
