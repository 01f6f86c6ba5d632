//go:build linux

package nsinit

import (
	"errors"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

// The init's file descriptors: the setup socket and the error pipe
// (close-on-exec: EOF without a message tells the parent that the builder
// was executed).
const (
	setupFD = 3
	errorFD = 4
)

func init() {
	if v := os.Getenv(EnvVar); v != "" && isSocket(setupFD) {
		os.Exit(Main())
	}
}

func isSocket(fd int) bool {
	var st syscall.Stat_t
	return syscall.Fstat(fd, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFSOCK
}

// Main is the sandbox init (or, with EnvVar set to Spawner, a spawner).
// It does the setup that needs no parameters
// (lo, host name), waits for its setup on the socket at fd 3 (the
// builder's output file, passed as a file descriptor, then the encoded
// Spec), reports setup errors on fd 4, builds the private root and
// replaces itself with the builder. It only returns on failure, or (with
// 0) when the parent closes the socket without sending a setup: the init
// is not needed.
func Main() int {
	if os.Getenv(EnvVar) == Spawner {
		return spawnerMain()
	}
	// Credentials, capabilities, personality and the seccomp filter are
	// per-thread until execve: do everything on one OS thread.
	runtime.LockOSThread()
	syscall.CloseOnExec(setupFD)
	syscall.CloseOnExec(errorFD)
	fail := func(msg string) int {
		b := []byte(msg)
		for len(b) > 0 {
			n, err := syscall.Write(errorFD, b)
			if err != nil || n <= 0 {
				break
			}
			b = b[n:]
		}
		return 127
	}
	if !isSocket(setupFD) {
		os.Stderr.WriteString("onix: sandbox init started without its setup socket\n")
		return 127
	}
	privateNet := os.Getenv(EnvVar) == PrivateNetwork
	if err := setupNamespaces(privateNet); err != nil {
		return fail(err.Error())
	}
	out, data, err := receiveSetup(setupFD)
	if err == errNoSetup {
		return 0
	}
	if err != nil {
		return fail("reading sandbox setup: " + err.Error())
	}
	spec, err := Decode(data)
	if err != nil {
		return fail(err.Error())
	}
	// The builder's stdout and stderr.
	for _, fd := range []int{1, 2} {
		if err := syscall.Dup3(out, fd, 0); err != nil {
			return fail("setting up the builder's output: " + err.Error())
		}
	}
	syscall.Close(out)
	if err := setupRoot(spec); err != nil {
		return fail(err.Error())
	}
	err = syscall.Exec(spec.Builder, spec.Argv, spec.Env)
	return fail("executing '" + spec.Builder + "': " + err.Error())
}

// errNoSetup means the parent closed the setup socket without sending
// anything.
var errNoSetup = errors.New("no setup")

// receiveSetup reads the output file descriptor and the spec from sock.
func receiveSetup(sock int) (int, []byte, error) {
	buf := make([]byte, 1)
	oob := make([]byte, syscall.CmsgSpace(4))
	var n, oobn int
	var err error
	for {
		n, oobn, _, _, err = syscall.Recvmsg(sock, buf, oob, syscall.MSG_CMSG_CLOEXEC)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return -1, nil, err
	}
	if n == 0 {
		return -1, nil, errNoSetup
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return -1, nil, errors.New("no output file received")
	}
	fds, err := syscall.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			syscall.Close(fd)
		}
		return -1, nil, errors.New("no output file received")
	}
	var data []byte
	chunk := make([]byte, 64<<10)
	for {
		n, err := syscall.Read(sock, chunk)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			syscall.Close(fds[0])
			return -1, nil, err
		}
		if n == 0 {
			break
		}
		data = append(data, chunk[:n]...)
	}
	syscall.Close(sock)
	return fds[0], data, nil
}

// setupNamespaces does the part of the setup that is the same for every
// build: lo up in a private network namespace, host and domain name,
// private mount propagation.
func setupNamespaces(privateNet bool) error {
	if privateNet {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	if err := syscall.Sethostname([]byte("localhost")); err != nil {
		return errors.New("cannot set host name: " + err.Error())
	}
	if err := syscall.Setdomainname([]byte("(none)")); err != nil {
		return errors.New("cannot set domain name: " + err.Error())
	}
	if err := syscall.Mount("", "/", "", syscall.MS_PRIVATE|syscall.MS_REC, ""); err != nil {
		return errors.New("unable to make '/' private: " + err.Error())
	}
	return nil
}

func loopbackUp() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return errors.New("cannot open IP socket: " + err.Error())
	}
	defer syscall.Close(fd)
	var ifr struct {
		name  [syscall.IFNAMSIZ]byte
		flags uint16
		_     [24]byte
	}
	copy(ifr.name[:], "lo")
	ifr.flags = syscall.IFF_UP | syscall.IFF_LOOPBACK | syscall.IFF_RUNNING
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&ifr))); e != 0 {
		return errors.New("cannot set loopback interface flags: " + e.Error())
	}
	return nil
}

// setupRoot mounts what the private root needs, pivots into it and
// prepares the process to become the builder.
func setupRoot(spec *Spec) error {
	root := spec.Root
	if err := syscall.Mount(root, root, "", syscall.MS_BIND, ""); err != nil {
		return errors.New("unable to bind mount '" + root + "': " + err.Error())
	}
	for _, b := range spec.Binds {
		if err := syscall.Mount(b.Src, b.Dst, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			return errors.New("bind mount from '" + b.Src + "' to '" + b.Dst + "' failed: " + err.Error())
		}
		if b.RO {
			if err := remountRO(b.Dst); err != nil {
				return err
			}
		}
	}
	if err := syscall.Mount("none", root+"/proc", "proc", 0, ""); err != nil {
		return errors.New("mounting /proc: " + err.Error())
	}
	if spec.Dev {
		if err := setupDev(root); err != nil {
			return err
		}
	}

	// pivot_root into the private root and drop the host tree. With "."
	// for both, the old root ends up stacked on the new one and is
	// unmounted from there, so no directory has to be created for it.
	if err := syscall.Chdir(root); err != nil {
		return errors.New("cannot change directory to '" + root + "': " + err.Error())
	}
	if err := syscall.PivotRoot(".", "."); err != nil {
		return errors.New("cannot pivot old root directory onto '" + root + "': " + err.Error())
	}
	if err := syscall.Unmount(".", syscall.MNT_DETACH); err != nil {
		return errors.New("cannot unmount real root filesystem: " + err.Error())
	}
	if err := syscall.Chroot("."); err != nil {
		return errors.New("cannot change root directory to '" + root + "': " + err.Error())
	}

	// Become nixbld (1000:100) on this thread; execve keeps it.
	if spec.SetGroups {
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETGROUPS, 0, 0, 0); e != 0 {
			return errors.New("setgroups failed: " + e.Error())
		}
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESGID, sandboxGID, sandboxGID, sandboxGID); e != 0 {
		return errors.New("setgid failed: " + e.Error())
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESUID, sandboxUID, sandboxUID, sandboxUID); e != 0 {
		return errors.New("setuid failed: " + e.Error())
	}
	if err := syscall.Chdir(spec.Cwd); err != nil {
		return errors.New("changing into '" + spec.Cwd + "': " + err.Error())
	}
	syscall.Umask(0o022)
	// The 32-bit personality for 32-bit builds on a 64-bit machine, then
	// no address space randomisation and no core dumps (as Nix).
	if spec.Linux32 {
		if _, _, e := syscall.RawSyscall(syscall.SYS_PERSONALITY, PerLinux32, 0, 0); e != 0 {
			return errors.New("cannot set 32-bit personality: " + e.Error())
		}
	}
	if cur, _, e := syscall.RawSyscall(syscall.SYS_PERSONALITY, 0xffffffff, 0, 0); e == 0 {
		_, _, _ = syscall.RawSyscall(syscall.SYS_PERSONALITY, cur|AddrNoRandomize, 0, 0)
	}
	_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{Cur: 0, Max: ^uint64(0)})

	// Drop the set-up capabilities: the builder starts with none.
	hdr := struct {
		version uint32
		pid     int32
	}{version: 0x20080522} // _LINUX_CAPABILITY_VERSION_3
	var caps [2]struct{ effective, permitted, inheritable uint32 }
	if _, _, e := syscall.RawSyscall(syscall.SYS_CAPGET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&caps[0])), 0); e == 0 {
		caps[0].inheritable, caps[1].inheritable = 0, 0
		_, _, _ = syscall.RawSyscall(syscall.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&caps[0])), 0)
	}
	if err := prctl(prCapAmbient, prCapAmbientClearAll, 0); err != nil {
		return errors.New("clearing ambient capabilities: " + err.Error())
	}
	if err := prctl(prSetNoNewPrivs, 1, 0); err != nil {
		return errors.New("setting no_new_privs: " + err.Error())
	}
	if spec.Seccomp {
		if err := loadSeccomp(); err != nil {
			return errors.New("unable to load seccomp BPF program: " + err.Error())
		}
	}
	return nil
}

// The ids of the build user inside (sandbox.SandboxUID/GID).
const (
	sandboxUID = 1000
	sandboxGID = 100
)

const (
	prSetSeccomp         = 22
	prSetNoNewPrivs      = 38
	prCapAmbient         = 47
	prCapAmbientClearAll = 4
	seccompModeFilter    = 2
)

func prctl(op, a2, a3 uintptr) error {
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, op, a2, a3, 0, 0, 0); e != 0 {
		return e
	}
	return nil
}

// setupDev mounts a private /dev/shm and /dev/pts.
func setupDev(root string) error {
	if _, err := os.Stat("/dev/shm"); err == nil {
		if err := syscall.Mount("none", root+"/dev/shm", "tmpfs", 0, "size=50%"); err != nil {
			return errors.New("mounting /dev/shm: " + err.Error())
		}
	}
	if _, err := os.Stat("/dev/pts/ptmx"); err != nil {
		return nil
	}
	pts := root + "/dev/pts"
	ptmx := root + "/dev/ptmx"
	err := syscall.Mount("none", pts, "devpts", 0, "newinstance,mode=0620")
	switch {
	case err == nil:
		// The parent made /dev/ptmx -> /dev/pts/ptmx.
		if t, err := os.Readlink(ptmx); err != nil || t != "/dev/pts/ptmx" {
			_ = os.Remove(ptmx)
			if err := os.Symlink("/dev/pts/ptmx", ptmx); err != nil {
				return errors.New("creating /dev/ptmx: " + err.Error())
			}
		}
		_ = os.Chmod(pts+"/ptmx", 0o666)
	case err == syscall.EINVAL || err == syscall.EPERM:
		if err := syscall.Mount("/dev/pts", pts, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			return errors.New("bind mounting /dev/pts: " + err.Error())
		}
		_ = os.Remove(ptmx)
		if err := os.WriteFile(ptmx, nil, 0o644); err != nil {
			return errors.New("creating /dev/ptmx: " + err.Error())
		}
		if err := syscall.Mount("/dev/ptmx", ptmx, "", syscall.MS_BIND, ""); err != nil {
			return errors.New("bind mounting /dev/ptmx: " + err.Error())
		}
	default:
		return errors.New("mounting /dev/pts: " + err.Error())
	}
	return nil
}

// remountRO makes a bind mount read-only, keeping the flags the kernel
// locks for mounts inherited from a more privileged namespace.
func remountRO(dst string) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dst, &st); err != nil {
		return errors.New("statfs '" + dst + "': " + err.Error())
	}
	const (
		stNosuid     = 0x2
		stNodev      = 0x4
		stNoexec     = 0x8
		stNoatime    = 0x400
		stNodiratime = 0x800
		stRelatime   = 0x1000
	)
	flags := uintptr(syscall.MS_BIND | syscall.MS_REMOUNT | syscall.MS_RDONLY)
	for _, m := range [...]struct{ st, ms uintptr }{
		{stNosuid, syscall.MS_NOSUID}, {stNodev, syscall.MS_NODEV},
		{stNoexec, syscall.MS_NOEXEC}, {stNoatime, syscall.MS_NOATIME},
		{stNodiratime, syscall.MS_NODIRATIME}, {stRelatime, syscall.MS_RELATIME},
	} {
		if uintptr(st.Flags)&m.st != 0 {
			flags |= m.ms
		}
	}
	if err := syscall.Mount("", dst, "", flags, ""); err != nil {
		return errors.New("remounting '" + dst + "' read-only: " + err.Error())
	}
	return nil
}

// Personality values (linux/personality.h) a builder runs with, here and
// for unsandboxed builders (sandbox.startWithPersonality).
const (
	PerLinux32      = 0x0008
	AddrNoRandomize = 0x0040000
)

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

	var prog []syscall.SockFilter
	stmt := func(code uint16, k uint32) { prog = append(prog, syscall.SockFilter{Code: code, K: k}) }
	jump := func(code uint16, k uint32, jt, jf uint8) {
		prog = append(prog, syscall.SockFilter{Code: code, Jt: jt, Jf: jf, K: k})
	}
	const (
		ldW  = syscall.BPF_LD | syscall.BPF_W | syscall.BPF_ABS
		jeq  = syscall.BPF_JMP | syscall.BPF_JEQ | syscall.BPF_K
		andK = syscall.BPF_ALU | syscall.BPF_AND | syscall.BPF_K
		ret  = syscall.BPF_RET | syscall.BPF_K
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
				stmt(ret, retErrno|uint32(syscall.ENOTSUP))
				continue
			}
			// if nr == r.nr { A = arg & 06000; if A != 0 return EPERM; allow }
			jump(jeq, r.nr, 0, 5)
			stmt(ldW, uint32(16+8*r.arg))
			stmt(andK, suidSgid)
			jump(jeq, 0, 0, 1)
			stmt(ret, retAllow)
			stmt(ret, retErrno|uint32(syscall.EPERM))
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
	fprog := syscall.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := prctl(prSetSeccomp, seccompModeFilter, uintptr(unsafe.Pointer(&fprog))); err != nil {
		return err
	}
	runtime.KeepAlive(prog)
	return nil
}
