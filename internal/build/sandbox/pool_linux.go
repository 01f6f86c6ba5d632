//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/onix-dev/onix/internal/build/sandbox/nsinit"
)

// slot is what the pool keeps for one build slot between its builds.
type slot struct {
	init *initProc // started for the slot's next build, or nil
	// skels are the slot's previous roots, oldest first, each being reset
	// (see skeleton.ready) or idle. Keeping two lets a build start on one
	// while the other, just released, is reset.
	skels []*skeleton
}

// skeletonsPerSlot is how many roots a slot keeps.
const skeletonsPerSlot = 2

// slotLocked returns slot i, creating it; nil when the pool is nil or
// closed. p.mu must be held.
func (p *Pool) slotLocked(i int) *slot {
	if p == nil || p.closed {
		return nil
	}
	s := p.slots[i]
	if s == nil {
		s = &slot{}
		p.slots[i] = s
	}
	return s
}

// takeInit returns an init for a build with key on slot i: the slot's
// spare when it was started for the same key, else a newly started one.
// The init may still be starting (see initProc.started).
func (p *Pool) takeInit(i int, key initKey) *initProc {
	var ip *initProc
	if p != nil {
		p.mu.Lock()
		if s := p.slotLocked(i); s != nil {
			ip, s.init = s.init, nil
		}
		p.mu.Unlock()
	}
	if ip != nil && ip.key == key {
		return ip
	}
	if ip != nil {
		p.discardInit(ip)
	}
	// Not through the spawner: it may not be running yet.
	var direct *Pool
	return direct.startInit(key)
}

// prestart starts the spare init for slot i's next build, expecting it to
// need key, but a network namespace of its own: fixed-output builds, which
// use the host's network, are rare.
func (p *Pool) prestart(i int, key initKey) {
	if p == nil {
		return
	}
	key.network = false
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.slotLocked(i); s != nil && s.init == nil {
		s.init = p.startInit(key)
	}
}

// discardInit stops an init that will not be used, in the background when
// there is a pool.
func (p *Pool) discardInit(ip *initProc) {
	if p == nil {
		ip.kill()
		return
	}
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		ip.kill()
	}()
}

// takeSkeleton moves one of slot i's idle skeletons to dst and returns
// it: one whose reset has finished if there is one, else the oldest, once
// reset, if the slot has all it keeps; nil if there is none for key (the
// caller then makes a new one).
func (p *Pool) takeSkeleton(i int, key, dst string) *skeleton {
	for {
		sk, ok := p.pickSkeleton(i)
		if !ok {
			return nil
		}
		<-sk.ready
		if sk.broken { // already removed by the reset
			continue
		}
		if sk.key != key {
			_ = p.RemoveLater(sk.dir)
			continue
		}
		if err := os.Rename(sk.dir, dst); err != nil {
			_ = p.RemoveLater(sk.dir)
			continue
		}
		sk.dir = dst
		return sk
	}
}

// pickSkeleton removes a skeleton from slot i's list for takeSkeleton.
func (p *Pool) pickSkeleton(i int) (*skeleton, bool) {
	if p == nil {
		return nil, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.slotLocked(i)
	if s == nil || len(s.skels) == 0 {
		return nil, false
	}
	pick := -1
	for j, sk := range s.skels {
		select {
		case <-sk.ready:
			pick = j
		default:
		}
		if pick >= 0 {
			break
		}
	}
	if pick < 0 {
		if len(s.skels) < skeletonsPerSlot {
			return nil, false // make another rather than wait
		}
		pick = 0
	}
	sk := s.skels[pick]
	s.skels = append(s.skels[:pick], s.skels[pick+1:]...)
	return sk, true
}

// release takes back the root of a finished build on slot i: it is reset
// in the background and kept for the slot's next builds, or removed if it
// cannot be reused.
func (p *Pool) release(i int, sk *skeleton) {
	p.mu.Lock()
	s := p.slotLocked(i)
	if s == nil || len(s.skels) >= skeletonsPerSlot {
		p.mu.Unlock()
		_ = p.RemoveLater(sk.dir)
		return
	}
	// Idle, the root leaves the derivation's .chroot name: another process
	// (onix --check, or Nix) may build the same derivation next and
	// would use that name. The new name keeps the derivation's hash
	// part, so the temp root that protects it from the GC still does.
	p.seq++
	idle := fmt.Sprintf("%s.idle-%d-%d-%d", sk.dir, os.Getpid(), i, p.seq)
	if err := os.Rename(sk.dir, idle); err != nil {
		p.mu.Unlock()
		_ = p.RemoveLater(sk.dir)
		return
	}
	sk.dir = idle
	sk.ready = make(chan struct{})
	s.skels = append(s.skels, sk)
	p.bg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.bg.Done()
		defer close(sk.ready)
		if err := sk.reset(); err != nil {
			sk.broken = true
			if err := removeAll(sk.dir); err != nil {
				p.report(fmt.Errorf("removing sandbox directory '%s': %w", sk.dir, err))
			}
		}
	}()
}

// closeSlot reaps the slot's spare init and removes its skeletons (in the
// background: Close waits).
func (p *Pool) closeSlot(s *slot) {
	if s.init != nil {
		s.init.kill()
	}
	for _, sk := range s.skels {
		p.bg.Add(1)
		go func() {
			defer p.bg.Done()
			<-sk.ready
			if !sk.broken {
				if err := removeAll(sk.dir); err != nil {
					p.report(fmt.Errorf("removing sandbox directory '%s': %w", sk.dir, err))
				}
			}
		}()
	}
}

// initKey is what an init is started with; an init started ahead can only
// serve a build that needs the same.
type initKey struct {
	exe       string
	args      string // NUL-separated
	uid, gid  int    // host ids of the sandbox user
	network   bool   // host network namespace (fixed-output)
	setGroups bool
}

// initProc is a started sandbox init waiting for its setup on a socket.
type initProc struct {
	key     initKey
	started chan struct{} // closed when the start finished (see err)
	err     error
	pid     int
	pidfd   int      // -1 when started without one
	sock    int      // our end of the setup socket
	errR    *os.File // EOF once the builder was executed
	// wait returns the init's exit status once it has been reaped.
	wait func() (syscall.WaitStatus, error)
	cmd  *exec.Cmd // when started by this process
}

// close releases the init's file descriptors. Only once nothing can
// signal it any more: the pidfd's number could be reused.
func (ip *initProc) close() {
	ip.closeSock()
	if ip.pidfd >= 0 {
		unix.Close(ip.pidfd)
		ip.pidfd = -1
	}
	if ip.errR != nil {
		ip.errR.Close()
	}
}

// startInit starts an init for key in the background, through the pool's
// spawner when it has one for key (see spawner).
func (p *Pool) startInit(key initKey) *initProc {
	ip := &initProc{key: key, started: make(chan struct{}), sock: -1, pidfd: -1}
	go func() {
		defer close(ip.started)
		if sp := p.spawnerFor(key); sp != nil {
			if ip.err = sp.spawn(ip); ip.err == nil {
				return
			}
		}
		if p != nil && p.isClosed() {
			ip.err = errors.New("sandbox: pool closed")
			return
		}
		ip.err = ip.startDirect()
	}()
	return ip
}

// spawnerFor returns the pool's spawner, starting it, when it can start
// inits for key; nil otherwise.
func (p *Pool) spawnerFor(key initKey) *spawner {
	if p == nil {
		return nil
	}
	p.spMu.Lock()
	defer p.spMu.Unlock()
	if p.sp == nil && p.spErr == nil && !p.isClosed() {
		var args []string
		if key.args != "" {
			args = strings.Split(key.args, "\x00")
		}
		p.sp, p.spErr = startSpawner(key.exe, args)
		if p.sp != nil {
			p.sp.exe, p.sp.args = key.exe, key.args
		}
	}
	if p.sp == nil || p.sp.exe != key.exe || p.sp.args != key.args {
		return nil
	}
	return p.sp
}

func (p *Pool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// startDirect starts the init as a child of this process.
func (ip *initProc) startDirect() error {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("sandbox: socketpair: %w", err)
	}
	childSock := os.NewFile(uintptr(fds[1]), "sandbox-setup")
	defer childSock.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		unix.Close(fds[0])
		return fmt.Errorf("sandbox: pipe: %w", err)
	}
	defer errW.Close()
	var args []string
	if ip.key.args != "" {
		args = strings.Split(ip.key.args, "\x00")
	}
	cmd := exec.Command(ip.key.exe, args...)
	cmd.ExtraFiles = []*os.File{childSock, errW}
	cmd.Env = nsinit.Env(ip.key.network)
	cmd.SysProcAttr = nsinit.SysProcAttr(ip.key.uid, ip.key.gid, ip.key.network, ip.key.setGroups)
	if err := cmd.Start(); err != nil {
		unix.Close(fds[0])
		errR.Close()
		return fmt.Errorf("sandbox: starting sandbox init: %w", err)
	}
	ip.cmd, ip.pid, ip.sock, ip.errR = cmd, cmd.Process.Pid, fds[0], errR
	ip.wait = func() (syscall.WaitStatus, error) {
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
			return ws, nil
		}
		return 0, fmt.Errorf("waiting for builder: %w", err)
	}
	return nil
}

// signal sends sig to the init (and so, as the pid namespace's init, to
// the whole sandbox once it is the builder).
func (ip *initProc) signal(sig syscall.Signal) {
	if ip.pidfd >= 0 {
		_ = unix.PidfdSendSignal(ip.pidfd, sig, nil, 0)
	} else if ip.cmd != nil {
		_ = ip.cmd.Process.Signal(sig)
	}
}

// send gives the init its setup: the builder's output file and the spec.
// It closes our end of the socket.
func (ip *initProc) send(out *os.File, data []byte) error {
	defer ip.closeSock()
	rights := unix.UnixRights(int(out.Fd()))
	if err := unix.Sendmsg(ip.sock, []byte{0}, rights, nil, unix.MSG_NOSIGNAL); err != nil {
		return err
	}
	for len(data) > 0 {
		n, err := unix.SendmsgN(ip.sock, data, nil, nil, unix.MSG_NOSIGNAL)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

func (ip *initProc) closeSock() {
	if ip.sock >= 0 {
		unix.Close(ip.sock)
		ip.sock = -1
	}
}

// kill stops an unused init and reaps it.
func (ip *initProc) kill() {
	<-ip.started
	if ip.err != nil {
		return
	}
	ip.closeSock()
	ip.signal(syscall.SIGKILL)
	_, _ = ip.wait()
	ip.close()
}

func (p *Pool) closeSpawner() {
	p.spMu.Lock()
	sp := p.sp
	p.sp, p.spErr = nil, errors.New("sandbox: pool closed")
	p.spMu.Unlock()
	if sp != nil {
		sp.close()
	}
}
