//go:build linux

package store

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing f's dirty pages to disk
// without waiting for it (sync_file_range SYNC_FILE_RANGE_WRITE, as dpkg
// does before its fsyncs): a NAR's files go to disk while the rest arrives,
// and the syncfs that makes a batch durable finds little left to do. It is
// only a hint; durability still comes from that sync.
func startWriteback(f *os.File) {
	_ = unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
}
