package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/onix-dev/onix/internal/eval"
)

func newEvalCmd() *cobra.Command {
	var file, expr string
	var jsonOut, raw, showTrace bool
	var include []string
	cmd := &cobra.Command{
		Use:   "eval [INSTALLABLE|ATTRPATH]",
		Short: "Evaluate a Nix expression and print the result (nix eval style)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tuneRuntime()
			stderr := cmd.ErrOrStderr()
			ev := eval.New(cmd.Context(), evalOptions(include, showTrace, stderr))
			fail := func(err error) error {
				var ee *eval.Error
				if errors.As(err, &ee) {
					fmt.Fprintln(stderr, ee.Format(showTrace))
				} else {
					fmt.Fprintf(stderr, "error: %v\n", err)
				}
				return exitError{1}
			}
			wd, _ := os.Getwd()
			var v *eval.Value
			var err error
			attr := ""
			if len(args) == 1 {
				attr = strings.TrimPrefix(args[0], ".#")
			}
			switch {
			case expr != "":
				v, err = ev.EvalString(expr, "«string»", wd)
			case file != "":
				p := file
				if !filepath.IsAbs(p) {
					p = filepath.Join(wd, p)
				}
				v, err = ev.EvalFile(p)
			default:
				return fail(errors.New("flakes are not supported yet; use --file or --expr"))
			}
			if err != nil {
				return fail(err)
			}
			if v, err = ev.AutoCall(v, nil); err != nil {
				return fail(err)
			}
			if v, err = ev.SelectAttrPath(v, attr, nil); err != nil {
				return fail(err)
			}
			var out string
			switch {
			case raw:
				if err = ev.ForceDeep(v); err == nil {
					s, serr := ev.CoerceString(v)
					out, err = s, serr
				}
				if err != nil {
					return fail(err)
				}
				fmt.Fprint(cmd.OutOrStdout(), out)
				return nil
			case jsonOut:
				out, err = ev.ToJSON(v, false)
			default:
				out, err = ev.PrintValue(v, true)
			}
			if err != nil {
				return fail(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "evaluate FILE instead of a flake")
	f.StringVar(&expr, "expr", "", "evaluate the expression EXPR")
	f.BoolVar(&jsonOut, "json", false, "print the result as JSON")
	f.BoolVar(&raw, "raw", false, "print a string result without quotes")
	f.BoolVar(&showTrace, "show-trace", false, "show the evaluation trace on errors")
	f.StringArrayVarP(&include, "include", "I", nil, "add a search path entry")
	return cmd
}
