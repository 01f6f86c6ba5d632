package build

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// maxStatusLines bounds the activity lines of the live status area.
const maxStatusLines = 8

// ui prints progress: plain lines like nix-build when not on a terminal;
// on one, a live status area below the log (counts, then one line per
// running build or download) that is erased and redrawn around output.
type ui struct {
	mu         sync.Mutex
	w          io.Writer
	term       bool
	width      int
	totalBuild int
	totalFetch int
	built      int
	fetched    int
	failed     int
	running    map[*node]time.Time
	prefix     bool // prefix log lines with the derivation name (-j > 1)
	quiet      bool
	drawn      int // lines of the status area currently on screen
	keepGoing  bool
	now        func() time.Time
}

func newUI(w io.Writer, term bool) *ui {
	return &ui{w: w, term: term, width: 120, running: map[*node]time.Time{}, now: time.Now}
}

func (u *ui) configure(prefix, quiet, keepGoing bool) {
	u.prefix, u.quiet, u.keepGoing = prefix, quiet, keepGoing
}

// clear erases the status area; caller holds mu.
func (u *ui) clear() {
	if !u.term || u.drawn == 0 {
		return
	}
	var b strings.Builder
	b.WriteString("\r\033[K")
	for i := 1; i < u.drawn; i++ {
		b.WriteString("\033[1A\033[K")
	}
	fmt.Fprint(u.w, b.String())
	u.drawn = 0
}

// statusLines renders the status area; caller holds mu.
func (u *ui) statusLines() []string {
	head := fmt.Sprintf("[%d/%d built", u.built, u.totalBuild)
	if u.totalFetch > 0 {
		head += fmt.Sprintf(", %d/%d fetched", u.fetched, u.totalFetch)
	}
	if u.failed > 0 {
		head += fmt.Sprintf(", %d failed", u.failed)
	}
	head += "]"
	type act struct {
		line  string
		since time.Time
	}
	acts := make([]act, 0, len(u.running))
	for n, t := range u.running {
		verb := "building"
		if n.subst {
			verb = "fetching"
		}
		acts = append(acts, act{fmt.Sprintf("  %s %s", verb, n.drv.Name), t})
	}
	sort.Slice(acts, func(i, j int) bool {
		if !acts[i].since.Equal(acts[j].since) {
			return acts[i].since.Before(acts[j].since)
		}
		return acts[i].line < acts[j].line
	})
	lines := []string{head}
	for i, a := range acts {
		if i == maxStatusLines {
			lines = append(lines, fmt.Sprintf("  ... and %d more", len(acts)-maxStatusLines))
			break
		}
		lines = append(lines, fmt.Sprintf("%s (%ds)", a.line, int(u.now().Sub(a.since).Seconds())))
	}
	for i, l := range lines {
		if len(l) > u.width {
			lines[i] = l[:u.width-3] + "..."
		}
	}
	return lines
}

// draw writes the status area; caller holds mu.
func (u *ui) draw() {
	if !u.term {
		return
	}
	lines := u.statusLines()
	fmt.Fprint(u.w, strings.Join(lines, "\n"))
	u.drawn = len(lines)
}

func (u *ui) println(s string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clear()
	fmt.Fprintln(u.w, s)
	u.draw()
}

// announce lists what will be built and fetched, like nix-build.
func (u *ui) announce(todo []*node) {
	var builds, fetches []*node
	var dl, unpacked uint64
	for _, n := range todo {
		if n.subst {
			fetches = append(fetches, n)
			dl += n.fetchSize
			unpacked += n.narSize
		} else {
			builds = append(builds, n)
		}
	}
	u.mu.Lock()
	u.totalBuild, u.totalFetch = len(builds), len(fetches)
	u.mu.Unlock()
	var b strings.Builder
	switch {
	case len(builds) == 1:
		b.WriteString("this derivation will be built:")
	case len(builds) > 1:
		fmt.Fprintf(&b, "these %d derivations will be built:", len(builds))
	}
	for _, n := range builds {
		b.WriteString("\n  " + n.drvPath)
	}
	if len(fetches) > 0 {
		var paths []string
		for _, n := range fetches {
			paths = append(paths, n.fetch...)
		}
		sort.Strings(paths)
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		what := "this path"
		if len(paths) > 1 {
			what = fmt.Sprintf("these %d paths", len(paths))
		}
		fmt.Fprintf(&b, "%s will be fetched (%.2f MiB download, %.2f MiB unpacked):", what, float64(dl)/(1<<20), float64(unpacked)/(1<<20))
		for _, p := range paths {
			b.WriteString("\n  " + p)
		}
	}
	u.println(b.String())
}

// addTotal counts nodes added while running (after a failed substitution).
func (u *ui) addTotal(added []*node) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, n := range added {
		if n.subst {
			u.totalFetch++
		} else {
			u.totalBuild++
		}
	}
}

// fallback moves n from the fetch to the build count.
func (u *ui) fallback(*node) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.totalFetch--
	u.totalBuild++
}

func (u *ui) started(n *node) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.running[n] = u.now()
	u.clear()
	if !u.term {
		if n.subst {
			for _, p := range n.fetch {
				fmt.Fprintf(u.w, "copying path '%s' from substituter...\n", p)
			}
		} else {
			fmt.Fprintf(u.w, "building '%s'...\n", n.drvPath)
		}
	}
	u.draw()
}

func (u *ui) finished(n *node, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.running, n)
	u.clear()
	switch {
	case n.subst && err != nil:
		// reported by the scheduler, which builds it instead
	case err != nil:
		u.failed++
		if u.keepGoing {
			fmt.Fprintf(u.w, "error: %v\n", err)
		}
	case n.subst:
		u.fetched++
	default:
		u.built++
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
