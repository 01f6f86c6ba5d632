//go:build linux

package nar

import (
	"os"

	"golang.org/x/sys/unix"
)

// setDirect switches O_DIRECT on or off for f; switching it on fails where
// the file system cannot do direct I/O (tmpfs before Linux 6.6, FUSE
// without direct_io support, ...).
func setDirect(f *os.File, on bool) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		if err != nil {
			ferr = err
			return
		}
		if on {
			fl |= unix.O_DIRECT
		} else {
			fl &^= unix.O_DIRECT
		}
		_, ferr = unix.FcntlInt(fd, unix.F_SETFL, fl)
	}); err != nil {
		return err
	}
	return ferr
}
