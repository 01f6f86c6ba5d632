//go:build linux

package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// childSpec is what the parent sends the init over fd 3.
type childSpec struct {
	Root           string     `json:"root"`
	StoreDir       string     `json:"storeDir"`
	Binds          []bindSpec `json:"binds"`
	PrivateNetwork bool       `json:"privateNetwork"`
	SetGroups      bool       `json:"setGroups"`
	Builder        string     `json:"builder"`
	Argv           []string   `json:"argv"`
	Env            []string   `json:"env"`
	Cwd            string     `json:"cwd"`
	Seccomp        bool       `json:"seccomp"`
	Dev            bool       `json:"dev"`
}

type bindSpec struct {
	Src      string `json:"src"`
	Dst      string `json:"dst"` // absolute host path under Root
	RO       bool   `json:"ro,omitempty"`
	Optional bool   `json:"optional,omitempty"`
}

// ambientCaps are what the init needs to set up the sandbox; they are
// cleared before the builder is executed.
var ambientCaps = [...]uintptr{
	unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_FOWNER, unix.CAP_SETGID,
	unix.CAP_SETUID, unix.CAP_NET_ADMIN, unix.CAP_SYS_CHROOT, unix.CAP_SYS_ADMIN,
}

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

	var spec *childSpec
	if cfg.Sandboxed {
		var err error
		if spec, err = prepareRoot(cfg, hostUID, hostGID); err != nil {
			return err
		}
		// Nix writes /etc/passwd once the sandbox uid is known.
		passwd := fmt.Sprintf("root:x:0:0:Nix build user:%[3]s:/noshell\n"+
			"nixbld:x:%[1]d:%[2]d:Nix build user:%[3]s:/noshell\n"+
			"nobody:x:65534:65534:Nobody:/:/noshell\n", SandboxUID, SandboxGID, cfg.SandboxBuildDir)
		if err := os.WriteFile(filepath.Join(cfg.ChrootDir, "etc/passwd"), []byte(passwd), 0o644); err != nil {
			return fmt.Errorf("sandbox: writing /etc/passwd: %w", err)
		}
		spec.SetGroups = os.Geteuid() == 0
		spec.Seccomp = cfg.Seccomp
		spec.Builder = cfg.Builder
		spec.Argv = append([]string{baseName(cfg.Builder)}, cfg.Args...)
		spec.Env = envList(cfg.Env)
		spec.Cwd = cfg.SandboxBuildDir
	}

	// Output channel: a raw pseudo-terminal like Nix, or a pipe.
	var master, slave *os.File
	var err error
	if !cfg.NoPTY {
		master, slave, err = openPTY(hostUID)
	}
	if cfg.NoPTY || err != nil {
		master, slave, err = os.Pipe()
		if err != nil {
			return fmt.Errorf("sandbox: creating output pipe: %w", err)
		}
	}
	defer master.Close()
	slaveOpen := true
	defer func() {
		if slaveOpen {
			slave.Close()
		}
	}()

	var cmd *exec.Cmd
	var specR, specW, errR, errW *os.File
	if cfg.Sandboxed {
		exe := cfg.InitExe
		if exe == "" {
			exe = "/proc/self/exe"
		}
		cmd = exec.CommandContext(ctx, exe, cfg.InitArgs...)
		if specR, specW, err = os.Pipe(); err != nil {
			return fmt.Errorf("sandbox: pipe: %w", err)
		}
		defer specR.Close()
		defer specW.Close()
		if errR, errW, err = os.Pipe(); err != nil {
			return fmt.Errorf("sandbox: pipe: %w", err)
		}
		defer errR.Close()
		defer errW.Close()
		cmd.ExtraFiles = []*os.File{specR, errW}
		cmd.Env = []string{}
		flags := uintptr(unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS)
		spec.PrivateNetwork = !cfg.Network
		if spec.PrivateNetwork {
			flags |= unix.CLONE_NEWNET
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:                 flags,
			UidMappings:                []syscall.SysProcIDMap{{ContainerID: SandboxUID, HostID: hostUID, Size: 1}},
			GidMappings:                []syscall.SysProcIDMap{{ContainerID: SandboxGID, HostID: hostGID, Size: 1}},
			GidMappingsEnableSetgroups: spec.SetGroups,
			AmbientCaps:                ambientCaps[:],
			Setsid:                     true,
			Pdeathsig:                  syscall.SIGKILL,
		}
	} else {
		cmd = exec.CommandContext(ctx, cfg.Builder, cfg.Args...)
		cmd.Args[0] = baseName(cfg.Builder)
		cmd.Env = envList(cfg.Env)
		cmd.Dir = cfg.BuildDir
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
		if os.Geteuid() == 0 && hostUID != 0 {
			cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(hostUID), Gid: uint32(hostGID), Groups: []uint32{}}
		}
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

	if err := cmd.Start(); err != nil {
		if cfg.Sandboxed {
			return fmt.Errorf("sandbox: starting sandbox init: %w", err)
		}
		return fmt.Errorf("executing builder '%s': %w", cfg.Builder, err)
	}
	pid := cmd.Process.Pid
	slave.Close()
	slaveOpen = false

	copyDone := make(chan error, 1)
	go func() {
		_, err := io.Copy(cfg.Log, master)
		if errors.Is(err, syscall.EIO) { // pty hang-up: all writers gone
			err = nil
		}
		copyDone <- err
	}()

	var setupErr error
	if cfg.Sandboxed {
		specR.Close()
		errW.Close()
		data, err := json.Marshal(spec)
		if err == nil {
			_, err = specW.Write(data)
		}
		specW.Close()
		if err != nil {
			setupErr = fmt.Errorf("sandbox: sending setup to init: %w", err)
		} else {
			// The error pipe is close-on-exec in the init: EOF with no
			// data means the builder was executed.
			msg, _ := io.ReadAll(errR)
			if len(msg) > 0 {
				setupErr = fmt.Errorf("while setting up the build environment: %s", strings.TrimSpace(string(msg)))
			}
		}
	}

	waitErr := cmd.Wait()
	// Kill anything left in the process group (unsandboxed builds); in the
	// sandbox the pid namespace died with its pid 1.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	var copyErr error
	select {
	case copyErr = <-copyDone:
	case <-time.After(10 * time.Second):
		master.Close()
		copyErr = <-copyDone
	}

	if ctx.Err() != nil {
		return fmt.Errorf("build interrupted: %w", ctx.Err())
	}
	if setupErr != nil {
		return setupErr
	}
	if waitErr != nil {
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return &BuildFailure{ExitCode: -1, Signal: fmt.Sprintf("%d (%s)", int(ws.Signal()), signalName(ws.Signal()))}
			}
			return &BuildFailure{ExitCode: ee.ExitCode()}
		}
		return fmt.Errorf("waiting for builder: %w", waitErr)
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

// prepareRoot lays out the chroot on the host, as Nix's startBuilder does.
func prepareRoot(cfg *Config, hostUID, hostGID int) (*childSpec, error) {
	root := cfg.ChrootDir
	if root == "" {
		return nil, errors.New("sandbox: no chroot directory")
	}
	if err := os.Mkdir(root, 0o750); err != nil {
		return nil, fmt.Errorf("sandbox: cannot create '%s': %w", root, err)
	}
	if err := os.Chmod(root, 0o750); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(root, 0, hostGID); err != nil {
			return nil, fmt.Errorf("sandbox: cannot change ownership of '%s': %w", root, err)
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
		return nil, err
	}
	if err := mk("etc", 0o755); err != nil {
		return nil, err
	}
	group := fmt.Sprintf("root:x:0:\nnixbld:!:%d:\nnogroup:x:65534:\n", SandboxGID)
	if err := os.WriteFile(filepath.Join(root, "etc/group"), []byte(group), 0o644); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if !cfg.Network {
		if err := os.WriteFile(filepath.Join(root, "etc/hosts"), []byte("127.0.0.1 localhost\n::1 localhost\n"), 0o644); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	storeRel := strings.TrimPrefix(cfg.StoreDir, "/")
	if err := mk(storeRel, 0o1775); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(filepath.Join(root, storeRel), 0, hostGID); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}

	// dirsInChroot: target (inside) -> source (host).
	type ent struct {
		src      string
		ro       bool
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
		if err := os.WriteFile(filepath.Join(root, "etc/nsswitch.conf"), []byte("hosts: files dns\nservices: files\n"), 0o644); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		for _, p := range []string{"/etc/resolv.conf", "/etc/services", "/etc/hosts"} {
			if _, err := os.Stat(p); err == nil {
				dirs[p] = ent{src: p}
			}
		}
	}
	for _, in := range cfg.Inputs {
		dst := filepath.Join(root, in.Target)
		fi, err := os.Lstat(in.Source)
		if err != nil {
			return nil, fmt.Errorf("sandbox: input '%s': %w", in.Source, err)
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
		if !fi.IsDir() && hostUID >= 0 && canHardLink(fi, hostUID) {
			if err := os.Link(in.Source, dst); err == nil {
				continue
			}
		}
		dirs[in.Target] = ent{src: in.Source, ro: true}
	}

	spec := &childSpec{Root: root, StoreDir: cfg.StoreDir, Dev: true}
	targets := make([]string, 0, len(dirs))
	for t := range dirs {
		targets = append(targets, t)
	}
	sort.Strings(targets)
	for _, t := range targets {
		e := dirs[t]
		dst := filepath.Join(root, t)
		fi, err := os.Stat(e.src)
		if err != nil {
			if e.optional && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("sandbox: getting attributes of path '%s': %w", e.src, err)
		}
		if fi.IsDir() {
			err = os.MkdirAll(dst, 0o755)
		} else {
			if err = os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
				err = os.WriteFile(dst, nil, 0o644)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("sandbox: creating mount point '%s': %w", dst, err)
		}
		spec.Binds = append(spec.Binds, bindSpec{Src: e.src, Dst: dst, RO: e.ro})
	}
	for _, d := range []string{"dev/shm", "dev/pts", "proc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	for name, target := range map[string]string{
		"dev/fd": "/proc/self/fd", "dev/stdin": "/proc/self/fd/0",
		"dev/stdout": "/proc/self/fd/1", "dev/stderr": "/proc/self/fd/2",
	} {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	return spec, nil
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
