//go:build linux

package nsinit

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"syscall"
)

// Spawner is the value of EnvVar for a spawner: the process a build
// session starts its inits from.
//
// A process that creates a user namespace cannot be started with vfork:
// the kernel copies the whole address space of the starting process, and
// both then take copy-on-write faults. Started from a process with tens of
// megabytes of heap, that costs milliseconds per init. A spawner, which
// gets no further than this package, is small. It starts inits on request
// and passes back their setup socket, error pipe and pidfd, and reports
// their exit status, as only a parent can wait for a process.
//
// Messages on the spawner's SOCK_SEQPACKET socket (fd 3), little endian:
//
//	request  'S' uid:u32 gid:u32 flags:u8 (FlagHostNetwork, FlagSetGroups)
//	reply    'R' pid:u32 error-text, with [setup socket, error pipe, pidfd]
//	         as SCM_RIGHTS when pid != 0
//	exit     'X' pid:u32 wait-status:u32
const Spawner = "spawner"

// Flags of a spawn request.
const (
	FlagHostNetwork = 1 << iota
	FlagSetGroups
)

// AmbientCaps are the capabilities the init needs to set up the sandbox
// (it drops them before executing the builder).
func AmbientCaps() []uintptr {
	return []uintptr{
		0,  // CAP_CHOWN
		1,  // CAP_DAC_OVERRIDE
		3,  // CAP_FOWNER
		6,  // CAP_SETGID
		7,  // CAP_SETUID
		12, // CAP_NET_ADMIN
		18, // CAP_SYS_CHROOT
		21, // CAP_SYS_ADMIN
	}
}

// SysProcAttr is how an init is started: in fresh namespaces (the
// network's too unless hostNetwork), with the sandbox user mapped to the
// host's uid and gid, the capabilities it needs, in a session of its own,
// killed when its parent (thread) dies.
func SysProcAttr(uid, gid int, hostNetwork, setGroups bool) *syscall.SysProcAttr {
	flags := uintptr(syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS)
	if !hostNetwork {
		flags |= syscall.CLONE_NEWNET
	}
	return &syscall.SysProcAttr{
		Cloneflags:                 flags,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: sandboxUID, HostID: uid, Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: sandboxGID, HostID: gid, Size: 1}},
		GidMappingsEnableSetgroups: setGroups,
		AmbientCaps:                AmbientCaps(),
		Setsid:                     true,
		Pdeathsig:                  syscall.SIGKILL,
	}
}

// Env is the environment of an init.
func Env(hostNetwork bool) []string {
	if hostNetwork {
		return []string{EnvVar + "=" + HostNetwork}
	}
	return []string{EnvVar + "=" + PrivateNetwork}
}

func spawnerMain() int {
	// Inits die (Pdeathsig) with the thread that started them: start them
	// all from this one.
	runtime.LockOSThread()
	const sock = setupFD
	devNull, err := syscall.Open("/dev/null", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		os.Stderr.WriteString("onix: sandbox spawner: " + err.Error() + "\n")
		return 127
	}
	var sendMu sync.Mutex
	send := func(msg, rights []byte) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return syscall.Sendmsg(sock, msg, rights, nil, syscall.MSG_NOSIGNAL)
	}
	buf := make([]byte, 64)
	for {
		n, _, _, _, err := syscall.Recvmsg(sock, buf, nil, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return 0 // the parent is done; unused inits die with us
		}
		if n != 10 || buf[0] != 'S' {
			continue
		}
		uid, gid, flags := int(getUint32(buf[1:])), int(getUint32(buf[5:])), buf[9]
		reply := []byte{'R', 0, 0, 0, 0}
		pid, fds, err := spawn(devNull, uid, gid, flags&FlagHostNetwork != 0, flags&FlagSetGroups != 0)
		if err != nil {
			_ = send(append(reply, err.Error()...), nil)
			continue
		}
		putUint32(reply[1:], uint32(pid))
		err = send(reply, syscall.UnixRights(fds[:]...))
		for _, fd := range fds {
			syscall.Close(fd)
		}
		if err != nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		go func() {
			var ws syscall.WaitStatus
			for {
				if _, err := syscall.Wait4(pid, &ws, 0, nil); err != syscall.EINTR {
					break
				}
			}
			msg := []byte{'X', 0, 0, 0, 0, 0, 0, 0, 0}
			putUint32(msg[1:], uint32(pid))
			putUint32(msg[5:], uint32(ws))
			_ = send(msg, nil)
		}()
	}
}

// spawn starts an init (this binary, with the same arguments) and returns
// its pid and our ends of its setup socket and error pipe, and its pidfd.
func spawn(devNull, uid, gid int, hostNetwork, setGroups bool) (int, [3]int, error) {
	var fds [3]int
	sp, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fds, errors.New("socketpair: " + err.Error())
	}
	var ep [2]int
	if err := syscall.Pipe2(ep[:], syscall.O_CLOEXEC); err != nil {
		syscall.Close(sp[0])
		syscall.Close(sp[1])
		return 0, fds, errors.New("pipe: " + err.Error())
	}
	pidfd := -1
	sys := SysProcAttr(uid, gid, hostNetwork, setGroups)
	sys.PidFD = &pidfd
	pid, err := syscall.ForkExec("/proc/self/exe", os.Args, &syscall.ProcAttr{
		Env:   Env(hostNetwork),
		Files: []uintptr{uintptr(devNull), uintptr(devNull), uintptr(devNull), uintptr(sp[1]), uintptr(ep[1])},
		Sys:   sys,
	})
	syscall.Close(sp[1])
	syscall.Close(ep[1])
	if err != nil {
		syscall.Close(sp[0])
		syscall.Close(ep[0])
		return 0, fds, errors.New("starting sandbox init: " + err.Error())
	}
	return pid, [3]int{sp[0], ep[0], pidfd}, nil
}

func getUint32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func putUint32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
