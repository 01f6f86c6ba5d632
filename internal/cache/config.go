package cache

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Default values of the settings this package reads. Unlike Nix 2.8, whose
// compiled-in default substituter is https://cache.nixos.org/, onix has no
// substituter until the configuration names one: a fleet tool should not
// contact a third-party host that nobody configured (and tests must never
// reach beyond loopback). NixOSCacheKey is there for configs that opt in.
const (
	DefaultSubstituters      = ""
	DefaultTrustedPublicKeys = ""
	NixOSCacheKey            = "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY="
	DefaultHTTPConnections   = 25
)

// maxIncludeDepth bounds `include` recursion (Nix has no bound and loops
// forever on a cycle; we refuse instead).
const maxIncludeDepth = 16

// Config holds nix.conf-shaped settings. It keeps every setting as the raw
// string Nix would see after `extra-` merging; typed accessors interpret the
// ones onix uses. The zero value is not usable; call NewConfig.
type Config struct {
	values map[string]string
}

// NewConfig returns a Config holding Nix's defaults for the settings this
// package knows.
func NewConfig() *Config {
	return &Config{values: map[string]string{
		"substituters":        DefaultSubstituters,
		"trusted-public-keys": DefaultTrustedPublicKeys,
		"require-sigs":        "true",
		"http-connections":    strconv.Itoa(DefaultHTTPConnections),
	}}
}

// extraNamed reports the settings whose own names start with "extra-":
// Nix sets them like any other, and `extra-extra-platforms` appends to one.
func extraNamed(name string) bool { return name == "extra-platforms" }

// Set assigns one setting. A name of the form `extra-NAME` appends the
// whitespace-separated value to NAME, like Nix does for list settings
// (except for a setting that is itself named so, see extraNamed).
func (c *Config) Set(name, value string) error {
	if name == "" {
		return errors.New("empty setting name")
	}
	if base, ok := strings.CutPrefix(name, "extra-"); ok && !extraNamed(name) {
		if base == "" {
			return fmt.Errorf("invalid setting name %q", name)
		}
		old := c.values[base]
		switch {
		case old == "":
			c.values[base] = value
		case value == "":
		default:
			c.values[base] = old + " " + value
		}
		return nil
	}
	c.values[name] = value
	return nil
}

// Get returns the raw value of a setting.
func (c *Config) Get(name string) (string, bool) {
	v, ok := c.values[name]
	return v, ok
}

// Names returns every setting name that has a value, sorted.
func (c *Config) Names() []string {
	names := make([]string, 0, len(c.values))
	for k := range c.values {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// List returns a whitespace-separated list setting as its elements.
func (c *Config) List(name string) []string { return strings.Fields(c.values[name]) }

// Bool interprets a boolean setting the way Nix does (true/yes/1, false/no/0).
func (c *Config) Bool(name string, def bool) (bool, error) {
	v, ok := c.values[name]
	if !ok {
		return def, nil
	}
	switch v {
	case "true", "yes", "1":
		return true, nil
	case "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("boolean setting %q has invalid value %q", name, v)
}

// Int interprets an integer setting.
func (c *Config) Int(name string, def int) (int, error) {
	v, ok := c.values[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("integer setting %q has invalid value %q", name, v)
	}
	return n, nil
}

// Substituters is the ordered `substituters` list.
func (c *Config) Substituters() []string { return c.List("substituters") }

// TrustedPublicKeys is the `trusted-public-keys` list (NAME:BASE64 each).
func (c *Config) TrustedPublicKeys() []string { return c.List("trusted-public-keys") }

// RequireSigs is the `require-sigs` setting (default true).
func (c *Config) RequireSigs() (bool, error) { return c.Bool("require-sigs", true) }

// ParseFile reads a nix.conf-shaped file. Relative `include` paths resolve
// against the file's directory. A missing top-level file is an error; use
// LoadConfig for the optional ONIX_CONF behaviour.
func (c *Config) ParseFile(path string) error {
	return c.parseFile(path, 0)
}

func (c *Config) parseFile(path string, depth int) error {
	if depth > maxIncludeDepth {
		return fmt.Errorf("config %s: includes nested deeper than %d (cycle?)", path, maxIncludeDepth)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	return c.parse(bytes.NewReader(data), path, filepath.Dir(path), depth)
}

// Parse reads nix.conf-shaped text from r. name is used in error messages
// and dir resolves relative `include` paths; when dir is empty, includes are
// refused.
func (c *Config) Parse(r io.Reader, name, dir string) error {
	return c.parse(r, name, dir, 0)
}

func (c *Config) parse(r io.Reader, name, dir string, depth int) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		tokens := strings.Fields(line)
		if len(tokens) == 0 {
			continue
		}
		if len(tokens) < 2 {
			return fmt.Errorf("%s:%d: illegal configuration line %q", name, lineNo, sc.Text())
		}
		if tokens[0] == "include" || tokens[0] == "!include" {
			if len(tokens) != 2 {
				return fmt.Errorf("%s:%d: illegal configuration line %q", name, lineNo, sc.Text())
			}
			if dir == "" {
				return fmt.Errorf("%s:%d: include not allowed here", name, lineNo)
			}
			p := tokens[1]
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			if _, err := os.Stat(p); err != nil {
				if errors.Is(err, fs.ErrNotExist) && tokens[0] == "!include" {
					continue
				}
				return fmt.Errorf("%s:%d: file %q included from %q: %w", name, lineNo, p, name, err)
			}
			if err := c.parseFile(p, depth+1); err != nil {
				return fmt.Errorf("%s:%d: %w", name, lineNo, err)
			}
			continue
		}
		if tokens[1] != "=" {
			return fmt.Errorf("%s:%d: illegal configuration line %q", name, lineNo, sc.Text())
		}
		if err := c.Set(tokens[0], strings.Join(tokens[2:], " ")); err != nil {
			return fmt.Errorf("%s:%d: %w", name, lineNo, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	return nil
}

// Option is one `--option NAME VALUE` pair.
type Option struct{ Name, Value string }

// LoadConfig builds the effective configuration: Nix defaults, then the file
// named by ONIX_CONF (looked up through getenv; unset or empty means none),
// then options in order.
func LoadConfig(getenv func(string) string, options []Option) (*Config, error) {
	c := NewConfig()
	if getenv != nil {
		if p := getenv("ONIX_CONF"); p != "" {
			if err := c.ParseFile(p); err != nil {
				return nil, fmt.Errorf("ONIX_CONF: %w", err)
			}
		}
	}
	for _, o := range options {
		if err := c.Set(o.Name, o.Value); err != nil {
			return nil, fmt.Errorf("--option %s: %w", o.Name, err)
		}
	}
	return c, nil
}
