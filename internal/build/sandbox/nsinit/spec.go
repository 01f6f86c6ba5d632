// Package nsinit is the init of the build sandbox: the process that, in the
// sandbox's fresh namespaces, finishes the private root (bind mounts,
// /proc, /dev), pivots into it, drops to the build user and executes the
// builder, which so becomes pid 1 of the sandbox.
//
// The init is a re-execution of the running binary. So that it does not
// first initialise every package of that binary (onix has over a hundred,
// several milliseconds per build), this package imports only os and
// syscall, and its init function takes over when the process was started
// as a sandbox init (EnvVar set, a socket at fd 3): by the Go
// specification's initialisation order it runs as soon as os and syscall
// are initialised, before the packages that do not import it. Main is
// the same for callers that dispatch themselves.
package nsinit

import (
	"errors"
)

// EnvVar is set in the environment of a sandbox init, to PrivateNetwork
// or HostNetwork.
const EnvVar = "ONIX_SANDBOX_INIT"

// Values of EnvVar: whether the init has a network namespace of its own,
// in which it brings up lo before it receives its setup.
const (
	PrivateNetwork = "private-network"
	HostNetwork    = "host-network"
)

// Spec is what the parent sends the init, after the builder's output file.
type Spec struct {
	Root      string // the private root on the host
	Binds     []Bind
	SetGroups bool // call setgroups (only possible when the parent is root)
	Builder   string
	Argv      []string
	Env       []string
	Cwd       string
	Seccomp   bool
	Dev       bool // mount /dev/shm and /dev/pts
	// Linux32 runs the builder with the 32-bit personality (PER_LINUX32:
	// uname reports i686 or armv7l), as Nix does for 32-bit builds on a
	// 64-bit machine.
	Linux32 bool
}

// Bind is a bind mount of a host path onto Dst (a host path under Root).
type Bind struct {
	Src, Dst string
	RO       bool
}

// Encode serialises s (with no dependency on encoding packages, see the
// package comment).
func (s *Spec) Encode() []byte {
	var e encoder
	e.str("onix-sandbox-spec-2")
	e.str(s.Root)
	e.uint(uint64(len(s.Binds)))
	for _, b := range s.Binds {
		e.str(b.Src)
		e.str(b.Dst)
		e.bool(b.RO)
	}
	e.bool(s.SetGroups)
	e.str(s.Builder)
	e.strs(s.Argv)
	e.strs(s.Env)
	e.str(s.Cwd)
	e.bool(s.Seccomp)
	e.bool(s.Dev)
	e.bool(s.Linux32)
	return e.b
}

// Decode parses what Encode produced.
func Decode(data []byte) (*Spec, error) {
	d := decoder{b: data}
	if d.str() != "onix-sandbox-spec-2" {
		return nil, errors.New("not a sandbox setup")
	}
	s := &Spec{Root: d.str()}
	n := d.count()
	for i := 0; i < n && d.err == nil; i++ {
		s.Binds = append(s.Binds, Bind{Src: d.str(), Dst: d.str(), RO: d.bool()})
	}
	s.SetGroups = d.bool()
	s.Builder = d.str()
	s.Argv = d.strs()
	s.Env = d.strs()
	s.Cwd = d.str()
	s.Seccomp = d.bool()
	s.Dev = d.bool()
	s.Linux32 = d.bool()
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("trailing data")
	}
	if d.err != nil {
		return nil, errors.New("malformed sandbox setup: " + d.err.Error())
	}
	return s, nil
}

type encoder struct{ b []byte }

func (e *encoder) uint(v uint64) {
	for v >= 0x80 {
		e.b = append(e.b, byte(v)|0x80)
		v >>= 7
	}
	e.b = append(e.b, byte(v))
}

func (e *encoder) str(s string) {
	e.uint(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) strs(ss []string) {
	e.uint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (d *decoder) uint() uint64 {
	var v uint64
	for shift := uint(0); d.err == nil; shift += 7 {
		if len(d.b) == 0 || shift > 63 {
			d.err = errShort
			break
		}
		c := d.b[0]
		d.b = d.b[1:]
		if c == 0 && shift > 0 { // an overlong form: the encoder has one form per number
			d.err = errors.New("non-minimal number")
			break
		}
		if shift == 63 && c > 1 {
			d.err = errors.New("number out of range")
			break
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
	return 0
}

// count reads a length, which cannot exceed what is left.
func (d *decoder) count() int {
	n := d.uint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = errShort
	}
	if d.err != nil {
		return 0
	}
	return int(n)
}

func (d *decoder) str() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) strs() []string {
	n := d.count()
	var ss []string
	for i := 0; i < n && d.err == nil; i++ {
		ss = append(ss, d.str())
	}
	return ss
}

func (d *decoder) bool() bool {
	if d.err != nil {
		return false
	}
	if len(d.b) == 0 {
		d.err = errShort
		return false
	}
	c := d.b[0]
	d.b = d.b[1:]
	if c > 1 {
		d.err = errors.New("bad boolean")
	}
	return c == 1
}
