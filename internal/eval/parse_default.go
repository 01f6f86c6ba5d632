//go:build !noparser

package eval

import "github.com/onix-dev/onix/internal/eval/syntax"

func parseFile(f *syntax.File, o syntax.Options) (syntax.Expr, error) {
	return syntax.ParseWith(f, o)
}
