//go:build !linux

package nsinit

import "os"

// Main is only meaningful on Linux.
func Main() int {
	os.Stderr.WriteString("onix: the build sandbox is only supported on Linux\n")
	return 127
}
