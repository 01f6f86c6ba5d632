//go:build linux

package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/onix-dev/onix/internal/build/sandbox/nsinit"
)

func run(ctx context.Context, cfg *Config) error {
	hostUID, hostGID := cfg.HostUID, cfg.HostGID
	if hostUID < 0 {
		hostUID = os.Geteuid()
	}
	if hostGID < 0 {
		hostGID = os.Getegid()
	}
	if cfg.BuildDir != "" {
		if err := chownTree(cfg.BuildDir, hostUID, hostGID); err != nil {
			return err
		}
	}
	if !cfg.Sandboxed {
		return runUnsandboxed(ctx, cfg, hostUID, hostGID)
	}

	// The init (started ahead by the pool, or started now, then coming up
	// while the root is prepared) waits for its setup on a socket.
	key := initKey{
		exe: cfg.InitExe, args: strings.Join(cfg.InitArgs, "\x00"), uid: hostUID, gid: hostGID,
		network: cfg.Network, setGroups: os.Geteuid() == 0,
	}
	if key.exe == "" {
		key.exe = "/proc/self/exe"
	}
	ip := cfg.Pool.takeInit(cfg.Slot, key)
	// Start the init of the slot's next build already: it comes up on
	// another core while this build runs.
	if !cfg.NoPrestart {
		cfg.Pool.prestart(cfg.Slot, key)
	}
	used := false
	defer func() {
		if !used {
			cfg.Pool.discardInit(ip)
		}
	}()

	spec, err := prepareRoot(cfg, hostUID, hostGID)
	if err != nil {
		return err
	}
	spec.SetGroups = key.setGroups
	spec.Seccomp = cfg.Seccomp
	spec.Linux32 = cfg.Linux32
	spec.Builder = cfg.Builder
	spec.Argv = append([]string{baseName(cfg.Builder)}, cfg.Args...)
	spec.Env = envList(cfg.Env)
	spec.Cwd = cfg.SandboxBuildDir
	data := spec.Encode()

	master, slave, err := outputChannel(cfg, hostUID)
	if err != nil {
		return err
	}
	defer master.Close()
	defer slave.Close()

	<-ip.started
	if ip.err != nil {
		return ip.err
	}
	used = true
	stop := make(chan struct{})
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		select {
		case <-ctx.Done():
			// Killing the pid namespace's init kills the sandbox.
			ip.signal(syscall.SIGKILL)
		case <-stop:
		}
	}()
	copyDone := make(chan error, 1)
	go func() {
		_, err := io.Copy(cfg.Log, master)
		if errors.Is(err, syscall.EIO) { // pty hang-up: all writers gone
			err = nil
		}
		copyDone <- err
	}()

	var setupErr error
	sendErr := ip.send(slave, data)
	slave.Close()
	// The error pipe is close-on-exec in the init: EOF with no data means
	// the builder was executed.
	msg, _ := io.ReadAll(ip.errR)
	if len(msg) > 0 {
		setupErr = fmt.Errorf("while setting up the build environment: %s", strings.TrimSpace(string(msg)))
	} else if sendErr != nil {
		setupErr = fmt.Errorf("sandbox: sending setup to init: %w", sendErr)
	}

	ws, waitErr := ip.wait()
	close(stop)
	<-killed
	ip.close()
	// The pid namespace died with its pid 1; nothing of the build is left.
	copyErr := finishCopy(master, copyDone)
	return buildResult(ctx, setupErr, ws, waitErr, copyErr)
}

// runUnsandboxed runs the builder directly on the host, in its own
// process group.
func runUnsandboxed(ctx context.Context, cfg *Config, hostUID, hostGID int) error {
	master, slave, err := outputChannel(cfg, hostUID)
	if err != nil {
		return err
	}
	defer master.Close()
	slaveOpen := true
	defer func() {
		if slaveOpen {
			slave.Close()
		}
	}()
	cmd := exec.CommandContext(ctx, cfg.Builder, cfg.Args...)
	cmd.Args[0] = baseName(cfg.Builder)
	cmd.Env = envList(cfg.Env)
	cmd.Dir = cfg.BuildDir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	if os.Geteuid() == 0 && hostUID != 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(hostUID), Gid: uint32(hostGID), Groups: []uint32{}}
	}
	cmd.Stdin = nil
	cmd.Stdout = slave
	cmd.Stderr = slave
	cmd.Cancel = func() error {
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = 5 * time.Second
	if err := startWithPersonality(cmd, cfg.Linux32); err != nil {
		return fmt.Errorf("executing builder '%s': %w", cfg.Builder, err)
	}
	pid := cmd.Process.Pid
	slave.Close()
	slaveOpen = false
	copyDone := make(chan error, 1)
	go func() {
		_, err := io.Copy(cfg.Log, master)
		if errors.Is(err, syscall.EIO) {
			err = nil
		}
		copyDone <- err
	}()
	waitErr := cmd.Wait()
	// Kill anything left in the process group.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	copyErr := finishCopy(master, copyDone)
	var ws syscall.WaitStatus
	if cmd.ProcessState != nil {
		ws, _ = cmd.ProcessState.Sys().(syscall.WaitStatus)
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) {
			waitErr = nil // reported through ws
		}
	}
	return buildResult(ctx, nil, ws, waitErr, copyErr)
}

// startWithPersonality starts cmd with the personality Nix gives a
// builder (address space randomisation off, and PER_LINUX32 with linux32)
// without changing onix's own: the personality is a property of the
// thread that forks, so it is set on a locked thread around the fork and
// put back before the thread is released.
func startWithPersonality(cmd *exec.Cmd, linux32 bool) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	old, _, e := syscall.RawSyscall(syscall.SYS_PERSONALITY, 0xffffffff, 0, 0)
	if e != 0 {
		return fmt.Errorf("reading personality: %w", e)
	}
	want := old | nsinit.AddrNoRandomize
	if linux32 {
		want = nsinit.PerLinux32 | nsinit.AddrNoRandomize
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_PERSONALITY, want, 0, 0); e != 0 {
		return fmt.Errorf("setting personality: %w", e)
	}
	err := cmd.Start()
	_, _, _ = syscall.RawSyscall(syscall.SYS_PERSONALITY, old, 0, 0)
	return err
}

// outputChannel returns the builder's output channel: a raw
// pseudo-terminal like Nix, or a pipe.
func outputChannel(cfg *Config, hostUID int) (master, slave *os.File, err error) {
	if !cfg.NoPTY {
		if master, slave, err = openPTY(hostUID); err == nil {
			return master, slave, nil
		}
	}
	if master, slave, err = os.Pipe(); err != nil {
		return nil, nil, fmt.Errorf("sandbox: creating output pipe: %w", err)
	}
	return master, slave, nil
}

// finishCopy waits for the builder's output to be drained.
func finishCopy(master *os.File, copyDone chan error) error {
	select {
	case err := <-copyDone:
		return err
	case <-time.After(10 * time.Second):
		master.Close()
		return <-copyDone
	}
}

// buildResult turns how the builder ended into Run's error.
func buildResult(ctx context.Context, setupErr error, ws syscall.WaitStatus, waitErr, copyErr error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("build interrupted: %w", ctx.Err())
	}
	if setupErr != nil {
		return setupErr
	}
	if waitErr != nil {
		return fmt.Errorf("waiting for builder: %w", waitErr)
	}
	if ws.Signaled() {
		return &BuildFailure{ExitCode: -1, Signal: fmt.Sprintf("%d (%s)", int(ws.Signal()), signalName(ws.Signal()))}
	}
	if ws.ExitStatus() != 0 {
		return &BuildFailure{ExitCode: ws.ExitStatus()}
	}
	if copyErr != nil {
		return fmt.Errorf("reading builder output: %w", copyErr)
	}
	return nil
}

func signalName(s syscall.Signal) string {
	str := s.String()
	if str == "" {
		return "unknown"
	}
	return strings.ToUpper(str[:1]) + str[1:]
}

// staticEnt is a mount point of the skeleton: a host path bound at target.
type staticEnt struct {
	target, src string
	dir         bool
}

// prepareRoot lays out the chroot on the host, as Nix's startBuilder does:
// the skeleton (reused from the pool when it has one for this
// configuration, see skeleton) and then the inputs.
func prepareRoot(cfg *Config, hostUID, hostGID int) (*nsinit.Spec, error) {
	root := cfg.ChrootDir
	if root == "" {
		return nil, errors.New("sandbox: no chroot directory")
	}
	// dirsInChroot: target (inside) -> source (host). The inputs are
	// per build; the rest is the skeleton's.
	inputs := make(map[string]bool, len(cfg.Inputs))
	for _, in := range cfg.Inputs {
		inputs[in.Target] = true
	}
	type ent struct {
		src      string
		optional bool
	}
	dirs := map[string]ent{}
	for dst, src := range cfg.ExtraPaths {
		dirs[dst] = ent{src: src, optional: true}
	}
	dirs[cfg.SandboxBuildDir] = ent{src: cfg.BuildDir}
	for _, d := range []string{"/dev/full", "/dev/kvm", "/dev/null", "/dev/random", "/dev/tty", "/dev/urandom", "/dev/zero"} {
		dirs[d] = ent{src: d, optional: true}
	}
	if cfg.Network {
		for _, p := range []string{"/etc/resolv.conf", "/etc/services", "/etc/hosts"} {
			if _, err := os.Stat(p); err == nil {
				dirs[p] = ent{src: p}
			}
		}
	}
	static := make([]staticEnt, 0, len(dirs))
	for t, e := range dirs {
		if inputs[t] {
			continue
		}
		fi, err := os.Stat(e.src)
		if err != nil {
			if e.optional && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("sandbox: getting attributes of path '%s': %w", e.src, err)
		}
		static = append(static, staticEnt{target: t, src: e.src, dir: fi.IsDir()})
	}
	sort.Slice(static, func(i, j int) bool { return static[i].target < static[j].target })
	_, err := os.Stat("/dev/pts/ptmx")
	ptmx := err == nil
	key := skeletonKey(cfg, hostGID, static, ptmx)

	sk := cfg.Pool.takeSkeleton(cfg.Slot, key, root)
	if sk == nil {
		if err := makeSkeleton(cfg, root, hostGID, static, ptmx); err != nil {
			return nil, err
		}
		if cfg.Pool != nil {
			sk = &skeleton{dir: root, key: key, storeRel: strings.TrimPrefix(cfg.StoreDir, "/")}
			if err := sk.record(); err != nil {
				return nil, err
			}
		}
	}
	// From here on Cleanup gives the root back to the pool.
	cfg.skel = sk

	spec := &nsinit.Spec{Root: root, Dev: true}
	for _, e := range static {
		spec.Binds = append(spec.Binds, nsinit.Bind{Src: e.src, Dst: filepath.Join(root, e.target)})
	}
	for _, in := range cfg.Inputs {
		dst := filepath.Join(root, in.Target)
		fi, err := os.Lstat(in.Source)
		if err != nil {
			return nil, fmt.Errorf("sandbox: input '%s': %w", in.Source, err)
		}
		// An input directly in the store directory can use a mount point a
		// reused root kept from an earlier build.
		name := ""
		if sk != nil && filepath.Dir(in.Target) == cfg.StoreDir {
			name = filepath.Base(in.Target)
		}
		hardLink := !fi.IsDir() && hostUID >= 0 && canHardLink(fi, hostUID)
		if name != "" {
			if hardLink && sk.reuseLink(name, fi.Sys().(*syscall.Stat_t).Ino) {
				continue
			}
			if !hardLink && fi.Mode()&fs.ModeSymlink == 0 && sk.reuseMount(name, fi.IsDir()) {
				spec.Binds = append(spec.Binds, nsinit.Bind{Src: in.Source, Dst: dst, RO: true})
				continue
			}
			if err := sk.dropMount(name); err != nil {
				return nil, err
			}
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			t, err := os.Readlink(in.Source)
			if err != nil {
				return nil, fmt.Errorf("sandbox: %w", err)
			}
			if err := os.Symlink(t, dst); err != nil {
				return nil, fmt.Errorf("sandbox: %w", err)
			}
			continue
		}
		// Like Nix, non-directories are hard-linked into the private store
		// (much cheaper than a mount each) when the builder cannot write
		// them: owned by someone else and not writable by group/others.
		if hardLink {
			if err := os.Link(in.Source, dst); err == nil {
				if name != "" {
					if err := sk.addMount(name, true); err != nil {
						return nil, err
					}
				}
				continue
			}
		}
		if err := makeMountPoint(dst, fi.IsDir()); err != nil {
			return nil, err
		}
		if name != "" {
			if err := sk.addMount(name, false); err != nil {
				return nil, err
			}
		}
		spec.Binds = append(spec.Binds, nsinit.Bind{Src: in.Source, Dst: dst, RO: true})
	}
	if sk != nil {
		if err := sk.dropUnusedMounts(); err != nil {
			return nil, err
		}
	}
	// Parents before children.
	sort.SliceStable(spec.Binds, func(i, j int) bool { return spec.Binds[i].Dst < spec.Binds[j].Dst })
	return spec, nil
}

// makeSkeleton creates the skeleton of a root at root.
func makeSkeleton(cfg *Config, root string, hostGID int, static []staticEnt, ptmx bool) error {
	if err := os.Mkdir(root, 0o750); err != nil {
		return fmt.Errorf("sandbox: cannot create '%s': %w", root, err)
	}
	if err := os.Chmod(root, 0o750); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(root, 0, hostGID); err != nil {
			return fmt.Errorf("sandbox: cannot change ownership of '%s': %w", root, err)
		}
	}
	mk := func(rel string, mode fs.FileMode) error {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
		return unix.Chmod(p, uint32(mode))
	}
	if err := mk("tmp", 0o1777); err != nil { // raw mode bits: sticky
		return err
	}
	if err := mk("etc", 0o755); err != nil {
		return err
	}
	write := func(rel, data string) error {
		if err := os.WriteFile(filepath.Join(root, rel), []byte(data), 0o644); err != nil {
			return fmt.Errorf("sandbox: writing /%s: %w", rel, err)
		}
		return nil
	}
	if err := write("etc/group", fmt.Sprintf("root:x:0:\nnixbld:!:%d:\nnogroup:x:65534:\n", SandboxGID)); err != nil {
		return err
	}
	if !cfg.Network {
		if err := write("etc/hosts", "127.0.0.1 localhost\n::1 localhost\n"); err != nil {
			return err
		}
	}
	storeRel := strings.TrimPrefix(cfg.StoreDir, "/")
	if err := mk(storeRel, 0o1775); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(filepath.Join(root, storeRel), 0, hostGID); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
	}
	if cfg.Network {
		if err := write("etc/nsswitch.conf", "hosts: files dns\nservices: files\n"); err != nil {
			return err
		}
	}
	for _, e := range static {
		if err := makeMountPoint(filepath.Join(root, e.target), e.dir); err != nil {
			return err
		}
	}
	for _, d := range []string{"dev/shm", "dev/pts", "proc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
	}
	links := [][2]string{
		{"dev/fd", "/proc/self/fd"}, {"dev/stdin", "/proc/self/fd/0"},
		{"dev/stdout", "/proc/self/fd/1"}, {"dev/stderr", "/proc/self/fd/2"},
	}
	if ptmx {
		// The init mounts a private devpts on /dev/pts.
		links = append(links, [2]string{"dev/ptmx", "/dev/pts/ptmx"})
	}
	for _, l := range links {
		if err := os.Symlink(l[1], filepath.Join(root, l[0])); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
	}
	// Nix writes /etc/passwd once the sandbox uid is known.
	return write("etc/passwd", fmt.Sprintf("root:x:0:0:Nix build user:%[3]s:/noshell\n"+
		"nixbld:x:%[1]d:%[2]d:Nix build user:%[3]s:/noshell\n"+
		"nobody:x:65534:65534:Nobody:/:/noshell\n", SandboxUID, SandboxGID, cfg.SandboxBuildDir))
}

// makeMountPoint creates an empty directory or file to bind a path onto.
func makeMountPoint(dst string, dir bool) error {
	var err error
	if dir {
		err = os.MkdirAll(dst, 0o755)
	} else if err = os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
		err = os.WriteFile(dst, nil, 0o644)
	}
	if err != nil {
		return fmt.Errorf("sandbox: creating mount point '%s': %w", dst, err)
	}
	return nil
}

// chownTree gives the build directory to the build user (chownToBuilder).
func chownTree(dir string, uid, gid int) error {
	if os.Geteuid() != 0 {
		return nil
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("sandbox: changing ownership of '%s': %w", p, err)
		}
		return nil
	})
}

// openPTY opens a pseudo-terminal pair in raw mode (Nix gives builders a
// pty so that tools behave as on a terminal, without \n -> \r\n).
func openPTY(uid int) (master, slave *os.File, err error) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening pseudoterminal master: %w", err)
	}
	master = os.NewFile(uintptr(mfd), "/dev/ptmx")
	fail := func(e error) (*os.File, *os.File, error) {
		master.Close()
		return nil, nil, e
	}
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		return fail(fmt.Errorf("unlocking pseudoterminal: %w", err))
	}
	n, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	if err != nil {
		return fail(fmt.Errorf("getting pseudoterminal number: %w", err))
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	sfd, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("opening pseudoterminal slave: %w", err))
	}
	slave = os.NewFile(uintptr(sfd), name)
	if os.Geteuid() == 0 {
		_ = unix.Fchmod(sfd, 0o600)
		_ = unix.Fchown(sfd, uid, 0)
	}
	t, err := unix.IoctlGetTermios(sfd, unix.TCGETS)
	if err != nil {
		slave.Close()
		return fail(fmt.Errorf("getting pseudoterminal attributes: %w", err))
	}
	// cfmakeraw
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(sfd, unix.TCSETS, t); err != nil {
		slave.Close()
		return fail(fmt.Errorf("putting pseudoterminal into raw mode: %w", err))
	}
	return master, slave, nil
}

// Available reports whether sandboxed builds can run here, with a reason
// when they cannot.
func Available() (bool, string) {
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && string(bytes.TrimSpace(b)) == "0" {
		return false, "user namespaces are disabled (/proc/sys/user/max_user_namespaces is 0)"
	}
	if _, err := os.Stat("/proc/self/ns/user"); err != nil {
		return false, "kernel has no user namespaces"
	}
	return true, ""
}

// canHardLink reports whether a file can be shared with the builder by a
// hard link without the builder being able to modify it.
func canHardLink(fi fs.FileInfo, hostUID int) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) != hostUID && fi.Mode().Perm()&0o022 == 0 && fi.Mode().IsRegular()
}
