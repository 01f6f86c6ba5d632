//go:build linux

package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// skeleton is the part of a private root that does not depend on the
// build's inputs: /, /tmp, /etc, the store directory, the mount points of
// /build, /dev and /proc, and the /dev symlinks. A pool keeps a slot's last
// root and reuses it as the next root's skeleton (Pool.takeSkeleton), after
// reset has removed everything the previous build added and checked that
// nothing else changed; creating these ~30 inodes anew costs more than
// anything else in preparing a root.
type skeleton struct {
	dir      string // where it is now
	key      string // the configuration it was made for (skeletonKey)
	storeRel string // the store directory, relative to dir
	// entries identifies every file of the fresh skeleton by its path
	// relative to dir ("" is dir itself); dirs lists each directory.
	entries map[string]entryID
	dirs    map[string][]string
	// xattrs are the extended attribute names of the directories a build
	// changes (see mutable), whose ctime cannot be compared.
	xattrs map[string]string
	// kept are the inputs' entries in the store directory, by name, that
	// reset leaves for later builds with the same inputs: empty mount
	// points and hard links to input files. Builds in a row share most of
	// their inputs (a chain of n builds has O(n²) of them), so this saves
	// creating and removing most of them. used are those the current build
	// has.
	kept map[string]keptEnt
	used map[string]bool
	// ready is closed when the reset after a build has finished; broken
	// (valid then) means it failed and the skeleton was removed.
	ready  chan struct{}
	broken bool
}

// keptEnt is an input's entry kept in the store directory.
type keptEnt struct {
	id entryID
	// link: a hard link to the input (a file the builder cannot change);
	// else an empty mount point.
	link bool
}

// unchanged reports whether the entry, now st, is as it was made. A hard
// link's inode is the input's own, whose ctime and link count change
// with links elsewhere; its content cannot (see canHardLink).
func (k keptEnt) unchanged(st *unix.Stat_t) bool {
	got := idOf(st)
	if !k.link {
		return got == k.id
	}
	return got.ino == k.id.ino && got.mode == k.id.mode && got.uid == k.id.uid && got.gid == k.id.gid && got.size == k.id.size
}

// entryID is what must not change about a skeleton file. ctime changes
// with any change to the inode (contents, mode, owner, links, xattrs,
// times) and cannot be set.
type entryID struct {
	mode       uint32
	ino, nlink uint64
	uid, gid   uint32
	size       int64
	ctime      unix.Timespec
}

func idOf(st *unix.Stat_t) entryID {
	return entryID{mode: st.Mode, ino: st.Ino, nlink: st.Nlink, uid: st.Uid, gid: st.Gid, size: st.Size, ctime: st.Ctim}
}

// mutable reports whether rel is a directory that builds and the pool
// change legitimately: / (renamed to each build's root), /tmp and the store
// directory (entries added by the builder, by input setup and output
// registration). Only their identity, mode, owner, link count and xattrs
// are compared, and their extra entries are removed by reset.
func (sk *skeleton) mutable(rel string) bool {
	return rel == "" || rel == "tmp" || rel == sk.storeRel
}

// record notes the identity of every file of a freshly made skeleton.
func (sk *skeleton) record() error {
	sk.entries = map[string]entryID{}
	sk.dirs = map[string][]string{}
	sk.xattrs = map[string]string{}
	sk.kept = map[string]keptEnt{}
	sk.used = map[string]bool{}
	return sk.walk("", func(rel string, st *unix.Stat_t, names []string) ([]string, error) {
		sk.entries[rel] = idOf(st)
		if names != nil {
			sk.dirs[rel] = names
		}
		if sk.mutable(rel) {
			x, err := listXattrs(sk.path(rel))
			if err != nil {
				return nil, err
			}
			sk.xattrs[rel] = x
		}
		return names, nil
	})
}

func (sk *skeleton) path(rel string) string {
	if rel == "" {
		return sk.dir
	}
	return sk.dir + "/" + rel
}

// walk calls fn for rel and what is below it, directories first, with the
// sorted entry names of directories (nil for other files); it descends
// into the entries fn returns. Symbolic links are not followed.
func (sk *skeleton) walk(rel string, fn func(rel string, st *unix.Stat_t, names []string) ([]string, error)) error {
	p := sk.path(rel)
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return fmt.Errorf("sandbox: %s: %w", p, err)
	}
	var names []string
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		var err error
		if names, err = readNames(p); err != nil {
			return err
		}
	}
	names, err := fn(rel, &st, names)
	if err != nil {
		return err
	}
	for _, n := range names {
		c := n
		if rel != "" {
			c = rel + "/" + n
		}
		if err := sk.walk(c, fn); err != nil {
			return err
		}
	}
	return nil
}

func readNames(dir string) ([]string, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("sandbox: opening %s: %w", dir, err)
	}
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("sandbox: reading %s: %w", dir, err)
	}
	slices.Sort(names)
	if names == nil {
		names = []string{}
	}
	return names, nil
}

func listXattrs(p string) (string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Llistxattr(p, buf)
		if errors.Is(err, unix.ERANGE) {
			buf = make([]byte, 2*len(buf))
			continue
		}
		if errors.Is(err, unix.ENOTSUP) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("sandbox: listing extended attributes of %s: %w", p, err)
		}
		return string(buf[:n]), nil
	}
}

// reset removes what the last build added to /tmp and the store directory
// (its inputs, and whatever the builder left) and then checks that the
// skeleton is exactly as it was made. It must only be called when no
// process of the build is left (the sandbox's pid namespace is gone).
func (sk *skeleton) reset() error {
	for _, rel := range []string{"tmp", sk.storeRel} {
		p := sk.path(rel)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return fmt.Errorf("sandbox: %s: %w", p, err)
		}
		if want := sk.entries[rel]; st.Mode != want.mode || st.Ino != want.ino {
			return fmt.Errorf("sandbox: %s was replaced", p)
		}
		names, err := readNames(p)
		if err != nil {
			return err
		}
		keep := sk.dirs[rel]
		if rel == sk.storeRel {
			for n := range sk.kept {
				if _, ok := slices.BinarySearch(names, n); !ok {
					delete(sk.kept, n)
				}
			}
		}
		for _, n := range names {
			if _, ok := slices.BinarySearch(keep, n); ok {
				continue
			}
			if k, ok := sk.kept[n]; ok && rel == sk.storeRel {
				var st unix.Stat_t
				if err := unix.Lstat(filepath.Join(p, n), &st); err == nil && k.unchanged(&st) {
					continue // (an entry added to a mount point changes its ctime)
				}
				delete(sk.kept, n)
			}
			if err := removeAll(filepath.Join(p, n)); err != nil {
				return fmt.Errorf("sandbox: removing %s: %w", filepath.Join(p, n), err)
			}
		}
	}
	clear(sk.used)
	return sk.verify()
}

// reuseMount reports whether the store directory has a kept mount point
// for the input name of the kind wanted, and marks it used.
func (sk *skeleton) reuseMount(name string, dir bool) bool {
	k, ok := sk.kept[name]
	if !ok || k.link || (k.id.mode&unix.S_IFMT == unix.S_IFDIR) != dir {
		return false
	}
	sk.used[name] = true
	return true
}

// reuseLink reports whether the store directory has a kept hard link to
// the input file name, which is now the inode ino, and marks it used.
func (sk *skeleton) reuseLink(name string, ino uint64) bool {
	k, ok := sk.kept[name]
	if !ok || !k.link || k.id.ino != ino {
		return false
	}
	sk.used[name] = true
	return true
}

// dropMount removes the kept mount point name, if there is one.
func (sk *skeleton) dropMount(name string) error {
	if _, ok := sk.kept[name]; !ok {
		return nil
	}
	delete(sk.kept, name)
	delete(sk.used, name)
	if err := os.Remove(filepath.Join(sk.path(sk.storeRel), name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sandbox: %w", err)
	}
	return nil
}

// addMount records the mount point, or hard link (link), just made for
// the input name.
func (sk *skeleton) addMount(name string, link bool) error {
	var st unix.Stat_t
	p := filepath.Join(sk.path(sk.storeRel), name)
	if err := unix.Lstat(p, &st); err != nil {
		return fmt.Errorf("sandbox: %s: %w", p, err)
	}
	sk.kept[name] = keptEnt{id: idOf(&st), link: link}
	sk.used[name] = true
	return nil
}

// dropUnusedMounts removes the kept mount points the build does not use.
func (sk *skeleton) dropUnusedMounts() error {
	for name := range sk.kept {
		if !sk.used[name] {
			if err := sk.dropMount(name); err != nil {
				return err
			}
		}
	}
	return nil
}

// verify checks that the skeleton has exactly the files it was made with,
// unchanged, besides the kept inputs (which reset has checked).
func (sk *skeleton) verify() error {
	seen := 0
	keptDirs := uint64(0)
	for _, k := range sk.kept {
		if k.id.mode&unix.S_IFMT == unix.S_IFDIR {
			keptDirs++
		}
	}
	err := sk.walk("", func(rel string, st *unix.Stat_t, names []string) ([]string, error) {
		want, ok := sk.entries[rel]
		if !ok {
			return nil, fmt.Errorf("sandbox: unexpected %s", sk.path(rel))
		}
		seen++
		got := idOf(st)
		if sk.mutable(rel) {
			if rel == sk.storeRel {
				// The kept inputs were checked by reset.
				want.nlink += keptDirs
				names = slices.DeleteFunc(slices.Clone(names), func(n string) bool { _, ok := sk.kept[n]; return ok })
			}
			if got.mode != want.mode || got.ino != want.ino || got.uid != want.uid || got.gid != want.gid || got.nlink != want.nlink {
				return nil, fmt.Errorf("sandbox: %s changed", sk.path(rel))
			}
			x, err := listXattrs(sk.path(rel))
			if err != nil {
				return nil, err
			}
			if x != sk.xattrs[rel] {
				return nil, fmt.Errorf("sandbox: extended attributes of %s changed", sk.path(rel))
			}
		} else if got != want {
			return nil, fmt.Errorf("sandbox: %s changed", sk.path(rel))
		}
		if names != nil && !slices.Equal(names, sk.dirs[rel]) {
			return nil, fmt.Errorf("sandbox: entries of %s changed", sk.path(rel))
		}
		return names, nil
	})
	if err == nil && seen != len(sk.entries) {
		err = fmt.Errorf("sandbox: files of %s are missing", sk.dir)
	}
	return err
}

// skeletonKey describes the configuration a skeleton is made for.
func skeletonKey(cfg *Config, hostGID int, static []staticEnt, ptmx bool) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\x00%s\x00%t\x00%d\x00%d\x00%t", cfg.StoreDir, cfg.SandboxBuildDir, cfg.Network, hostGID, os.Geteuid(), ptmx)
	for _, e := range static {
		fmt.Fprintf(&b, "\x00%s\x00%t", e.target, e.dir)
	}
	return b.String()
}
