// Package sandbox runs a derivation builder the way Nix 2.8's Linux sandbox
// does: in fresh mount, pid, ipc, uts, user and (unless the build is
// fixed-output) network namespaces, inside a private root holding only the
// input closure, a minimal /dev, /proc, a fixed /etc and the build directory
// at /build. The builder runs as uid 1000 / gid 100 ("nixbld") inside, mapped
// to a host build user, with a pseudo-terminal as stdout/stderr.
//
// Namespace setup happens in a re-executed copy of the running binary (the
// "init", package nsinit), which the builder replaces; the caller's main
// must dispatch to ChildMain when it sees the argument vector it configured
// in Config.InitArgs. See ChildMain.
//
// A build session's Pool takes most of the cost of a sandbox off each
// build's critical path: per build slot it starts the init of the next
// build while the current one runs (from a small spawner process), reuses
// the previous root once emptied and checked, and removes build
// directories in the background. Every build still gets fresh namespaces
// and an init of its own.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// SandboxUID and SandboxGID are the ids the builder has inside the sandbox,
// as in Nix's sandboxUid()/sandboxGid().
const (
	SandboxUID = 1000
	SandboxGID = 100
)

// Input is one store path made visible inside the sandbox.
type Input struct {
	// Source is the physical (host) path.
	Source string
	// Target is the logical path inside the sandbox, e.g. /nix/store/…-foo.
	Target string
}

// Config describes one sandboxed builder run.
type Config struct {
	// InitExe and InitArgs are how the sandbox init is re-executed. InitExe
	// defaults to /proc/self/exe; InitArgs must be what makes the binary
	// call ChildMain (e.g. []string{"__sandbox-child"}).
	InitExe  string
	InitArgs []string

	// Sandboxed selects namespaces+chroot. When false the builder runs
	// directly on the host (only possible when logical and physical store
	// coincide); it is still put in its own process group.
	Sandboxed bool

	// ChrootDir is where the private root is assembled on the host. It must
	// be on the same file system as the physical store so outputs can be
	// renamed into place, and must not exist yet. Run does not remove it;
	// call Cleanup.
	ChrootDir string
	// StoreDir is the logical store directory ("/nix/store").
	StoreDir string
	// BuildDir is the host build directory, visible as SandboxBuildDir.
	BuildDir string
	// SandboxBuildDir is where BuildDir appears inside ("/build").
	SandboxBuildDir string
	// Inputs is the input closure.
	Inputs []Input
	// ExtraPaths are additional host paths bound at the same location
	// (sandbox-paths); missing ones are skipped.
	ExtraPaths map[string]string

	// Builder, Args (without argv[0]) and Env (complete) for the builder.
	Builder string
	Args    []string
	Env     map[string]string

	// Linux32 runs the builder with the 32-bit personality, as Nix does
	// for i686-linux builds on x86_64 and for armv6l/armv7l builds.
	Linux32 bool

	// Network shares the host network namespace and gives the builder the
	// host's resolv.conf, services and hosts (fixed-output derivations).
	Network bool

	// HostUID/HostGID are the host ids the sandbox user maps to. Negative
	// means the calling user's ids.
	HostUID, HostGID int

	// Log receives the builder's stdout and stderr.
	Log io.Writer
	// NoPTY gives the builder a pipe instead of a pseudo-terminal.
	NoPTY bool
	// Seccomp installs Nix's syscall filter (no setuid/setgid bits, no
	// extended attributes). On by default in the build package.
	Seccomp bool

	// Pool, if set, is the build session's pool: Run then uses the init it
	// started ahead for Slot and the slot's root skeleton, and Cleanup hands
	// the root back to the pool instead of removing it. A slot must run
	// one build at a time.
	Pool *Pool
	Slot int
	// NoPrestart: no build follows on this slot (as far as the caller
	// knows), so the pool does not start an init ahead for it.
	NoPrestart bool

	// skel is the pool skeleton Run assembled the root from.
	skel *skeleton
}

// BuildFailure is returned when the builder itself ran and failed.
type BuildFailure struct {
	ExitCode int // -1 when killed by a signal
	Signal   string
}

func (e *BuildFailure) Error() string {
	if e.ExitCode >= 0 {
		return fmt.Sprintf("failed with exit code %d", e.ExitCode)
	}
	return fmt.Sprintf("failed due to signal %s", e.Signal)
}

// OutputPath returns the host path at which a builder running under cfg
// creates the logical store path p.
func (cfg *Config) OutputPath(p string) string {
	if !cfg.Sandboxed {
		return p
	}
	return filepath.Join(cfg.ChrootDir, p)
}

// Cleanup removes the chroot directory, or, for a root from cfg.Pool,
// gives it back to the pool, which empties and checks it in the background
// for the slot's next build (and removes it if it cannot be reused). Mounts
// live only in the (now dead) sandbox mount namespace, so this is plain
// file work. Call it once the outputs have been moved out of the root.
func (cfg *Config) Cleanup() error {
	if !cfg.Sandboxed || cfg.ChrootDir == "" {
		return nil
	}
	if cfg.skel != nil {
		skel := cfg.skel
		cfg.skel = nil
		cfg.Pool.release(cfg.Slot, skel)
		return nil
	}
	return removeAll(cfg.ChrootDir)
}

// removeAll is os.RemoveAll that first makes directories writable (build
// outputs may have been made read-only).
func removeAll(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// Run runs the builder and waits for it. Cancelling ctx kills the whole
// sandbox (its pid namespace, or process group when unsandboxed).
func Run(ctx context.Context, cfg *Config) error {
	if cfg.Builder == "" {
		return errors.New("sandbox: no builder")
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.SandboxBuildDir == "" {
		cfg.SandboxBuildDir = "/build"
	}
	if cfg.StoreDir == "" {
		cfg.StoreDir = "/nix/store"
	}
	return run(ctx, cfg)
}

// envList renders env sorted, as KEY=VALUE.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// baseName is Nix's baseNameOf (used for the builder's argv[0]).
func baseName(p string) string {
	p = strings.TrimRight(p, "/")
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}
