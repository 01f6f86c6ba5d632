package cli

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progressLine keeps one status line ("copied 57 paths, 143.2 MiB") up to
// date on a terminal, redrawing it at most every interval; off a terminal
// it writes nothing, so logs get only the final summary.
type progressLine struct {
	w        io.Writer
	live     bool
	interval time.Duration
	verb     string

	mu    sync.Mutex
	last  time.Time
	paths int
	bytes uint64
	drawn bool
}

func newProgressLine(w io.Writer, verb string) *progressLine {
	return &progressLine{w: w, live: isTerminal(w), interval: 100 * time.Millisecond, verb: verb}
}

// add counts one path of size bytes.
func (p *progressLine) add(size uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paths++
	p.bytes += size
	if !p.live || time.Since(p.last) < p.interval {
		return
	}
	p.last = time.Now()
	s := "s"
	if p.paths == 1 {
		s = ""
	}
	fmt.Fprintf(p.w, "\r\033[K%s %d path%s, %.1f MiB", p.verb, p.paths, s, float64(p.bytes)/(1<<20))
	p.drawn = true
}

// done clears the line.
func (p *progressLine) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}
