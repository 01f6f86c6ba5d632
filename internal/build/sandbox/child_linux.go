//go:build linux

package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ChildMain is the sandbox init. The binary that calls Run must call
// ChildMain (and exit with its result) when started with Config.InitArgs.
// It reads its setup from fd 3, reports setup errors on fd 4, builds the
// private root and replaces itself with the builder. It only returns on
// failure.
func ChildMain() int {
	// Credentials, capabilities, personality and the seccomp filter are
	// per-thread until execve: do everything on one OS thread.
	runtime.LockOSThread()
	unix.CloseOnExec(4)
	errPipe := os.NewFile(4, "sandbox-error")
	fail := func(err error) int {
		fmt.Fprint(errPipe, err.Error())
		return 127
	}
	specFile := os.NewFile(3, "sandbox-spec")
	if specFile == nil || errPipe == nil {
		fmt.Fprintln(os.Stderr, "onix: sandbox init started without its setup pipes")
		return 127
	}
	data, err := io.ReadAll(specFile)
	specFile.Close()
	if err != nil {
		return fail(fmt.Errorf("reading sandbox setup: %w", err))
	}
	var spec childSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return fail(fmt.Errorf("decoding sandbox setup: %w", err))
	}
	if err := setupChild(&spec); err != nil {
		return fail(err)
	}
	err = unix.Exec(spec.Builder, spec.Argv, spec.Env)
	return fail(fmt.Errorf("executing '%s': %w", spec.Builder, err))
}

func setupChild(spec *childSpec) error {
	if spec.PrivateNetwork {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	if err := unix.Sethostname([]byte("localhost")); err != nil {
		return fmt.Errorf("cannot set host name: %w", err)
	}
	if err := unix.Setdomainname([]byte("(none)")); err != nil {
		return fmt.Errorf("cannot set domain name: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("unable to make '/' private: %w", err)
	}
	root := spec.Root
	if err := unix.Mount(root, root, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("unable to bind mount '%s': %w", root, err)
	}
	for _, b := range spec.Binds {
		if err := unix.Mount(b.Src, b.Dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind mount from '%s' to '%s' failed: %w", b.Src, b.Dst, err)
		}
		if b.RO {
			if err := remountRO(b.Dst); err != nil {
				return err
			}
		}
	}
	if err := unix.Mount("none", filepath.Join(root, "proc"), "proc", 0, ""); err != nil {
		return fmt.Errorf("mounting /proc: %w", err)
	}
	if spec.Dev {
		if _, err := os.Stat("/dev/shm"); err == nil {
			if err := unix.Mount("none", filepath.Join(root, "dev/shm"), "tmpfs", 0, "size=50%"); err != nil {
				return fmt.Errorf("mounting /dev/shm: %w", err)
			}
		}
		if _, err := os.Stat("/dev/pts/ptmx"); err == nil {
			pts := filepath.Join(root, "dev/pts")
			err := unix.Mount("none", pts, "devpts", 0, "newinstance,mode=0620")
			switch {
			case err == nil:
				if err := os.Symlink("/dev/pts/ptmx", filepath.Join(root, "dev/ptmx")); err != nil {
					return fmt.Errorf("creating /dev/ptmx: %w", err)
				}
				_ = os.Chmod(filepath.Join(pts, "ptmx"), 0o666)
			case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM):
				if err := unix.Mount("/dev/pts", pts, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
					return fmt.Errorf("bind mounting /dev/pts: %w", err)
				}
				ptmx := filepath.Join(root, "dev/ptmx")
				if err := os.WriteFile(ptmx, nil, 0o644); err != nil {
					return fmt.Errorf("creating /dev/ptmx: %w", err)
				}
				if err := unix.Mount("/dev/ptmx", ptmx, "", unix.MS_BIND, ""); err != nil {
					return fmt.Errorf("bind mounting /dev/ptmx: %w", err)
				}
			default:
				return fmt.Errorf("mounting /dev/pts: %w", err)
			}
		}
	}

	// pivot_root into the private root and drop the host tree.
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("cannot change directory to '%s': %w", root, err)
	}
	if err := unix.Mkdir("real-root", 0); err != nil {
		return fmt.Errorf("cannot create real-root directory: %w", err)
	}
	if err := unix.PivotRoot(".", "real-root"); err != nil {
		return fmt.Errorf("cannot pivot old root directory onto '%s/real-root': %w", root, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("cannot change root directory to '%s': %w", root, err)
	}
	if err := unix.Unmount("real-root", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("cannot unmount real root filesystem: %w", err)
	}
	if err := unix.Rmdir("real-root"); err != nil {
		return fmt.Errorf("cannot remove real-root directory: %w", err)
	}

	// Become nixbld (1000:100) on this thread; execve keeps it.
	if spec.SetGroups {
		if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0); e != 0 {
			return fmt.Errorf("setgroups failed: %w", e)
		}
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, SandboxGID, SandboxGID, SandboxGID); e != 0 {
		return fmt.Errorf("setgid failed: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, SandboxUID, SandboxUID, SandboxUID); e != 0 {
		return fmt.Errorf("setuid failed: %w", e)
	}
	if err := unix.Chdir(spec.Cwd); err != nil {
		return fmt.Errorf("changing into '%s': %w", spec.Cwd, err)
	}
	unix.Umask(0o022)
	// Disable address space randomisation, no core dumps (as Nix).
	if cur, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0); e == 0 {
		_, _, _ = unix.RawSyscall(unix.SYS_PERSONALITY, cur|0x0040000 /* ADDR_NO_RANDOMIZE */, 0, 0)
	}
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: unix.RLIM_INFINITY})

	// Drop the set-up capabilities: the builder starts with none.
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var caps [2]unix.CapUserData
	if err := unix.Capget(&hdr, &caps[0]); err == nil {
		caps[0].Inheritable, caps[1].Inheritable = 0, 0
		_ = unix.Capset(&hdr, &caps[0])
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clearing ambient capabilities: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("setting no_new_privs: %w", err)
	}
	if spec.Seccomp {
		if err := loadSeccomp(); err != nil {
			return fmt.Errorf("unable to load seccomp BPF program: %w", err)
		}
	}
	return nil
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cannot open IP socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("cannot set loopback interface flags: %w", err)
	}
	ifr.SetUint16(unix.IFF_UP | unix.IFF_LOOPBACK | unix.IFF_RUNNING)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("cannot set loopback interface flags: %w", err)
	}
	return nil
}

// remountRO makes a bind mount read-only, keeping the flags the kernel
// locks for mounts inherited from a more privileged namespace.
func remountRO(dst string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dst, &st); err != nil {
		return fmt.Errorf("statfs '%s': %w", dst, err)
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY)
	for _, m := range [...]struct{ st, ms uintptr }{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC}, {unix.ST_NOATIME, unix.MS_NOATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if uintptr(st.Flags)&m.st != 0 {
			flags |= m.ms
		}
	}
	if err := unix.Mount("", dst, "", flags, ""); err != nil {
		return fmt.Errorf("remounting '%s' read-only: %w", dst, err)
	}
	return nil
}

// loadSeccomp installs Nix's filter: chmod/fchmod/fchmodat(2) with
// S_ISUID or S_ISGID fail with EPERM, and setxattr/lsetxattr/fsetxattr fail
// with ENOTSUP, on x86_64 (incl. x32) and i386; other syscalls are allowed.
func loadSeccomp() error {
	const (
		archX8664 = 0xc000003e
		archI386  = 0x40000003
		retAllow  = 0x7fff0000
		retErrno  = 0x00050000
		x32Bit    = 0x40000000
		suidSgid  = 0o6000
	)
	type rule struct {
		nr  uint32
		arg int // mode argument index, or -1 for xattr
	}
	x8664 := []rule{{90, 1}, {91, 1}, {268, 2}, {452, 2}, {188, -1}, {189, -1}, {190, -1}}
	i386 := []rule{{15, 1}, {94, 1}, {306, 2}, {452, 2}, {226, -1}, {227, -1}, {228, -1}}

	var prog []unix.SockFilter
	stmt := func(code uint16, k uint32) { prog = append(prog, unix.SockFilter{Code: code, K: k}) }
	jump := func(code uint16, k uint32, jt, jf uint8) {
		prog = append(prog, unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k})
	}
	const (
		ldW  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		andK = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
		ret  = unix.BPF_RET | unix.BPF_K
	)
	// section emits the per-arch checks; ends by allowing.
	section := func(rules []rule, clearX32 bool) {
		stmt(ldW, 0) // nr
		if clearX32 {
			stmt(andK, ^uint32(x32Bit))
		}
		for _, r := range rules {
			if r.arg < 0 {
				jump(jeq, r.nr, 0, 1)
				stmt(ret, retErrno|uint32(unix.ENOTSUP))
				continue
			}
			// if nr == r.nr { A = arg & 06000; if A != 0 return EPERM; allow }
			jump(jeq, r.nr, 0, 5)
			stmt(ldW, uint32(16+8*r.arg))
			stmt(andK, suidSgid)
			jump(jeq, 0, 0, 1)
			stmt(ret, retAllow)
			stmt(ret, retErrno|uint32(unix.EPERM))
		}
		stmt(ret, retAllow)
	}
	stmt(ldW, 4) // arch
	// Placeholder jumps patched below.
	archJumpIdx := len(prog)
	jump(jeq, archX8664, 0, 0)
	jump(jeq, archI386, 0, 0)
	stmt(ret, retAllow)
	x86Start := len(prog)
	section(x8664, true)
	i386Start := len(prog)
	section(i386, false)
	prog[archJumpIdx].Jt = uint8(x86Start - archJumpIdx - 1)
	prog[archJumpIdx+1].Jt = uint8(i386Start - archJumpIdx - 2)
	if x86Start-archJumpIdx-1 > 255 || i386Start-archJumpIdx-2 > 255 {
		return errors.New("seccomp program too long")
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0); err != nil {
		return err
	}
	runtime.KeepAlive(prog)
	return nil
}
