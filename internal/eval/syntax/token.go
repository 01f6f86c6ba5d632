package syntax

// tokKind is the kind of a lexical token. The set mirrors the terminals of
// Nix's bison grammar (src/libexpr/parser.y), because syntax errors name
// them ("unexpected 'then'", "expecting identifier or 'or'").
type tokKind uint8

const (
	tEOF tokKind = iota
	tInvalid
	tLexError // a fatal lexical error; text is the message

	tID
	tStr    // a literal piece of a "..." string or of an interpolated path
	tIndStr // a literal piece of an ''...'' string
	tInt
	tFloat
	tPath
	tHPath
	tSPath
	tPathEnd
	tURI

	tIf
	tThen
	tElse
	tAssert
	tWith
	tLet
	tIn
	tRec
	tInherit
	tOrKw
	tEllipsis

	tEq     // ==
	tNEq    // !=
	tLeq    // <=
	tGeq    // >=
	tAnd    // &&
	tOr     // ||
	tImpl   // ->
	tUpdate // //
	tConcat // ++

	tDollarCurly // ${
	tIndOpen     // ''
	tIndClose    // ''

	// Single-character tokens of the grammar.
	tLBrace    // {
	tRBrace    // }
	tLParen    // (
	tRParen    // )
	tLBrack    // [
	tRBrack    // ]
	tColon     // :
	tAt        // @
	tSemi      // ;
	tBang      // !
	tMinus     // -
	tLt        // <
	tGt        // >
	tPlus      // +
	tStar      // *
	tSlash     // /
	tQuestion  // ?
	tDot       // .
	tQuote     // "
	tAssign    // =
	tComma     // ,
	numTokKind // sentinel
)

// tokNames are the names bison gives the terminals in error messages
// (current Nix; Nix 2.8 printed the raw token names such as ID or THEN).
var tokNames = [numTokKind]string{
	tEOF:         "end of file",
	tInvalid:     "invalid token",
	tLexError:    "invalid token",
	tID:          "identifier",
	tStr:         "string",
	tIndStr:      "indented string",
	tInt:         "integer",
	tFloat:       "floating-point literal",
	tPath:        "path",
	tHPath:       "'~/…' path",
	tSPath:       "'<…>' path",
	tPathEnd:     "end of path",
	tURI:         "URI",
	tIf:          "'if'",
	tThen:        "'then'",
	tElse:        "'else'",
	tAssert:      "'assert'",
	tWith:        "'with'",
	tLet:         "'let'",
	tIn:          "'in'",
	tRec:         "'rec'",
	tInherit:     "'inherit'",
	tOrKw:        "'or'",
	tEllipsis:    "'...'",
	tEq:          "'=='",
	tNEq:         "'!='",
	tLeq:         "'<='",
	tGeq:         "'>='",
	tAnd:         "'&&'",
	tOr:          "'||'",
	tImpl:        "'->'",
	tUpdate:      "'//'",
	tConcat:      "'++'",
	tDollarCurly: "'${'",
	tIndOpen:     "start of an indented string",
	tIndClose:    "end of an indented string",
	tLBrace:      "'{'",
	tRBrace:      "'}'",
	tLParen:      "'('",
	tRParen:      "')'",
	tLBrack:      "'['",
	tRBrack:      "']'",
	tColon:       "':'",
	tAt:          "'@'",
	tSemi:        "';'",
	tBang:        "'!'",
	tMinus:       "'-'",
	tLt:          "'<'",
	tGt:          "'>'",
	tPlus:        "'+'",
	tStar:        "'*'",
	tSlash:       "'/'",
	tQuestion:    "'?'",
	tDot:         "'.'",
	tQuote:       "'\"'",
	tAssign:      "'='",
	tComma:       "','",
}

func (k tokKind) String() string {
	if k < numTokKind {
		return tokNames[k]
	}
	return "invalid token"
}

// keywords maps the reserved words to their tokens. `or` is a keyword
// token too, but the grammar accepts it as an attribute name.
func keyword(s []byte) tokKind {
	switch string(s) {
	case "if":
		return tIf
	case "then":
		return tThen
	case "else":
		return tElse
	case "assert":
		return tAssert
	case "with":
		return tWith
	case "let":
		return tLet
	case "in":
		return tIn
	case "rec":
		return tRec
	case "inherit":
		return tInherit
	case "or":
		return tOrKw
	}
	return tID
}

// singleChar maps the characters that are terminals of the grammar. Any
// other character is an "invalid token", as in bison.
func singleChar(c byte) tokKind {
	switch c {
	case '{':
		return tLBrace
	case '}':
		return tRBrace
	case '(':
		return tLParen
	case ')':
		return tRParen
	case '[':
		return tLBrack
	case ']':
		return tRBrack
	case ':':
		return tColon
	case '@':
		return tAt
	case ';':
		return tSemi
	case '!':
		return tBang
	case '-':
		return tMinus
	case '<':
		return tLt
	case '>':
		return tGt
	case '+':
		return tPlus
	case '*':
		return tStar
	case '/':
		return tSlash
	case '?':
		return tQuestion
	case '.':
		return tDot
	case '"':
		return tQuote
	case '=':
		return tAssign
	case ',':
		return tComma
	}
	return tInvalid
}

// token is one lexical token. off and end are byte offsets into the source.
type token struct {
	kind tokKind
	// indent is set on tIndStr pieces that take part in indentation
	// stripping (Nix's StringToken::hasIndentation).
	indent bool
	off    int
	end    int
	text   string // identifier, unescaped string piece, path text, message
	ival   int64
	fval   float64
}
