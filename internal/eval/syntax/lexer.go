package syntax

import (
	"bytes"
	"math"
	"strconv"
	"strings"
)

// The lexer is a hand-written copy of Nix's flex scanner (lexer.l). Flex
// picks the longest match among all rules, and the first rule on a tie;
// several surprising facts follow from that and are kept here on purpose:
// `a/b` and `2/3` are paths, `x:x` is a URI, `a->b` is the identifier `a-`
// followed by `>`, `1e3` is the integer 1 followed by the identifier `e3`.
//
// Like flex, the lexer keeps a stack of start conditions: inside "..."
// strings, ''...'' strings and interpolated paths different rules apply,
// and `${` pushes the normal condition until the matching `}`.

type lexState uint8

const (
	stInitial lexState = iota // bottom of the stack; `}` does not pop it
	stDefault
	stString
	stIndString
	stInPath      // inside a path, after a piece that does not end in '/'
	stInPathSlash // inside a path, after a piece that ends in '/'
)

type lexer struct {
	src   []byte
	pos   int
	stack []lexState
	// lastOff/lastEnd are the location of the previous token: flex's
	// yyless(0)+unstash gives PATH_END that location.
	lastOff, lastEnd int
}

func (lx *lexer) state() lexState { return lx.stack[len(lx.stack)-1] }
func (lx *lexer) push(s lexState) { lx.stack = append(lx.stack, s) }
func (lx *lexer) pop() {
	if len(lx.stack) > 1 {
		lx.stack = lx.stack[:len(lx.stack)-1]
	}
}

// Character classes of lexer.l.
func isIDStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}
func isIDChar(c byte) bool {
	return isIDStart(c) || c >= '0' && c <= '9' || c == '\'' || c == '-'
}
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isPathChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == '+'
}
func isURIChar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	switch c {
	case '%', '/', '?', ':', '@', '&', '=', '+', '$', ',', '-', '_', '.', '!', '~', '*', '\'':
		return true
	}
	return false
}

func (lx *lexer) at(i int) byte {
	if i < len(lx.src) {
		return lx.src[i]
	}
	return 0
}

// Matchers: each returns the length of the longest match of one flex rule
// at offset i, or 0.

func (lx *lexer) matchID(i int) int {
	if !isIDStart(lx.at(i)) || i >= len(lx.src) {
		return 0
	}
	j := i + 1
	for j < len(lx.src) && isIDChar(lx.src[j]) {
		j++
	}
	return j - i
}

func (lx *lexer) matchInt(i int) int {
	j := i
	for j < len(lx.src) && isDigit(lx.src[j]) {
		j++
	}
	return j - i
}

// matchFloat: (([1-9][0-9]*\.[0-9]*)|(0?\.[0-9]+))([Ee][+-]?[0-9]+)?
func (lx *lexer) matchFloat(i int) int {
	j := i
	n := len(lx.src)
	switch c := lx.at(j); {
	case c >= '1' && c <= '9':
		for j < n && isDigit(lx.src[j]) {
			j++
		}
		if lx.at(j) != '.' || j >= n {
			return 0
		}
		j++
		for j < n && isDigit(lx.src[j]) {
			j++
		}
	case c == '0' || c == '.':
		if c == '0' {
			j++
		}
		if lx.at(j) != '.' || j >= n || !isDigit(lx.at(j+1)) || j+1 >= n {
			return 0
		}
		j++
		for j < n && isDigit(lx.src[j]) {
			j++
		}
	default:
		return 0
	}
	if c := lx.at(j); (c == 'e' || c == 'E') && j < n {
		k := j + 1
		if c := lx.at(k); (c == '+' || c == '-') && k < n {
			k++
		}
		if k < n && isDigit(lx.src[k]) {
			for k < n && isDigit(lx.src[k]) {
				k++
			}
			j = k
		}
	}
	return j - i
}

// matchPath: {PATH_CHAR}*(\/{PATH_CHAR}+)+\/?
func (lx *lexer) matchPath(i int) int {
	n := len(lx.src)
	j := i
	for j < n && isPathChar(lx.src[j]) {
		j++
	}
	m := lx.matchSegments(j)
	if m == 0 {
		return 0
	}
	return j + m - i
}

// matchSegments: (\/{PATH_CHAR}+)+\/? , the tail of PATH and HPATH.
func (lx *lexer) matchSegments(i int) int {
	n := len(lx.src)
	j := i
	for j+1 < n && lx.src[j] == '/' && isPathChar(lx.src[j+1]) {
		j += 2
		for j < n && isPathChar(lx.src[j]) {
			j++
		}
	}
	if j == i {
		return 0
	}
	if j < n && lx.src[j] == '/' {
		j++
	}
	return j - i
}

// matchPathSegDollar: {PATH_SEG}\$\{ where PATH_SEG is {PATH_CHAR}*\/ .
// It returns the length of the PATH_SEG part (the whole match is 2 longer).
func (lx *lexer) matchPathSegDollar(i int) int {
	n := len(lx.src)
	j := i
	for j < n && isPathChar(lx.src[j]) {
		j++
	}
	if j+2 < n && lx.src[j] == '/' && lx.src[j+1] == '$' && lx.src[j+2] == '{' {
		return j + 1 - i
	}
	return 0
}

// matchHPath: \~(\/{PATH_CHAR}+)+\/?
func (lx *lexer) matchHPath(i int) int {
	if lx.at(i) != '~' || i >= len(lx.src) {
		return 0
	}
	m := lx.matchSegments(i + 1)
	if m == 0 {
		return 0
	}
	return 1 + m
}

// matchSPath: \<{PATH_CHAR}+(\/{PATH_CHAR}+)*\>
func (lx *lexer) matchSPath(i int) int {
	n := len(lx.src)
	j := i + 1
	for {
		k := j
		for k < n && isPathChar(lx.src[k]) {
			k++
		}
		if k == j {
			return 0
		}
		j = k
		if j < n && lx.src[j] == '>' {
			return j + 1 - i
		}
		if j < n && lx.src[j] == '/' {
			j++
			continue
		}
		return 0
	}
}

// matchURI: [a-zA-Z][a-zA-Z0-9\+\-\.]*\:[a-zA-Z0-9\%\/\?\:\@\&\=\+\$\,\-\_\.\!\~\*\']+
func (lx *lexer) matchURI(i int) int {
	n := len(lx.src)
	c := lx.at(i)
	if i >= n || !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		return 0
	}
	j := i + 1
	for j < n {
		c := lx.src[j]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.' {
			j++
			continue
		}
		break
	}
	if j >= n || lx.src[j] != ':' {
		return 0
	}
	j++
	k := j
	for k < n && isURIChar(lx.src[k]) {
		k++
	}
	if k == j {
		return 0
	}
	return k - i
}

// skipSpace skips whitespace and comments (in the default condition).
func (lx *lexer) skipSpace() {
	n := len(lx.src)
	for lx.pos < n {
		switch c := lx.src[lx.pos]; c {
		case ' ', '\t', '\r', '\n':
			lx.pos++
		case '#':
			for lx.pos < n && lx.src[lx.pos] != '\n' && lx.src[lx.pos] != '\r' {
				lx.pos++
			}
		case '/':
			if lx.at(lx.pos+1) != '*' || lx.pos+1 >= n {
				return
			}
			// A long comment only matches if it is terminated;
			// otherwise `/` is a token of its own.
			end := -1
			for j := lx.pos + 2; j+1 < n; j++ {
				if lx.src[j] == '*' && lx.src[j+1] == '/' {
					end = j + 2
					break
				}
			}
			if end < 0 {
				return
			}
			lx.pos = end
		default:
			return
		}
	}
}

// next returns the next token.
func (lx *lexer) next() token {
	t := lx.scan()
	lx.lastOff, lx.lastEnd = t.off, t.end
	return t
}

func (lx *lexer) scan() token {
	switch lx.state() {
	case stString:
		return lx.scanString()
	case stIndString:
		return lx.scanIndString()
	case stInPath, stInPathSlash:
		return lx.scanInPath()
	}
	lx.skipSpace()
	i := lx.pos
	n := len(lx.src)
	if i >= n {
		return token{kind: tEOF, off: n, end: n}
	}
	c := lx.src[i]
	tok := func(k tokKind, l int) token {
		lx.pos = i + l
		return token{kind: k, off: i, end: i + l}
	}

	// Fast path for the most common token: an identifier or keyword not
	// followed by '.', '+', '/' or ':'. Identifier characters are path
	// characters plus '\'', and a path needs '/' right after its run of
	// path characters, a URI ':' after its scheme; so when the run of
	// identifier characters ends in none of those, neither can match and
	// nor can anything longer.
	if isIDStart(c) {
		j := i + 1
		for j < n && isIDChar(lx.src[j]) {
			j++
		}
		if j >= n || (lx.src[j] != '.' && lx.src[j] != '+' && lx.src[j] != '/' && lx.src[j] != ':') {
			lx.pos = j
			t := token{kind: keyword(lx.src[i:j]), off: i, end: j}
			if t.kind == tID {
				t.text = string(lx.src[i:j])
			}
			return t
		}
	}

	// Candidates that may start with this character; the longest wins.
	best, bestKind := 0, tInvalid
	consider := func(l int, k tokKind) {
		if l > best {
			best, bestKind = l, k
		}
	}
	switch {
	case isIDStart(c):
		consider(lx.matchID(i), tID)
	case isDigit(c):
		consider(lx.matchInt(i), tInt)
		consider(lx.matchFloat(i), tFloat)
	case c == '.':
		if lx.at(i+1) == '.' && lx.at(i+2) == '.' && i+2 < n {
			consider(3, tEllipsis)
		}
		consider(lx.matchFloat(i), tFloat)
	}
	if isPathChar(c) || c == '/' {
		consider(lx.matchPath(i), tPath)
		if l := lx.matchPathSegDollar(i); l > 0 {
			consider(l+2, tPath) // the `${` is lexed again afterwards
		}
	}
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		consider(lx.matchURI(i), tURI)
	}
	switch c {
	case '~':
		consider(lx.matchHPath(i), tHPath)
		if lx.at(i+1) == '/' && lx.at(i+2) == '$' && lx.at(i+3) == '{' && i+3 < n {
			consider(4, tHPath)
		}
	case '<':
		consider(lx.matchSPath(i), tSPath)
	}
	if best == 0 {
		return lx.scanOperator(i)
	}
	// Two-character operators never tie with these (they cannot start
	// with the same characters at the same length), except `//`, `++`,
	// `->` whose competitors (paths) are longer when they match at all.
	if l, k := lx.operatorLen(i); l > best {
		return tok(k, l)
	}
	switch bestKind {
	case tID:
		t := tok(tID, best)
		t.kind = keyword(lx.src[i : i+best])
		if t.kind == tID {
			t.text = string(lx.src[i : i+best])
		}
		return t
	case tInt:
		t := tok(tInt, best)
		text := string(lx.src[i : i+best])
		v, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return lx.lexError(i, i+best, "invalid integer '"+text+"'")
		}
		t.ival = v
		return t
	case tFloat:
		t := tok(tFloat, best)
		text := string(lx.src[i : i+best])
		v, ok := parseFloatLikeStrtod(text)
		if !ok {
			return lx.lexError(i, i+best, "invalid float '"+text+"'")
		}
		t.fval = v
		return t
	case tPath, tHPath:
		text := lx.src[i : i+best]
		if text[len(text)-1] == '{' {
			// PATH_SEG${ or ~/${: only the part before `${` is
			// the path token; the lexer then is in INPATH_SLASH.
			t := tok(bestKind, best-2)
			t.text = string(text[:len(text)-2])
			lx.push(stInPathSlash)
			return t
		}
		t := tok(bestKind, best)
		t.text = string(text)
		if text[len(text)-1] == '/' {
			lx.push(stInPathSlash)
		} else {
			lx.push(stInPath)
		}
		return t
	case tSPath, tURI:
		t := tok(bestKind, best)
		t.text = string(lx.src[i : i+best])
		return t
	case tEllipsis:
		return tok(tEllipsis, 3)
	}
	return lx.scanOperator(i)
}

// operatorLen reports a multi-character operator at i.
func (lx *lexer) operatorLen(i int) (int, tokKind) {
	if i+1 >= len(lx.src) {
		return 0, tInvalid
	}
	switch string(lx.src[i : i+2]) {
	case "==":
		return 2, tEq
	case "!=":
		return 2, tNEq
	case "<=":
		return 2, tLeq
	case ">=":
		return 2, tGeq
	case "&&":
		return 2, tAnd
	case "||":
		return 2, tOr
	case "->":
		return 2, tImpl
	case "//":
		return 2, tUpdate
	case "++":
		return 2, tConcat
	case "${":
		return 2, tDollarCurly
	case "''":
		return 2, tIndOpen
	case "<|", "|>":
		return 2, tLexError
	}
	return 0, tInvalid
}

func (lx *lexer) scanOperator(i int) token {
	if l, k := lx.operatorLen(i); l > 0 {
		switch k {
		case tLexError:
			return lx.lexError(i, i+2, "experimental Nix feature 'pipe-operators' is disabled; add '--extra-experimental-features pipe-operators' to enable it")
		case tDollarCurly:
			lx.pos = i + 2
			lx.push(stDefault)
			return token{kind: tDollarCurly, off: i, end: i + 2}
		case tIndOpen:
			// ''(\ *\n)? : spaces and one newline right after the
			// opening quotes are part of the token.
			j := i + 2
			for j < len(lx.src) && lx.src[j] == ' ' {
				j++
			}
			if j < len(lx.src) && lx.src[j] == '\n' {
				lx.pos = j + 1
			} else {
				lx.pos = i + 2
			}
			lx.push(stIndString)
			return token{kind: tIndOpen, off: i, end: lx.pos}
		}
		lx.pos = i + l
		return token{kind: k, off: i, end: i + l}
	}
	c := lx.src[i]
	lx.pos = i + 1
	k := singleChar(c)
	switch k {
	case tLBrace:
		lx.push(stDefault)
	case tRBrace:
		if lx.state() != stInitial {
			lx.pop()
		}
	case tQuote:
		lx.push(stString)
	}
	return token{kind: k, off: i, end: i + 1}
}

func (lx *lexer) lexError(off, end int, msg string) token {
	lx.pos = len(lx.src) // nothing after a lexical error is read
	return token{kind: tLexError, off: off, end: end, text: msg}
}

// scanString lexes inside "...".
func (lx *lexer) scanString() token {
	i := lx.pos
	n := len(lx.src)
	if i >= n {
		return token{kind: tEOF, off: n, end: n}
	}
	switch c := lx.src[i]; {
	case c == '"':
		lx.pos = i + 1
		lx.pop()
		return token{kind: tQuote, off: i, end: i + 1}
	case c == '$' && lx.at(i+1) == '{' && i+1 < n:
		lx.pos = i + 2
		lx.push(stDefault)
		return token{kind: tDollarCurly, off: i, end: i + 2}
	}
	// ([^\$\"\\]|\$[^\{\"\\]|\\{ANY}|\$\\{ANY})+, or the same followed by
	// a `$` that is directly before the closing quote.
	j := i
	for j < n {
		c := lx.src[j]
		if c == '"' {
			break
		}
		if c == '\\' {
			if j+1 >= n {
				break
			}
			j += 2
			continue
		}
		if c == '$' {
			if j+1 >= n {
				break
			}
			d := lx.src[j+1]
			if d == '{' {
				break
			}
			if d == '"' {
				j++ // trailing-context rule: include the `$`
				break
			}
			if d == '\\' {
				if j+2 >= n {
					break
				}
				j += 3
				continue
			}
			j += 2
			continue
		}
		j++
	}
	if j == i {
		// `$`, `\` or `$\` at the end of the input.
		lx.pos = n
		return token{kind: tEOF, off: n, end: n}
	}
	lx.pos = j
	if bytes.IndexByte(lx.src[i:j], 0) >= 0 {
		return lx.nulError(i, j)
	}
	return token{kind: tStr, off: i, end: j, text: unescapeStr(lx.src[i:j])}
}

// nulError rejects a string piece holding a NUL byte, which a Nix string
// cannot represent (Nix's lexer refuses it the same way).
func (lx *lexer) nulError(off, end int) token {
	shown := strings.ReplaceAll(string(lx.src[off:end]), "\x00", "\u2400")
	return lx.lexError(off, end, "input string '"+shown+"' cannot be represented as Nix string because it contains null bytes")
}

// unescapeStr decodes the escapes of "..." strings (and of ”\x): \n, \r,
// \t, and \c for any other c meaning c itself. Unescaped CR and CR LF
// become LF, as in Nix.
func unescapeStr(s []byte) string {
	need := false
	for _, c := range s {
		if c == '\\' || c == '\r' {
			need = true
			break
		}
	}
	if !need {
		return string(s)
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			switch c = s[i]; c {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			}
			b = append(b, c)
		case c == '\r':
			b = append(b, '\n')
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// scanIndString lexes inside ”...”.
func (lx *lexer) scanIndString() token {
	i := lx.pos
	n := len(lx.src)
	if i >= n {
		return token{kind: tEOF, off: n, end: n}
	}
	c := lx.src[i]
	if c == '\'' && lx.at(i+1) == '\'' && i+1 < n {
		if i+2 < n {
			switch lx.src[i+2] {
			case '$':
				lx.pos = i + 3
				return token{kind: tIndStr, off: i, end: i + 3, text: "$"}
			case '\'':
				lx.pos = i + 3
				return token{kind: tIndStr, off: i, end: i + 3, text: "''"}
			case '\\':
				if i+3 < n {
					// ''\ANY; CR LF counts as one character here
					// only through unescapeStr's normalisation.
					lx.pos = i + 4
					return token{kind: tIndStr, off: i, end: i + 4, text: unescapeStr(lx.src[i+2 : i+4])}
				}
			}
		}
		lx.pos = i + 2
		lx.pop()
		return token{kind: tIndClose, off: i, end: i + 2}
	}
	if c == '$' {
		if lx.at(i+1) == '{' && i+1 < n {
			lx.pos = i + 2
			lx.push(stDefault)
			return token{kind: tDollarCurly, off: i, end: i + 2}
		}
	}
	// ([^\$\']|\$[^\{\']|\'[^\'\$])+
	j := i
	for j < n {
		c := lx.src[j]
		if c == '$' || c == '\'' {
			if j+1 >= n {
				break
			}
			d := lx.src[j+1]
			if c == '$' && (d == '{' || d == '\'') || c == '\'' && (d == '\'' || d == '$') {
				break
			}
			j += 2
			continue
		}
		j++
	}
	if j > i {
		lx.pos = j
		if bytes.IndexByte(lx.src[i:j], 0) >= 0 {
			return lx.nulError(i, j)
		}
		return token{kind: tIndStr, indent: true, off: i, end: j, text: string(lx.src[i:j])}
	}
	// A lone `$` or `'` (before `${`/`''`/`'$` or at the end).
	lx.pos = i + 1
	return token{kind: tIndStr, off: i, end: i + 1, text: string(c)}
}

// scanInPath lexes after a path piece, where the path may continue with
// `${`, more path characters, or end.
func (lx *lexer) scanInPath() token {
	i := lx.pos
	n := len(lx.src)
	if i+1 < n && lx.src[i] == '$' && lx.src[i+1] == '{' {
		lx.pop()
		lx.push(stInPath)
		lx.push(stDefault)
		lx.pos = i + 2
		return token{kind: tDollarCurly, off: i, end: i + 2}
	}
	// {PATH}|{PATH_SEG}|{PATH_CHAR}+
	l := lx.matchPath(i)
	j := i
	for j < n && isPathChar(lx.src[j]) {
		j++
	}
	if j < n && lx.src[j] == '/' {
		j++ // PATH_SEG
	}
	if j-i > l {
		l = j - i
	}
	if l > 0 {
		lx.pop()
		if lx.src[i+l-1] == '/' {
			lx.push(stInPathSlash)
		} else {
			lx.push(stInPath)
		}
		lx.pos = i + l
		return token{kind: tStr, off: i, end: i + l, text: string(lx.src[i : i+l])}
	}
	if lx.state() == stInPathSlash {
		return lx.lexError(i, i, "path has a trailing slash")
	}
	lx.pop()
	// PATH_END takes the location of the previous token (yyless(0) and
	// unstash in lexer.l).
	return token{kind: tPathEnd, off: lx.lastOff, end: lx.lastEnd}
}

// parseFloatLikeStrtod parses a float literal and reports false where C's
// strtod sets ERANGE: on overflow, and on underflow to zero or to a
// subnormal number.
func parseFloatLikeStrtod(s string) (float64, bool) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	if v != 0 && math.Abs(v) < 2.2250738585072014e-308 {
		return 0, false
	}
	if v == 0 {
		for i := 0; i < len(s) && s[i] != 'e' && s[i] != 'E'; i++ {
			if s[i] >= '1' && s[i] <= '9' {
				return 0, false
			}
		}
	}
	return v, true
}
