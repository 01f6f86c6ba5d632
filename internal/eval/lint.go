package eval

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

// Lint levels for Options.Lint* (Nix's lint-absolute-path-literals,
// lint-short-path-literals and lint-url-literals settings).
const (
	LintIgnore = ""
	LintWarn   = "warn"
	LintFatal  = "fatal"
)

var urlLiteralRe = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+\-.]*:[a-zA-Z0-9%/?:@&=+$,\-_.!~*']+`)

// sourceAt returns the source text from p on (nil if unknown).
func sourceAt(p syntax.Pos) []byte {
	if !p.IsValid() || p.File == nil {
		return nil
	}
	src := p.File.Src
	line := int32(1)
	i := 0
	for i < len(src) && line < p.Line {
		if src[i] == '\n' {
			line++
		}
		i++
	}
	i += int(p.Col) - 1
	if i < 0 || i > len(src) {
		return nil
	}
	return src[i:]
}

// lint reports a lint finding at level (warning on stderr or fatal error).
func (ev *Evaluator) lint(level string, pos syntax.Pos, msg string) {
	switch level {
	case LintWarn:
		s := msg + "\n"
		if pos.IsValid() {
			s += syntax.FormatPosLines(pos)
		}
		fmt.Fprintln(ev.opts.Stderr, syntax.Indent("warning: ", strings.TrimRight(s, "\n")))
	case LintFatal:
		ev.errorAt(pos, "%s", msg)
	}
}

// lintPath checks a path literal as Nix's lexer does.
func (c *compiler) lintPath(e *syntax.Path) {
	o := &c.ev.opts
	if o.LintAbsolutePath == LintIgnore && o.LintShortPath == LintIgnore {
		return
	}
	src := sourceAt(e.P)
	if len(src) == 0 {
		return
	}
	end := 0
	for end < len(src) && !strings.ContainsRune(" \t\r\n;,)]}", rune(src[end])) {
		end++
	}
	lit := string(src[:end])
	switch {
	case src[0] == '/':
		c.ev.lint(o.LintAbsolutePath, e.P, "absolute path literals are not portable. Consider replacing path literal '"+lit+"' by a string, relative path, or parameter (lint-absolute-path-literals)")
	case src[0] == '~':
		c.ev.lint(o.LintAbsolutePath, e.P, "home path literals are not portable. Consider replacing path literal '"+lit+"' by a string, relative path, or parameter (lint-absolute-path-literals)")
	case src[0] == '.' || src[0] == '<':
	default:
		c.ev.lint(o.LintShortPath, e.P, "relative path literal '"+lit+"' should be prefixed with '.' for clarity: './"+lit+"' (lint-short-path-literals)")
	}
}

// lintString checks whether a string constant was written as a URL literal.
func (c *compiler) lintString(e *syntax.String) {
	level := c.ev.opts.LintURL
	if level == LintIgnore {
		return
	}
	src := sourceAt(e.P)
	if len(src) == 0 || src[0] == '"' || src[0] == '\'' {
		return
	}
	if m := urlLiteralRe.Find(src); m != nil && string(m) == e.Val {
		msg := "URL literals are discouraged. Consider using a string literal \"" + e.Val + "\" instead (lint-url-literals)"
		if level == LintFatal {
			msg = "URL literals are disallowed. Consider using a string literal \"" + e.Val + "\" instead (lint-url-literals)"
		}
		c.ev.lint(level, e.P, msg)
	}
}
