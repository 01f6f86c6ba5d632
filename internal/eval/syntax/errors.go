package syntax

import (
	"strconv"
	"strings"
)

// Error is a parse error: a message and the position it refers to.
type Error struct {
	Pos Pos
	Msg string
}

// Error returns the same text as Format without its leading "error: ", so
// that callers that print "error: " + err.Error() print what Nix prints.
func (e *Error) Error() string {
	return strings.TrimPrefix(e.Format(), "error: ")
}

// Format renders the error as Nix 2.8 does: the message, then the position
// and the source lines around it with a caret.
func (e *Error) Format() string { return FormatError(e.Msg, e.Pos) }

// FormatError renders "error: MSG" followed by FormatPosLines(p), indented
// the way Nix indents everything under the "error: " prefix.
func FormatError(msg string, p Pos) string {
	var b strings.Builder
	b.WriteString(msg)
	b.WriteString("\n")
	if p.IsValid() {
		b.WriteString("\n")
		b.WriteString(FormatPosLines(p))
	}
	return Indent("error: ", strings.TrimRight(b.String(), " \t\r\n"))
}

// Indent prefixes the first line of s with first and every other non-empty
// line with as many spaces, as Nix's indent() does for error messages.
func Indent(first, s string) string {
	pad := strings.Repeat(" ", len(first))
	var b strings.Builder
	for i, line := range strings.Split(s, "\n") {
		if i == 0 {
			b.WriteString(first)
		} else {
			b.WriteString("\n")
			if line != "" {
				b.WriteString(pad)
			}
		}
		b.WriteString(line)
	}
	return b.String()
}

// ShowPos renders a position as Nix does in messages: FILE:LINE:COL.
func ShowPos(p Pos) string {
	if !p.IsValid() {
		return "«none»"
	}
	s := p.File.Name + ":" + strconv.Itoa(int(p.Line))
	if p.Col > 0 {
		s += ":" + strconv.Itoa(int(p.Col))
	}
	return s
}

// FormatPosLines renders "at FILE:LINE:COL:" followed by a blank line and
// the source lines around p (the previous line, the line with a caret under
// column Col, the next line), in Nix 2.8's layout and without the outer
// indentation (see Indent). It returns "" for an invalid position.
func FormatPosLines(p Pos) string {
	if !p.IsValid() {
		return ""
	}
	var b strings.Builder
	b.WriteString("at ")
	b.WriteString(ShowPos(p))
	b.WriteString(":\n")
	lines := sourceLines(p.File)
	l := int(p.Line)
	if l > len(lines) {
		return b.String()
	}
	b.WriteString("\n")
	codeLine := func(n int) {
		num := strconv.Itoa(n)
		if len(num) < 5 {
			num = strings.Repeat(" ", 5-len(num)) + num
		}
		b.WriteString(" " + num + "| " + lines[n-1] + "\n")
	}
	if l > 1 {
		codeLine(l - 1)
	}
	codeLine(l)
	if p.Col > 0 {
		b.WriteString("      |" + strings.Repeat(" ", int(p.Col)) + "^\n")
	}
	if l < len(lines) {
		codeLine(l + 1)
	}
	return b.String()
}

// sourceLines splits a file's text into lines as Nix 2.8 reads them for
// error messages: on '\n' only; a file's final newline does not start
// another line, but that of a -E string does (std::getline semantics).
func sourceLines(f *File) []string {
	if f == nil {
		return nil
	}
	s := string(f.Src)
	lines := strings.Split(s, "\n")
	isString := f.Name == "«string»" || f.Name == "«stdin»"
	if !isString && strings.HasSuffix(s, "\n") {
		lines = lines[:len(lines)-1]
	}
	return lines
}
