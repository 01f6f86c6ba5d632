package eval

import (
	"fmt"
	"sort"
	"strings"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

// ErrorKind classifies evaluation errors (tryEval catches only some).
type ErrorKind uint8

// Error kinds.
const (
	ErrEval      ErrorKind = iota // type errors, missing attributes, ...
	ErrThrown                     // builtins.throw
	ErrAssertion                  // failed assert
	ErrAbort                      // builtins.abort
	ErrInfiniteRecursion
	ErrStackOverflow
	ErrCanceled
)

// Frame is one --show-trace entry.
type Frame struct {
	Pos syntax.Pos
	Msg string
}

// Error is an evaluation error.
type Error struct {
	Kind  ErrorKind
	Msg   string
	Pos   syntax.Pos
	Hint  string  // printed after the source excerpt ("Did you mean a?")
	Trace []Frame // innermost first
	// Parse is set for syntax errors, which print themselves.
	Parse error
}

func (e *Error) Error() string { return e.Msg }

// Format renders the error the way nix-instantiate prints it to stderr
// (without trailing newline), with trace frames if showTrace.
func (e *Error) Format(showTrace bool) string {
	if e.Parse != nil {
		if f, ok := e.Parse.(interface{ Format() string }); ok {
			return f.Format()
		}
		return "error: " + e.Parse.Error()
	}
	var b strings.Builder
	b.WriteString(e.Msg)
	b.WriteString("\n")
	if e.Pos.IsValid() {
		b.WriteString("\n")
		b.WriteString(syntax.FormatPosLines(e.Pos))
	}
	if e.Hint != "" {
		b.WriteString(e.Hint)
		b.WriteString("\n")
	}
	if showTrace {
		for _, f := range e.Trace {
			b.WriteString("\n… ")
			b.WriteString(f.Msg)
			b.WriteString("\n")
			if f.Pos.IsValid() {
				b.WriteString("\n")
				b.WriteString(syntax.FormatPosLines(f.Pos))
			}
		}
	}
	out := syntax.Indent("error: ", strings.TrimRight(b.String(), " \t\r\n"))
	if !showTrace && len(e.Trace) > 0 {
		out += "\n(use '--show-trace' to show detailed location information)"
	}
	return out
}

// posString prints a position as Nix 2.8 does inside messages
// ("(string):1:9", "/path/file.nix:3:5").
func posString(p syntax.Pos) string {
	if !p.IsValid() {
		return "undefined position"
	}
	name := p.File.Name
	if strings.HasPrefix(name, "«") {
		name = "(" + strings.TrimSuffix(strings.TrimPrefix(name, "«"), "»") + ")"
	}
	return fmt.Sprintf("%s:%d:%d", name, p.Line, p.Col)
}

// throwErr raises e.
func throwErr(e *Error) { panic(e) }

// errorAt raises an ErrEval at pos.
func (ev *Evaluator) errorAt(pos syntax.Pos, format string, args ...any) {
	panic(&Error{Msg: fmt.Sprintf(format, args...), Pos: pos})
}

// ErrorAt raises an evaluation error at pos; for builtins.
func (ev *Evaluator) ErrorAt(pos syntax.Pos, format string, args ...any) {
	ev.errorAt(pos, format, args...)
}

// addTrace appends a frame to a panicking *Error; other panics pass through.
func addTrace(r any, pos syntax.Pos, msg string) {
	if e, ok := r.(*Error); ok {
		e.Trace = append(e.Trace, Frame{Pos: pos, Msg: msg})
	}
	panic(r)
}

// EditDistance is the Levenshtein distance between a and b (in bytes), for
// "did you mean" hints here and in the CLI.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			c = min(c, prev[j]+1, cur[j-1]+1)
			cur[j] = c
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// suggest returns Nix's "Did you mean ...?" hint for name among candidates:
// those within edit distance 2 (Nix's Suggestions::bestMatches), sorted by
// distance then name, at most 3 listed.
func suggest(name string, candidates []string) string {
	type sc struct {
		d int
		s string
	}
	var l []sc
	for _, c := range candidates {
		d := EditDistance(name, c)
		if d <= 2 {
			l = append(l, sc{d, c})
		}
	}
	if len(l) == 0 {
		return ""
	}
	sort.Slice(l, func(i, j int) bool {
		if l[i].d != l[j].d {
			return l[i].d < l[j].d
		}
		return l[i].s < l[j].s
	})
	if len(l) > 3 {
		l = l[:3]
	}
	if len(l) == 1 {
		return "Did you mean " + l[0].s + "?"
	}
	var parts []string
	for _, x := range l[:len(l)-1] {
		parts = append(parts, x.s)
	}
	return "Did you mean one of " + strings.Join(parts, ", ") + " or " + l[len(l)-1].s + "?"
}
