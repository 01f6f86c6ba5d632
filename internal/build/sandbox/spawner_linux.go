//go:build linux

package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/onix-dev/onix/internal/build/sandbox/nsinit"
)

// A pool starts its inits through a spawner (see nsinit.Spawner), which
// is cheap to fork, rather than from this (big) process.

// spawner is the parent's end of a spawner.
type spawner struct {
	exe, args string
	cmd       *exec.Cmd
	sock      int
	reqMu     sync.Mutex // one request at a time; replies come in order
	replies   chan spawnReply

	mu    sync.Mutex
	exits map[int]chan exitStatus // by pid, until delivered
	dead  error                   // set once the spawner is gone
	done  chan struct{}           // closed when the reader has stopped
}

type spawnReply struct {
	pid         int
	sock, pidfd int
	errR        *os.File
	exited      chan exitStatus // gets the init's exit status
	err         error
}

type exitStatus struct {
	ws  syscall.WaitStatus
	err error
}

// startSpawner starts a spawner running exe with args.
func startSpawner(exe string, args []string) (*spawner, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("sandbox: socketpair: %w", err)
	}
	child := os.NewFile(uintptr(fds[1]), "sandbox-spawner")
	defer child.Close()
	cmd := exec.Command(exe, args...)
	cmd.ExtraFiles = []*os.File{child}
	cmd.Env = []string{nsinit.EnvVar + "=" + nsinit.Spawner}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		unix.Close(fds[0])
		return nil, fmt.Errorf("sandbox: starting spawner: %w", err)
	}
	sp := &spawner{
		cmd: cmd, sock: fds[0], replies: make(chan spawnReply, 1),
		exits: map[int]chan exitStatus{}, done: make(chan struct{}),
	}
	go sp.read()
	return sp, nil
}

// read receives the spawner's messages until it goes away.
func (sp *spawner) read() {
	defer close(sp.done)
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(3*4))
	var err error
	for {
		var n, oobn int
		n, oobn, _, _, err = unix.Recvmsg(sp.sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err == nil && n == 0 {
			err = errors.New("sandbox spawner exited")
		}
		if err != nil {
			break
		}
		msg := buf[:n]
		switch {
		case msg[0] == 'R' && n >= 5:
			r := spawnReply{pid: int(binary.LittleEndian.Uint32(msg[1:5])), sock: -1, pidfd: -1}
			if r.pid == 0 {
				r.err = errors.New(string(msg[5:]))
			} else if fds, perr := parseRights(oob[:oobn], 3); perr != nil {
				r.err = fmt.Errorf("sandbox: spawner reply: %w", perr)
			} else {
				r.sock, r.pidfd = fds[0], fds[2]
				r.errR = os.NewFile(uintptr(fds[1]), "sandbox-error")
				r.exited = make(chan exitStatus, 1)
				sp.mu.Lock()
				sp.exits[r.pid] = r.exited
				sp.mu.Unlock()
			}
			sp.replies <- r
		case msg[0] == 'X' && n >= 9:
			pid := int(binary.LittleEndian.Uint32(msg[1:5]))
			ws := syscall.WaitStatus(binary.LittleEndian.Uint32(msg[5:9]))
			sp.mu.Lock()
			ch := sp.exits[pid]
			delete(sp.exits, pid)
			sp.mu.Unlock()
			if ch != nil {
				ch <- exitStatus{ws: ws}
			}
		}
	}
	sp.mu.Lock()
	sp.dead = err
	for pid, ch := range sp.exits {
		ch <- exitStatus{err: fmt.Errorf("sandbox: lost track of the sandbox init: %w", err)}
		delete(sp.exits, pid)
	}
	sp.mu.Unlock()
	close(sp.replies)
}

func parseRights(oob []byte, want int) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	for i := range msgs {
		f, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			return nil, err
		}
		fds = append(fds, f...)
	}
	if len(fds) != want {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("got %d file descriptors, want %d", len(fds), want)
	}
	return fds, nil
}

// spawn asks the spawner for an init for key and fills in ip.
func (sp *spawner) spawn(ip *initProc) error {
	sp.reqMu.Lock()
	defer sp.reqMu.Unlock()
	sp.mu.Lock()
	dead := sp.dead
	sp.mu.Unlock()
	if dead != nil {
		return dead
	}
	req := make([]byte, 10)
	req[0] = 'S'
	binary.LittleEndian.PutUint32(req[1:], uint32(ip.key.uid))
	binary.LittleEndian.PutUint32(req[5:], uint32(ip.key.gid))
	if ip.key.network {
		req[9] |= nsinit.FlagHostNetwork
	}
	if ip.key.setGroups {
		req[9] |= nsinit.FlagSetGroups
	}
	if err := unix.Sendmsg(sp.sock, req, nil, nil, unix.MSG_NOSIGNAL); err != nil {
		return fmt.Errorf("sandbox: asking the spawner for an init: %w", err)
	}
	r, ok := <-sp.replies
	if !ok {
		return errors.New("sandbox spawner exited")
	}
	if r.err != nil {
		return r.err
	}
	ip.pid, ip.sock, ip.errR, ip.pidfd = r.pid, r.sock, r.errR, r.pidfd
	ip.wait = func() (syscall.WaitStatus, error) {
		e := <-r.exited
		return e.ws, e.err
	}
	return nil
}

// close stops the spawner (its unused inits die with it) and reaps it.
func (sp *spawner) close() {
	unix.Shutdown(sp.sock, unix.SHUT_WR)
	<-sp.done
	unix.Close(sp.sock)
	_ = sp.cmd.Wait()
}
