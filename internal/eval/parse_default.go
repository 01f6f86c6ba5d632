//go:build !noparser

package eval

import "github.com/onix-dev/onix/internal/eval/syntax"

func parseFile(f *syntax.File) (syntax.Expr, error) { return syntax.Parse(f) }
