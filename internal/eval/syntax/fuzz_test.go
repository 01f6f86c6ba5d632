package syntax

import (
	"testing"
)

// FuzzParse checks that no input makes the parser panic or hang, and that
// whatever parses can be printed.
func FuzzParse(f *testing.F) {
	for _, s := range diffOK {
		f.Add(s)
	}
	for _, s := range diffErr {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		file := &File{Name: "«string»", Dir: "/d", Src: []byte(src)}
		e, err := ParseWith(file, Options{Home: "/h"})
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T", err)
			}
			_ = err.(*Error).Format()
			return
		}
		_ = ShowString(e)
	})
}

// FuzzLex checks that the lexer terminates on any input and always makes
// progress.
func FuzzLex(f *testing.F) {
	for _, s := range diffOK {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		lx := lexer{src: []byte(src), stack: []lexState{stInitial}}
		for i := 0; ; i++ {
			if i > 4*len(src)+16 {
				t.Fatalf("lexer does not terminate")
			}
			tok := lx.next()
			if tok.kind == tEOF || tok.kind == tLexError {
				return
			}
		}
	})
}
