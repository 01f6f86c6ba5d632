package cli

import (
	"bytes"
	"strings"
	"testing"
)

// On a terminal the line is redrawn in place and cleared at the end; off
// one nothing is written.
func TestProgressLine(t *testing.T) {
	var b bytes.Buffer
	p := &progressLine{w: &b, live: true, verb: "copied"}
	p.add(1 << 20)
	p.add(1 << 19)
	p.done()
	want := "\r\033[Kcopied 1 path, 1.0 MiB\r\033[Kcopied 2 paths, 1.5 MiB\r\033[K"
	if b.String() != want {
		t.Errorf("terminal output %q, want %q", b.String(), want)
	}
	b.Reset()
	p = &progressLine{w: &b, live: false, verb: "copied"}
	p.add(1)
	p.done()
	if b.Len() != 0 {
		t.Errorf("off a terminal: %q", b.String())
	}
	// Within the redraw interval after the first draw, updates are only
	// counted.
	b.Reset()
	p = &progressLine{w: &b, live: true, verb: "copied", interval: 1 << 62}
	p.add(1)
	p.add(1)
	p.add(1)
	if n := strings.Count(b.String(), "copied"); n != 1 || p.paths != 3 {
		t.Errorf("throttled: %d draws, %d paths; want 1 and 3", n, p.paths)
	}
}
