// Package procinfo reads facts about the running process from /proc.
package procinfo

import (
	"os"
	"path/filepath"
	"strings"
)

// Children returns the pids of this process's child processes (of all its
// threads), from /proc/self/task/*/children.
func Children() ([]string, error) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, task := range tasks {
		b, err := os.ReadFile(filepath.Join("/proc/self/task", task.Name(), "children"))
		if err != nil {
			continue
		}
		out = append(out, strings.Fields(string(b))...)
	}
	return out, nil
}
