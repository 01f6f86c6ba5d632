package store

import (
	"fmt"

	"github.com/onix-dev/onix/internal/nixcompat/derivation"
)

// parseDrvOutputs parses a whole .drv ATerm with the strict derivation
// parser (as Nix's registerValidPaths reads every derivation it registers)
// and returns output name -> path. Outputs with an empty path (floating
// content-addressed or deferred) are omitted. file names the derivation in
// errors.
func parseDrvOutputs(file string, b []byte) (map[string]string, error) {
	d, err := derivation.Parse(file, b)
	if err != nil {
		return nil, err
	}
	if len(d.Outputs) == 0 {
		return nil, fmt.Errorf("derivation %s has no outputs", file)
	}
	outs := make(map[string]string, len(d.Outputs))
	for name, o := range d.Outputs {
		if o.Path != "" {
			outs[name] = o.Path
		}
	}
	return outs, nil
}

// drvOutputs parses the derivation stored as path and checks its outputs
// are paths in this store.
func (s *Store) drvOutputs(path string, b []byte) (map[string]string, error) {
	outs, err := parseDrvOutputs(path, b)
	if err != nil {
		return nil, err
	}
	for name, p := range outs {
		if _, err := s.storeDir.Parse(p); err != nil {
			return nil, fmt.Errorf("output %q: %w", name, err)
		}
	}
	return outs, nil
}
