package cli

import (
	"fmt"
	"strings"

	"github.com/onix-dev/onix/internal/eval"
)

// evalArgs are the nix-style arguments that set up an evaluation, shared by
// instantiate, build and options: --arg NAME EXPR, --argstr NAME STRING and
// -I/--include PATH (also -IPATH).
type evalArgs struct {
	args    []eval.AutoArg
	include []string
}

// parseFlag parses args[i] if it is one of the evalArgs flags. It reports
// whether it was, and returns the index of the last argument it used.
func (e *evalArgs) parseFlag(args []string, i int) (last int, ok bool, err error) {
	switch a := args[i]; {
	case a == "--arg" || a == "--argstr":
		if err := needArgs(args, i, 2); err != nil {
			return i, true, err
		}
		if a == "--arg" {
			e.args = append(e.args, eval.AutoArg{Name: args[i+1], Expr: args[i+2]})
		} else {
			e.args = append(e.args, eval.AutoArg{Name: args[i+1], Str: args[i+2], IsStr: true})
		}
		return i + 2, true, nil
	case a == "-I" || a == "--include":
		if err := needArgs(args, i, 1); err != nil {
			return i, true, err
		}
		e.include = append(e.include, args[i+1])
		return i + 1, true, nil
	case strings.HasPrefix(a, "-I") && len(a) > 2:
		e.include = append(e.include, a[2:])
		return i, true, nil
	}
	return i, false, nil
}

// needArgs checks that the flag args[i] is followed by n arguments.
func needArgs(args []string, i, n int) error {
	if i+n >= len(args) {
		return fmt.Errorf("flag '%s' requires %d argument(s)", args[i], n)
	}
	return nil
}
