//go:build linux

package nar

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The Linux dumper works on raw file descriptors (openat relative to the
// open parent directory, getdents with d_type, no os.File poller or
// finalizer overhead), which roughly halves the syscalls per file. Without
// a Filter it is a pipeline: a walker lists directories in NAR order and
// queues every file and symlink, a pool of workers (one per CPU) opens,
// stats and reads small files ahead (and, for a copy, writes them out), and
// the calling goroutine emits the nodes strictly in order. Large files are
// streamed in order with a read-ahead goroutine, so reading and hashing
// overlap.
const (
	// smallFileMax is the largest file workers read ahead whole; with
	// batchLen and batchesInFlight it bounds read-ahead memory to 32 MiB.
	smallFileMax    = 64 << 10
	batchLen        = 64
	batchesInFlight = 8
	// streamBufs chunks of copyBufSize are in flight for a streamed file.
	streamBufs = 4
)

type nodeKind uint8

const (
	kindDir    nodeKind = iota // directory header; ready when queued
	kindDirEnd                 // all entries of a directory emitted; owns fd/dfd
	kindFile
	kindSymlink
)

// node is one step of the dump in NAR order.
type node struct {
	kind    nodeKind
	name    string // opened relative to srcDir
	dstName string // created relative to dstDir
	fsPath  string
	narPath string
	srcDir  int // borrowed parent directory fds
	dstDir  int

	// Filled in by load.
	err    error
	exec   bool
	size   int64
	data   []byte // whole contents of a small file
	fd     int    // owned: open source (large file, directory at kindDirEnd) or -1
	dfd    int    // owned: open destination, or -1
	target string // symlink target
}

func newNode(kind nodeKind, name, dstName, fsPath, narPath string, srcDir, dstDir int) *node {
	return &node{kind: kind, name: name, dstName: dstName, fsPath: fsPath, narPath: narPath,
		srcDir: srcDir, dstDir: dstDir, fd: -1, dfd: -1}
}

// release closes whatever n still owns.
func (n *node) release() {
	if n.fd >= 0 {
		unix.Close(n.fd)
		n.fd = -1
	}
	if n.dfd >= 0 {
		unix.Close(n.dfd)
		n.dfd = -1
	}
	n.data = nil
}

// tree holds what the walker, workers and emitter share for one dump.
type tree struct {
	ctx    context.Context
	filter Filter
	dst    string // "" = dump only
	canon  *canonMeta
}

func (t *tree) dstPath(narPath string) string {
	if narPath == "/" {
		return t.dst
	}
	return t.dst + narPath
}

func dumpTree(ctx context.Context, w io.Writer, src, dst string, opts CopyOptions) error {
	t := &tree{ctx: ctx, filter: opts.Filter, dst: dst}
	if dst != "" && opts.Canonical {
		t.canon = &canonMeta{uid: os.Geteuid(), gid: os.Getegid()}
	}
	nw := NewWriter(w)
	e := &emitter{tree: t, nw: nw}
	if err := t.run(e, src); err != nil {
		return err
	}
	if err := nw.Close(); err != nil {
		return fmt.Errorf("dump %s: %w", src, err)
	}
	return nil
}

// run dumps the root at src; a directory root goes through walkDir,
// sequentially on this goroutine when there is a filter, else through the
// parallel pipeline.
func (t *tree) run(e *emitter, src string) error {
	if err := t.ctx.Err(); err != nil {
		return fmt.Errorf("dump %s: %w", src, err)
	}
	fi, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("dump %s: %w", src, err)
	}
	switch mode := fi.Mode(); {
	case mode.IsRegular(), mode&fs.ModeSymlink != 0:
		kind := kindFile
		if !mode.IsRegular() {
			kind = kindSymlink
		}
		n := newNode(kind, src, t.dst, src, "/", unix.AT_FDCWD, unix.AT_FDCWD)
		t.load(n, nil)
		err := e.emit(n)
		n.release()
		return err
	case mode.IsDir():
	default:
		return fmt.Errorf("dump %s: file has an unsupported type (%s)", src, mode.Type())
	}
	fd, err := openDir(unix.AT_FDCWD, src)
	if err != nil {
		return fmt.Errorf("dump %s: %w", src, err)
	}
	dfd := -1
	if t.dst != "" {
		if dfd, err = t.makeDir(unix.AT_FDCWD, t.dst); err != nil {
			unix.Close(fd)
			return fmt.Errorf("restore %s: %w", t.dst, err)
		}
		if t.canon != nil {
			if err := t.canon.checkOwner(dfd); err != nil {
				unix.Close(fd)
				unix.Close(dfd)
				return fmt.Errorf("restore %s: %w", t.dst, err)
			}
		}
	}
	if err := e.emit(newNode(kindDir, "", "", src, "/", -1, -1)); err != nil {
		unix.Close(fd)
		if dfd >= 0 {
			unix.Close(dfd)
		}
		return err
	}
	if t.filter != nil {
		var scratch []byte
		w := &walker{tree: t, put: func(n *node) error {
			scratch = t.load(n, scratch)
			err := e.emit(n)
			n.release()
			return err
		}}
		return w.walkDir(fd, dfd, src, "/")
	}
	return t.parallel(e, fd, dfd, src)
}

// parallel runs the walker and workers on their own goroutines and emits on
// this one. Nodes travel in batches so that goroutine hand-offs (futex
// wake-ups, far dearer than the four syscalls a small file costs) are
// amortised. Fds a cancelled walker could not hand over are closed only
// once every worker has stopped using them.
func (t *tree) parallel(e *emitter, fd, dfd int, src string) error {
	ctx, cancel := context.WithCancel(t.ctx)
	defer cancel()
	order := make(chan *batch, batchesInFlight)
	work := make(chan *batch, batchesInFlight)
	var (
		wg      sync.WaitGroup
		walkErr error
		orphans []*node
	)
	wt := *t
	wt.ctx = ctx
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(order)
		defer close(work)
		cur := &batch{}
		send := func() error {
			b := cur
			cur = &batch{}
			if len(b.nodes) == 0 {
				return nil
			}
			if !b.needsLoad {
				select {
				case order <- b:
					return nil
				case <-ctx.Done():
					orphans = append(orphans, b.nodes...)
					return ctx.Err()
				}
			}
			b.done = make(chan struct{})
			select {
			case order <- b:
			case <-ctx.Done():
				orphans = append(orphans, b.nodes...)
				return ctx.Err()
			}
			select {
			case work <- b:
				return nil
			case <-ctx.Done():
				for _, n := range b.nodes {
					n.err = fmt.Errorf("dump %s: %w", n.fsPath, ctx.Err())
				}
				close(b.done)
				return ctx.Err()
			}
		}
		w := &walker{tree: &wt, put: func(n *node) error {
			cur.nodes = append(cur.nodes, n)
			if n.kind == kindFile || n.kind == kindSymlink {
				cur.needsLoad = true
			}
			if len(cur.nodes) < batchLen {
				return nil
			}
			return send()
		}}
		walkErr = w.walkDir(fd, dfd, src, "/")
		if err := send(); walkErr == nil {
			walkErr = err
		}
	}()
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var scratch []byte
			for b := range work {
				for _, n := range b.nodes {
					if n.kind == kindFile || n.kind == kindSymlink {
						scratch = wt.load(n, scratch)
					}
				}
				close(b.done)
			}
		}()
	}
	var err error
	for b := range order {
		if b.done != nil {
			<-b.done
		}
		for _, n := range b.nodes {
			if err == nil {
				if err = e.emit(n); err != nil {
					cancel()
				}
			}
			n.release()
		}
	}
	wg.Wait()
	for _, n := range orphans {
		n.release()
	}
	if err == nil && walkErr != nil {
		err = walkErr
	}
	return err
}

// batch is a run of consecutive nodes; done is closed once its files and
// symlinks are loaded (nil when there are none).
type batch struct {
	nodes     []*node
	needsLoad bool
	done      chan struct{}
}

// walker lists directories in NAR order and hands every node to put, which
// takes ownership of the node's fds whether or not it fails.
type walker struct {
	*tree
	put  func(*node) error
	ents []byte
}

// walkDir emits the entries of the open directory fd (and its copy dfd),
// then a kindDirEnd node owning both.
func (w *walker) walkDir(fd, dfd int, fsPath, narPath string) (err error) {
	end := newNode(kindDirEnd, "", "", fsPath, narPath, -1, -1)
	end.fd, end.dfd = fd, dfd
	defer func() {
		if perr := w.put(end); err == nil {
			err = perr
		}
	}()
	ents, err := w.readDir(fd)
	if err != nil {
		return fmt.Errorf("dump %s: %w", fsPath, err)
	}
	for _, ent := range ents {
		if err := w.ctx.Err(); err != nil {
			return fmt.Errorf("dump %s: %w", fsPath, err)
		}
		child := filepath.Join(fsPath, ent.name)
		typ := ent.typ
		var mode uint32
		if w.filter != nil {
			fi, err := os.Lstat(child)
			if err != nil {
				return fmt.Errorf("dump %s: %w", child, err)
			}
			if !w.filter(child, fi.Mode()) {
				continue
			}
			switch m := fi.Mode(); {
			case m.IsRegular():
				typ = unix.DT_REG
			case m.IsDir():
				typ = unix.DT_DIR
			case m&fs.ModeSymlink != 0:
				typ = unix.DT_LNK
			default:
				return fmt.Errorf("dump %s: file has an unsupported type (%s)", child, m.Type())
			}
		}
		if typ == unix.DT_UNKNOWN {
			var st unix.Stat_t
			if err := ignoringEINTR(func() error { return unix.Fstatat(fd, ent.name, &st, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
				return fmt.Errorf("dump %s: %w", child, err)
			}
			mode = st.Mode
			typ = dtype(st.Mode)
		}
		cnar := childPath(narPath, ent.name)
		switch typ {
		case unix.DT_DIR:
			cfd, err := openDir(fd, ent.name)
			if err != nil {
				return fmt.Errorf("dump %s: %w", child, err)
			}
			cdfd := -1
			if w.dst != "" {
				if cdfd, err = w.makeDir(dfd, ent.name); err != nil {
					unix.Close(cfd)
					return fmt.Errorf("restore %s: %w", w.dstPath(cnar), err)
				}
			}
			if err := w.put(newNode(kindDir, "", "", child, cnar, -1, -1)); err != nil {
				unix.Close(cfd)
				if cdfd >= 0 {
					unix.Close(cdfd)
				}
				return err
			}
			if err := w.walkDir(cfd, cdfd, child, cnar); err != nil {
				return err
			}
		case unix.DT_REG, unix.DT_LNK:
			kind := kindFile
			if typ == unix.DT_LNK {
				kind = kindSymlink
			}
			n := newNode(kind, ent.name, ent.name, child, cnar, fd, dfd)
			if err := w.put(n); err != nil {
				return err
			}
		default:
			if mode == 0 {
				var st unix.Stat_t
				if err := unix.Fstatat(fd, ent.name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
					return fmt.Errorf("dump %s: %w", child, err)
				}
				mode = st.Mode
			}
			return fmt.Errorf("dump %s: file has an unsupported type (%s)", child, modeType(mode))
		}
	}
	return nil
}

type dirent struct {
	name string
	typ  uint8
}

// readDir returns fd's entries (without . and ..) sorted by name bytes, as
// Nix's std::map orders them.
func (w *walker) readDir(fd int) ([]dirent, error) {
	if w.ents == nil {
		w.ents = make([]byte, 32<<10)
	}
	var out []dirent
	for {
		var n int
		err := ignoringEINTR(func() (err error) { n, err = unix.Getdents(fd, w.ents); return err })
		if err != nil {
			return nil, &fs.PathError{Op: "getdents", Path: ".", Err: err}
		}
		if n <= 0 {
			break
		}
		b := w.ents[:n]
		for len(b) > 0 {
			// struct linux_dirent64: ino u64, off i64, reclen u16, type u8, name.
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			typ := b[18]
			nb := b[19:reclen]
			if i := indexZero(nb); i >= 0 {
				nb = nb[:i]
			}
			b = b[reclen:]
			if len(nb) == 0 || string(nb) == "." || string(nb) == ".." {
				continue
			}
			out = append(out, dirent{name: string(nb), typ: typ})
		}
	}
	slices.SortFunc(out, func(a, b dirent) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

func indexZero(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// makeDir creates name under dirfd for a copy and opens it.
func (t *tree) makeDir(dirfd int, name string) (int, error) {
	if err := ignoringEINTR(func() error { return unix.Mkdirat(dirfd, name, 0o777) }); err != nil {
		return -1, err
	}
	return openDir(dirfd, name)
}

func openDir(dirfd int, name string) (int, error) {
	var fd int
	err := ignoringEINTR(func() (err error) {
		fd, err = unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return -1, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return fd, nil
}

// load does the syscalls for a file or symlink node: it reads a small file
// whole (writing its copy), or leaves a large one open for the emitter.
// scratch is a reusable buffer for symlink targets; load returns it.
func (t *tree) load(n *node, scratch []byte) []byte {
	if err := t.ctx.Err(); err != nil {
		n.err = fmt.Errorf("dump %s: %w", n.fsPath, err)
		return scratch
	}
	switch n.kind {
	case kindSymlink:
		if scratch == nil {
			scratch = make([]byte, 4096)
		}
		for {
			var k int
			err := ignoringEINTR(func() (err error) { k, err = unix.Readlinkat(n.srcDir, n.name, scratch); return err })
			if err != nil {
				n.err = fmt.Errorf("dump %s: %w", n.fsPath, &fs.PathError{Op: "readlink", Path: n.fsPath, Err: err})
				return scratch
			}
			if k < len(scratch) {
				n.target = string(scratch[:k])
				break
			}
			scratch = make([]byte, 2*len(scratch))
		}
		if t.dst != "" {
			if err := t.makeSymlink(n); err != nil {
				n.err = fmt.Errorf("restore %s: %w", t.dstPath(n.narPath), err)
			}
		}
	case kindFile:
		if err := t.loadFile(n); err != nil {
			n.release()
			n.err = err
		}
	}
	return scratch
}

func (t *tree) loadFile(n *node) error {
	err := ignoringEINTR(func() (err error) {
		// O_NONBLOCK: a file swapped for a FIFO must not hang the open.
		n.fd, err = unix.Openat(n.srcDir, n.name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		n.fd = -1
		return fmt.Errorf("dump %s: %w", n.fsPath, &fs.PathError{Op: "open", Path: n.fsPath, Err: err})
	}
	var st unix.Stat_t
	if err := ignoringEINTR(func() error { return unix.Fstat(n.fd, &st) }); err != nil {
		return fmt.Errorf("dump %s: %w", n.fsPath, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("dump %s: file has an unsupported type (%s)", n.fsPath, modeType(st.Mode))
	}
	n.size, n.exec = st.Size, st.Mode&0o100 != 0
	if t.dst != "" {
		perm := uint32(0o666)
		if n.exec {
			perm = 0o777
		}
		err := ignoringEINTR(func() (err error) {
			n.dfd, err = unix.Openat(n.dstDir, n.dstName, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
			return err
		})
		if err != nil {
			n.dfd = -1
			return fmt.Errorf("restore %s: %w", t.dstPath(n.narPath), err)
		}
		if n.narPath == "/" && t.canon != nil {
			if err := t.canon.checkOwner(n.dfd); err != nil {
				return fmt.Errorf("restore %s: %w", t.dst, err)
			}
		}
	}
	if n.size > smallFileMax {
		return nil // streamed in order by the emitter
	}
	n.data = make([]byte, n.size)
	k, err := readFull(n.fd, n.data)
	if err != nil {
		return fmt.Errorf("dump %s: %w", n.fsPath, err)
	}
	if int64(k) != n.size {
		return fmt.Errorf("dump %s: file changed size while reading (%d of %d bytes)", n.fsPath, k, n.size)
	}
	unix.Close(n.fd)
	n.fd = -1
	if n.dfd >= 0 {
		if err := t.finishFile(n, n.data); err != nil {
			return err
		}
	}
	return nil
}

// finishFile writes the last (or only) part of a copied file, gives it
// canonical metadata and closes it.
func (t *tree) finishFile(n *node, data []byte) error {
	if err := writeFull(n.dfd, data); err != nil {
		return fmt.Errorf("restore %s: %w", t.dstPath(n.narPath), err)
	}
	if t.canon != nil {
		perm := uint32(0o444)
		if n.exec {
			perm = 0o555
		}
		if err := t.canon.fd(n.dfd, perm); err != nil {
			return fmt.Errorf("restore %s: %w", t.dstPath(n.narPath), err)
		}
	}
	err := unix.Close(n.dfd)
	n.dfd = -1
	if err != nil {
		return fmt.Errorf("restore %s: %w", t.dstPath(n.narPath), err)
	}
	return nil
}

func (t *tree) makeSymlink(n *node) error {
	if err := ignoringEINTR(func() error { return unix.Symlinkat(n.target, n.dstDir, n.dstName) }); err != nil {
		return err
	}
	if t.canon == nil {
		return nil
	}
	if n.narPath == "/" {
		var st unix.Stat_t
		if err := unix.Fstatat(n.dstDir, n.dstName, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		t.canon.chown = int(st.Uid) != t.canon.uid || int(st.Gid) != t.canon.gid
	}
	return t.canon.symlink(n.dstDir, n.dstName, t.dstPath(n.narPath))
}

// emitter writes nodes to the NAR in order; it runs on the caller's
// goroutine.
type emitter struct {
	*tree
	nw   *Writer
	bufs [][]byte // streaming chunks, allocated on first use
}

func (e *emitter) emit(n *node) error {
	switch n.kind {
	case kindDir:
		if err := e.nw.WriteHeader(&Header{Path: n.narPath, Type: TypeDirectory}); err != nil {
			return fmt.Errorf("dump %s: %w", n.fsPath, err)
		}
	case kindDirEnd:
		if n.dfd >= 0 && e.canon != nil {
			if err := e.canon.fd(n.dfd, 0o555); err != nil {
				return fmt.Errorf("restore %s: %w", e.dstPath(n.narPath), err)
			}
		}
	case kindSymlink:
		if n.err != nil {
			return n.err
		}
		if err := e.nw.WriteHeader(&Header{Path: n.narPath, Type: TypeSymlink, LinkTarget: n.target}); err != nil {
			return fmt.Errorf("dump %s: %w", n.fsPath, err)
		}
	case kindFile:
		if n.err != nil {
			return n.err
		}
		h := &Header{Path: n.narPath, Type: TypeRegular, Size: n.size, Executable: n.exec}
		if n.fd < 0 {
			if err := e.nw.writeFile(h, n.data); err != nil {
				return fmt.Errorf("dump %s: %w", n.fsPath, err)
			}
			return nil
		}
		if err := e.nw.WriteHeader(h); err != nil {
			return fmt.Errorf("dump %s: %w", n.fsPath, err)
		}
		return e.stream(n)
	}
	return nil
}

type chunk struct {
	b   []byte
	err error
}

// stream copies a large open file into the NAR (and to its copy). A
// read-ahead goroutine reads (and writes the copy) while this goroutine
// hashes, in copyBufSize chunks.
func (e *emitter) stream(n *node) error {
	if e.bufs == nil {
		for range streamBufs {
			e.bufs = append(e.bufs, make([]byte, copyBufSize))
		}
	}
	full := make(chan chunk, streamBufs)
	free := make(chan []byte, streamBufs)
	for _, b := range e.bufs {
		free <- b
	}
	stop := make(chan struct{})
	go func() {
		defer close(full)
		var off int64
		for off < n.size {
			var b []byte
			select {
			case b = <-free:
			case <-stop:
				return
			}
			if err := e.ctx.Err(); err != nil {
				full <- chunk{b: b[:0], err: fmt.Errorf("dump %s: %w", n.fsPath, err)}
				return
			}
			b = b[:min(int64(len(b)), n.size-off)]
			k, err := readFull(n.fd, b)
			if err == nil && k < len(b) {
				err = fmt.Errorf("dump %s: file changed size while reading (%d of %d bytes)", n.fsPath, off+int64(k), n.size)
			} else if err != nil {
				err = fmt.Errorf("dump %s: %w", n.fsPath, err)
			}
			if err == nil && n.dfd >= 0 {
				if werr := writeFull(n.dfd, b); werr != nil {
					err = fmt.Errorf("restore %s: %w", e.dstPath(n.narPath), werr)
				} else if e.canon != nil {
					// Start write-back now so the caller's final syncfs
					// finds little left to flush (a hint; errors surface
					// there).
					_ = unix.SyncFileRange(n.dfd, off, int64(len(b)), unix.SYNC_FILE_RANGE_WRITE)
				}
			}
			full <- chunk{b: b[:k], err: err}
			if err != nil {
				return
			}
			off += int64(len(b))
		}
	}()
	var err error
	for c := range full {
		if err == nil {
			if err = c.err; err == nil {
				if _, werr := e.nw.Write(c.b); werr != nil {
					err = fmt.Errorf("dump %s: %w", n.fsPath, werr)
				}
			}
			if err != nil {
				close(stop)
			}
		}
		free <- c.b[:cap(c.b)]
	}
	if err != nil {
		return err
	}
	if n.dfd >= 0 {
		return e.finishFile(n, nil)
	}
	return nil
}

// canonMeta applies Nix's canonical store metadata (see
// CopyOptions.Canonical) to freshly created nodes.
type canonMeta struct {
	uid, gid int
	chown    bool // the destination did not come out owned by uid:gid
}

func (c *canonMeta) checkOwner(fd int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	c.chown = int(st.Uid) != c.uid || int(st.Gid) != c.gid
	return nil
}

// fd canonicalises an open regular file or directory: extended attributes,
// owner, mode and (last, after all writes) mtime.
func (c *canonMeta) fd(fd int, perm uint32) error {
	if sz, err := unix.Flistxattr(fd, nil); err == nil && sz > 0 {
		buf := make([]byte, sz)
		if sz, err = unix.Flistxattr(fd, buf); err == nil {
			for _, name := range xattrsToRemove(buf[:sz]) {
				if err := unix.Fremovexattr(fd, name); err != nil && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.ENODATA) {
					return fmt.Errorf("removing extended attribute %s: %w", name, err)
				}
			}
		}
	}
	if c.chown {
		if err := unix.Fchown(fd, c.uid, c.gid); err != nil && !errors.Is(err, unix.EPERM) {
			return err
		}
	}
	if err := unix.Fchmod(fd, perm); err != nil {
		return err
	}
	// utimensat(fd, NULL, times, 0) is futimens(2).
	ts := [2]unix.Timespec{{Sec: 1}, {Sec: 1}}
	if _, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0); e != 0 {
		return fmt.Errorf("setting mtime: %w", e)
	}
	return nil
}

func (c *canonMeta) symlink(dirfd int, name, full string) error {
	if sz, err := unix.Llistxattr(full, nil); err == nil && sz > 0 {
		buf := make([]byte, sz)
		if sz, err = unix.Llistxattr(full, buf); err == nil {
			for _, x := range xattrsToRemove(buf[:sz]) {
				if err := unix.Lremovexattr(full, x); err != nil && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.ENODATA) {
					return fmt.Errorf("removing extended attribute %s: %w", x, err)
				}
			}
		}
	}
	if c.chown {
		if err := unix.Fchownat(dirfd, name, c.uid, c.gid, unix.AT_SYMLINK_NOFOLLOW); err != nil && !errors.Is(err, unix.EPERM) {
			return err
		}
	}
	ts := [2]unix.Timespec{{Sec: 1}, {Sec: 1}}
	if err := unix.UtimesNanoAt(dirfd, name, ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("setting mtime: %w", err)
	}
	return nil
}

// xattrsToRemove lists the attributes in a NUL-separated list that Nix's
// canonicalisation removes: all but the ones the kernel manages for us.
func xattrsToRemove(list []byte) []string {
	var out []string
	start := 0
	for i, c := range list {
		if c != 0 {
			continue
		}
		name := string(list[start:i])
		start = i + 1
		if name == "" || name == "security.selinux" || name == "system.nfs4_acl" {
			continue
		}
		out = append(out, name)
	}
	return out
}

func readFull(fd int, b []byte) (int, error) {
	done := 0
	for done < len(b) {
		k, err := unix.Read(fd, b[done:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, err
		}
		if k == 0 {
			break
		}
		done += k
	}
	return done, nil
}

func writeFull(fd int, b []byte) error {
	for len(b) > 0 {
		k, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[k:]
	}
	return nil
}

func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}

func dtype(mode uint32) uint8 {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return unix.DT_REG
	case unix.S_IFDIR:
		return unix.DT_DIR
	case unix.S_IFLNK:
		return unix.DT_LNK
	}
	return unix.DT_FIFO // anything else is unsupported
}

// modeType renders a stat mode's file type like fs.FileMode.Type().String().
func modeType(mode uint32) fs.FileMode {
	switch mode & unix.S_IFMT {
	case unix.S_IFBLK:
		return fs.ModeDevice
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFSOCK:
		return fs.ModeSocket
	}
	return 0
}
