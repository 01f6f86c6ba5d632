//go:build unix

package nar

import "syscall"

// noFollow makes opening a file fail if it was swapped for a symlink after
// lstat, so a dump never reads through a link.
const noFollow = syscall.O_NOFOLLOW
