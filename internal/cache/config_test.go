package cache

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestConfigParse(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "inc.conf")
	if err := os.WriteFile(inc, []byte("extra-trusted-public-keys = k2:BBBB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "nix.conf")
	text := `# comment
substituters = file:///a   http://127.0.0.1:1/b   # trailing comment
trusted-public-keys = k1:AAAA
require-sigs = false
include inc.conf
!include missing.conf
extra-substituters = file:///c
http-connections = 7
empty =
`
	if err := os.WriteFile(main, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c := NewConfig()
	if err := c.ParseFile(main); err != nil {
		t.Fatal(err)
	}
	if got, want := c.Substituters(), []string{"file:///a", "http://127.0.0.1:1/b", "file:///c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("substituters = %q, want %q", got, want)
	}
	if got, want := c.TrustedPublicKeys(), []string{"k1:AAAA", "k2:BBBB"}; !reflect.DeepEqual(got, want) {
		t.Errorf("trusted-public-keys = %q, want %q", got, want)
	}
	if rs, err := c.RequireSigs(); err != nil || rs {
		t.Errorf("require-sigs = %v, %v", rs, err)
	}
	if n, err := c.Int("http-connections", 0); err != nil || n != 7 {
		t.Errorf("http-connections = %v, %v", n, err)
	}
	if v, ok := c.Get("empty"); !ok || v != "" {
		t.Errorf("empty = %q, %v", v, ok)
	}
}

func TestConfigExtraAppendsToDefault(t *testing.T) {
	c, err := LoadConfig(func(string) string { return "" }, []Option{{"extra-substituters", "file:///x"}})
	if err != nil {
		t.Fatal(err)
	}
	// onix's default substituter list is empty (no third-party host unless
	// configured), so extra- gives just the extra one.
	if got, want := c.Substituters(), []string{"file:///x"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	rs, err := c.RequireSigs()
	if err != nil || !rs {
		t.Errorf("require-sigs default = %v, %v", rs, err)
	}
}

// extra-platforms is a setting of its own (as in Nix): setting it replaces
// the value, and extra-extra-platforms appends to it.
func TestConfigExtraPlatforms(t *testing.T) {
	c := NewConfig()
	for _, o := range []Option{{"extra-platforms", "i686-linux"}, {"extra-platforms", "armv7l-linux"}, {"extra-extra-platforms", "riscv64-linux"}} {
		if err := c.Set(o.Name, o.Value); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := c.List("extra-platforms"), []string{"armv7l-linux", "riscv64-linux"}; !reflect.DeepEqual(got, want) {
		t.Errorf("extra-platforms = %q, want %q", got, want)
	}
	if got := c.List("platforms"); len(got) != 0 {
		t.Errorf("extra-platforms leaked into a setting named platforms: %q", got)
	}
}

func TestConfigEnvAndOptions(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "onix.conf")
	os.WriteFile(p, []byte("substituters = file:///from-file\nrequire-sigs = true\n"), 0o644)
	env := map[string]string{"ONIX_CONF": p}
	c, err := LoadConfig(func(k string) string { return env[k] }, []Option{{"require-sigs", "false"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Substituters(); !reflect.DeepEqual(got, []string{"file:///from-file"}) {
		t.Errorf("substituters = %q", got)
	}
	if rs, _ := c.RequireSigs(); rs {
		t.Error("--option did not override the file")
	}
	env["ONIX_CONF"] = filepath.Join(dir, "nope")
	if _, err := LoadConfig(func(k string) string { return env[k] }, nil); err == nil {
		t.Error("missing ONIX_CONF file accepted")
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	loop := filepath.Join(dir, "loop.conf")
	os.WriteFile(loop, []byte("include loop.conf\n"), 0o644)
	cases := map[string]string{
		"no equals":       "substituters file:///a\n",
		"single token":    "substituters\n",
		"missing include": "include /nonexistent/x.conf\n",
		"include arity":   "include a b\n",
		"include cycle":   "include " + loop + "\n",
	}
	for name, text := range cases {
		c := NewConfig()
		err := c.Parse(strings.NewReader(text), "test.conf", dir)
		if err == nil {
			t.Errorf("%s: accepted %q", name, text)
		} else if !strings.Contains(err.Error(), "test.conf") {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
	}
	c := NewConfig()
	c.Set("require-sigs", "maybe")
	if _, err := c.RequireSigs(); err == nil {
		t.Error("invalid bool accepted")
	}
}

func TestCacheInfo(t *testing.T) {
	ci, err := ParseCacheInfo([]byte("StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 30\njunk\nOther: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if ci.StoreDir != "/nix/store" || !ci.WantMassQuery || ci.Priority != 30 || !ci.HasPriority {
		t.Errorf("parsed %+v", ci)
	}
	if got := string(ci.Bytes()); got != "StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 30\n" {
		t.Errorf("rendered %q", got)
	}
	if got := string((CacheInfo{StoreDir: "/nix/store"}).Bytes()); got != "StoreDir: /nix/store\n" {
		t.Errorf("rendered %q", got)
	}
	if _, err := ParseCacheInfo([]byte("Priority: high\n")); err == nil {
		t.Error("bad priority accepted")
	}
}

func FuzzConfigParse(f *testing.F) {
	f.Add("substituters = a b\nextra-substituters = c\n# x\n")
	f.Add("include x\n")
	f.Add("a = \n\n  b   =   c  d  \n")
	f.Fuzz(func(t *testing.T, text string) {
		c := NewConfig()
		if err := c.Parse(strings.NewReader(text), "fuzz", ""); err != nil {
			return
		}
		// Every accepted value must be re-parseable to the same settings.
		var b strings.Builder
		for _, n := range c.Names() {
			b.WriteString(n + " = " + c.values[n] + "\n")
		}
		c2 := &Config{values: map[string]string{}}
		if err := c2.Parse(strings.NewReader(b.String()), "again", ""); err != nil {
			t.Fatalf("re-parse of %q: %v", b.String(), err)
		}
		for _, n := range c.Names() {
			if strings.Join(c.List(n), " ") != strings.Join(c2.List(n), " ") {
				t.Fatalf("setting %s changed: %q vs %q", n, c.values[n], c2.values[n])
			}
		}
	})
}

func FuzzCacheInfo(f *testing.F) {
	f.Add([]byte("StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n"))
	f.Add([]byte("Priority: -1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ci, err := ParseCacheInfo(data)
		if err != nil {
			return
		}
		if strings.ContainsAny(ci.StoreDir, "\n") {
			return
		}
		ci2, err := ParseCacheInfo(ci.Bytes())
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if ci2.WantMassQuery != ci.WantMassQuery || ci2.Priority != ci.Priority || ci2.StoreDir != ci.StoreDir {
			t.Fatalf("round trip %+v -> %+v", ci, ci2)
		}
	})
}
