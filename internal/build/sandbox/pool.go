package sandbox

import (
	"errors"
	"fmt"
	"sync"
)

// Pool holds what the sandboxed builds of one build session share. Per
// build slot (a slot runs one build at a time) it keeps a sandbox init
// started ahead for the slot's next build, so that starting the init (a
// re-execution of the binary in fresh namespaces) is off the build's
// critical path, and the slot's last private root, which is emptied and
// checked in the background and then reused as the skeleton of the next
// root. It also removes directories in the background (RemoveLater).
//
// Every init still serves exactly one build: each build gets fresh
// namespaces, and the builder is still pid 1.
//
// Close must be called when the session ends: it stops the spare inits,
// removes the skeletons, waits for all background work and reports what
// failed. A nil *Pool is valid: it starts inits on demand and removes
// synchronously.
type Pool struct {
	mu     sync.Mutex
	slots  map[int]*slot
	closed bool
	bg     sync.WaitGroup // background removals and resets
	errs   []error
	seq    int // numbers idle roots (see release)

	spMu  sync.Mutex
	sp    *spawner // started by the first init started ahead (linux)
	spErr error
}

// NewPool returns an empty pool.
func NewPool() *Pool {
	return &Pool{slots: map[int]*slot{}}
}

// RemoveLater removes dir (a build or sandbox directory) in the background;
// a failure is reported by Close. On a nil or closed pool it removes dir
// before returning and returns the error.
func (p *Pool) RemoveLater(dir string) error {
	if p == nil {
		return removeAll(dir)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return removeAll(dir)
	}
	p.bg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.bg.Done()
		if err := removeAll(dir); err != nil {
			p.report(fmt.Errorf("removing '%s': %w", dir, err))
		}
	}()
	return nil
}

func (p *Pool) report(err error) {
	p.mu.Lock()
	p.errs = append(p.errs, err)
	p.mu.Unlock()
}

// Close stops the spare inits, removes the idle skeletons and waits for
// every background removal. It returns the background failures (joined).
// Closing twice is harmless.
func (p *Pool) Close() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	slots := p.slots
	p.slots = nil
	p.mu.Unlock()
	// The spare inits die with the spawner.
	p.closeSpawner()
	for _, s := range slots {
		p.closeSlot(s)
	}
	p.bg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	err := errors.Join(p.errs...)
	p.errs = nil
	return err
}
