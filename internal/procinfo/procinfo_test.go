package procinfo

import (
	"os/exec"
	"slices"
	"strconv"
	"testing"
)

func TestChildren(t *testing.T) {
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	kids, err := Children()
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	if !slices.Contains(kids, strconv.Itoa(cmd.Process.Pid)) {
		t.Errorf("children %v lack %d", kids, cmd.Process.Pid)
	}
}
