package build

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/onix-dev/onix/internal/nixcompat/derivation"
)

// fakeTerm interprets the little of VT100 the ui uses (\r, \n, ESC[K,
// ESC[1A) and keeps the resulting screen lines.
type fakeTerm struct {
	lines []string
	row   int
	col   int
	raw   bytes.Buffer
}

func (f *fakeTerm) Write(p []byte) (int, error) {
	f.raw.Write(p)
	if f.lines == nil {
		f.lines = []string{""}
	}
	s := string(p)
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "\033[K"):
			f.lines[f.row] = f.lines[f.row][:min(f.col, len(f.lines[f.row]))]
			i += 2
		case strings.HasPrefix(s[i:], "\033[1A"):
			if f.row > 0 {
				f.row--
			}
			i += 3
		case s[i] == '\r':
			f.col = 0
		case s[i] == '\n':
			f.row++
			f.col = 0
			if f.row == len(f.lines) {
				f.lines = append(f.lines, "")
			}
		default:
			l := f.lines[f.row]
			for len(l) < f.col {
				l += " "
			}
			f.lines[f.row] = l[:f.col] + string(s[i]) + l[min(f.col+1, len(l)):]
			f.col++
		}
	}
	return len(p), nil
}

func (f *fakeTerm) screen() string {
	return strings.TrimRight(strings.Join(f.lines, "\n"), "\n ")
}

func testNode(name string, subst bool) *node {
	n := &node{drvPath: "/nix/store/aaaa-" + name + ".drv", drv: &derivation.Derivation{Name: name}, subst: subst}
	if subst {
		n.fetch = []string{"/nix/store/bbbb-" + name}
	}
	return n
}

func TestUITerminalStatusArea(t *testing.T) {
	term := &fakeTerm{}
	u := newUI(term, true)
	t0 := time.Unix(1000, 0)
	u.now = func() time.Time { return t0 }
	a, b, c := testNode("alpha", false), testNode("beta", false), testNode("gamma", true)
	u.announce([]*node{a, b, c})
	u.started(a)
	u.started(c)
	want := "these 2 derivations will be built:\n  /nix/store/aaaa-alpha.drv\n  /nix/store/aaaa-beta.drv\n" +
		"this path will be fetched (0.00 MiB download, 0.00 MiB unpacked):\n  /nix/store/bbbb-gamma\n" +
		"[0/2 built, 0/1 fetched]\n  building alpha (0s)\n  fetching gamma (0s)"
	if got := term.screen(); got != want {
		t.Fatalf("screen:\n%s\nwant:\n%s", got, want)
	}
	// Log output goes above the status area, which is redrawn below it.
	fmt.Fprint(u.logWriter(a), "hello\nworld\n")
	u.finished(c, nil)
	u.finished(a, errors.New("boom"))
	u.started(b)
	want = strings.Join([]string{
		"these 2 derivations will be built:", "  /nix/store/aaaa-alpha.drv", "  /nix/store/aaaa-beta.drv",
		"this path will be fetched (0.00 MiB download, 0.00 MiB unpacked):", "  /nix/store/bbbb-gamma",
		"hello", "world", "[0/2 built, 1/1 fetched, 1 failed]", "  building beta (0s)"}, "\n")
	if got := term.screen(); got != want {
		t.Fatalf("screen:\n%s\nwant:\n%s", got, want)
	}
	u.finish()
	if got := term.screen(); strings.Contains(got, "[0/2") {
		t.Fatalf("status area not erased at the end:\n%s", got)
	}
}

func TestUIStatusAreaBounded(t *testing.T) {
	term := &fakeTerm{}
	u := newUI(term, true)
	var ns []*node
	for i := 0; i < maxStatusLines+3; i++ {
		ns = append(ns, testNode(fmt.Sprintf("n%02d", i), false))
	}
	u.announce(ns)
	for _, n := range ns {
		u.started(n)
	}
	lines := strings.Split(term.screen(), "\n")
	tail := lines[len(lines)-maxStatusLines-2:]
	if !strings.HasPrefix(tail[0], "[0/11 built]") || tail[len(tail)-1] != "  ... and 3 more" {
		t.Fatalf("status area:\n%s", strings.Join(tail, "\n"))
	}
}

func TestUIPlainOutput(t *testing.T) {
	var buf bytes.Buffer
	u := newUI(&buf, false)
	a, c := testNode("alpha", false), testNode("gamma", true)
	u.announce([]*node{a, c})
	u.started(c)
	u.finished(c, nil)
	u.started(a)
	fmt.Fprint(u.logWriter(a), "out\n")
	u.finished(a, nil)
	u.finish()
	want := "this derivation will be built:\n  /nix/store/aaaa-alpha.drv\n" +
		"this path will be fetched (0.00 MiB download, 0.00 MiB unpacked):\n  /nix/store/bbbb-gamma\n" +
		"copying path '/nix/store/bbbb-gamma' from substituter...\n" +
		"building '/nix/store/aaaa-alpha.drv'...\nout\n"
	if buf.String() != want {
		t.Fatalf("plain output:\n%q\nwant:\n%q", buf.String(), want)
	}
}

// TestTerminalFailureShowsLogTail: on a terminal the error of a failed
// build carries its last 10 log lines.
func TestTerminalFailureShowsLogTail(t *testing.T) {
	e := newEnv(t)
	d, _ := e.add(drvSpec{name: "noisy", script: `for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo line$i; done; exit 3`})
	o := e.opts()
	term := &fakeTerm{}
	o.Status, o.Terminal = term, true
	_, err := e.realise(o, d)
	if err == nil {
		t.Fatal("build succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, "last 10 log lines:") || !strings.Contains(msg, "> line12") || strings.Contains(msg, "> line2\n") {
		t.Fatalf("error lacks the log tail:\n%s", msg)
	}
	if strings.Contains(term.screen(), "built]") {
		t.Fatalf("status area left on screen:\n%s", term.screen())
	}
}
