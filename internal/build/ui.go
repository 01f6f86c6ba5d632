package build

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// ui prints progress: plain lines like nix-build when not on a terminal,
// a single live status line on one.
type ui struct {
	mu        sync.Mutex
	w         io.Writer
	term      bool
	total     int
	done      int
	failed    int
	running   map[*node]time.Time
	prefix    bool // prefix log lines with the derivation name (-j > 1)
	quiet     bool
	drawn     bool
	keepGoing bool
}

func newUI(w io.Writer, term bool, total int) *ui {
	return &ui{w: w, term: term, total: total, running: map[*node]time.Time{}}
}

func (u *ui) configure(prefix, quiet, keepGoing bool) {
	u.prefix, u.quiet, u.keepGoing = prefix, quiet, keepGoing
}

// clear removes the status line; caller holds mu.
func (u *ui) clear() {
	if u.term && u.drawn {
		fmt.Fprint(u.w, "\r\033[K")
		u.drawn = false
	}
}

// draw redraws the status line; caller holds mu.
func (u *ui) draw() {
	if !u.term {
		return
	}
	names := make([]string, 0, len(u.running))
	for n := range u.running {
		names = append(names, n.drv.Name)
	}
	sort.Strings(names)
	line := fmt.Sprintf("[%d/%d built", u.done, u.total)
	if u.failed > 0 {
		line += fmt.Sprintf(", %d failed", u.failed)
	}
	if len(names) > 0 {
		line += fmt.Sprintf(", %d running] building %s", len(names), strings.Join(names, ", "))
	} else {
		line += "]"
	}
	if len(line) > 120 {
		line = line[:117] + "..."
	}
	fmt.Fprint(u.w, "\r\033[K"+line)
	u.drawn = true
}

func (u *ui) println(s string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clear()
	fmt.Fprintln(u.w, s)
	u.draw()
}

func (u *ui) announce(todo []*node) {
	var b strings.Builder
	if len(todo) == 1 {
		b.WriteString("this derivation will be built:")
	} else {
		fmt.Fprintf(&b, "these %d derivations will be built:", len(todo))
	}
	for _, n := range todo {
		b.WriteString("\n  " + n.drvPath)
	}
	u.println(b.String())
}

func (u *ui) started(n *node) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.running[n] = time.Now()
	u.clear()
	if !u.term {
		fmt.Fprintf(u.w, "building '%s'...\n", n.drvPath)
	}
	u.draw()
}

func (u *ui) finished(n *node, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.running, n)
	u.clear()
	if err != nil {
		u.failed++
		if u.keepGoing {
			fmt.Fprintf(u.w, "error: %v\n", err)
		}
	} else {
		u.done++
	}
	u.draw()
}

func (u *ui) depFailed(*node) {}

func (u *ui) note(s string) { u.println(s) }

func (u *ui) finish() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clear()
}

// logWriter returns the live sink for n's builder output.
func (u *ui) logWriter(n *node) io.Writer {
	if u.quiet {
		return io.Discard
	}
	p := ""
	if u.prefix {
		p = n.drv.Name + "> "
	}
	return &lineWriter{u: u, prefix: p}
}

// lineWriter forwards complete lines to the ui.
type lineWriter struct {
	u      *ui
	prefix string
	part   []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	data := append(l.part, p...)
	var lines []string
	for {
		i := strings.IndexByte(string(data), '\n')
		if i < 0 {
			break
		}
		lines = append(lines, string(data[:i]))
		data = data[i+1:]
	}
	if len(data) > 64<<10 { // flush absurdly long partial lines
		lines = append(lines, string(data))
		data = nil
	}
	l.part = append(l.part[:0], data...)
	if len(lines) > 0 {
		l.u.mu.Lock()
		l.u.clear()
		for _, s := range lines {
			fmt.Fprintln(l.u.w, l.prefix+strings.TrimSuffix(s, "\r"))
		}
		l.u.draw()
		l.u.mu.Unlock()
	}
	return len(p), nil
}
