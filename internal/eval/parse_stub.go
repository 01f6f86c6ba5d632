//go:build noparser

package eval

import (
	"errors"

	"github.com/onix-dev/onix/internal/eval/syntax"
)

// Used only to test the evaluator with hand-built trees before the parser
// exists (go test -tags noparser).
func parseFile(f *syntax.File, _ syntax.Options) (syntax.Expr, error) {
	return nil, errors.New("no parser in this build")
}
