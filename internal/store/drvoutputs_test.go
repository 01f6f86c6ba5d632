package store

import (
	"maps"
	"strings"
	"testing"
)

// drvOutputCases are whole .drv files (the strict parser rejects prefixes
// and anything Nix could not have written) with the outputs registration
// records; want nil means the file must be rejected.
var drvOutputCases = []struct {
	name, drv string
	want      map[string]string
}{
	{"plain", `Derive([("out","/nix/store/91dkhdfrdzngb4m62zak427y2vpamanj-plain","","")],[],[],"x86_64-linux","/bin/sh",[],[("name","plain")])`,
		map[string]string{"out": "/nix/store/91dkhdfrdzngb4m62zak427y2vpamanj-plain"}},
	{"multi", `Derive([("dev","/nix/store/c8dlmrfjxmbj5bnh499rhqcky8d2xr22-multi-dev","",""),("out","/nix/store/zljc0bppi97ydrr4sswd27ckjq42pd8k-multi","","")],[],[],"x86_64-linux","/bin/sh",[],[("name","multi")])`,
		map[string]string{"dev": "/nix/store/c8dlmrfjxmbj5bnh499rhqcky8d2xr22-multi-dev", "out": "/nix/store/zljc0bppi97ydrr4sswd27ckjq42pd8k-multi"}},
	{"floating", `Derive([("out","","r:sha256","")],[],[],"x86_64-linux","/bin/sh",[],[("name","ca")])`,
		map[string]string{}},
	{"prefix only", `Derive([("out","/nix/store/91dkhdfrdzngb4m62zak427y2vpamanj-plain","","")],`, nil},
	{"unsorted outputs", `Derive([("out","/nix/store/zljc0bppi97ydrr4sswd27ckjq42pd8k-multi","",""),("dev","/nix/store/c8dlmrfjxmbj5bnh499rhqcky8d2xr22-multi-dev","","")],[],[],"x86_64-linux","/bin/sh",[],[])`, nil},
	{"relative path", `Derive([("out","x/y","","")],[],[],"x86_64-linux","/bin/sh",[],[])`, nil},
	{"trailing data", `Derive([("out","/nix/store/91dkhdfrdzngb4m62zak427y2vpamanj-plain","","")],[],[],"x86_64-linux","/bin/sh",[],[])x`, nil},
	{"not a derivation", `hello`, nil},
}

func TestParseDrvOutputs(t *testing.T) {
	for _, c := range drvOutputCases {
		got, err := parseDrvOutputs("/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x.drv", []byte(c.drv))
		switch {
		case c.want == nil && err == nil:
			t.Errorf("%s: accepted, outputs %v", c.name, got)
		case c.want == nil && !strings.Contains(err.Error(), "-x.drv"):
			t.Errorf("%s: error does not name the derivation: %v", c.name, err)
		case c.want != nil && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != nil && !maps.Equal(got, c.want):
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}
