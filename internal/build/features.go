package build

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultSystemFeatures is Nix 2.8's default `system-features`: the
// features nixpkgs uses to route builds that need nothing special
// (benchmark, big-parallel, nixos-test), plus kvm when /dev/kvm is
// readable and writable.
func DefaultSystemFeatures() []string {
	f := []string{"benchmark", "big-parallel", "nixos-test"}
	if unix.Access("/dev/kvm", unix.R_OK|unix.W_OK) == nil {
		f = append(f, "kvm")
	}
	slices.Sort(f)
	return f
}

// DefaultExtraPlatforms is Nix's default `extra-platforms` for a machine
// of the given system: an x86_64-linux machine also builds i686-linux
// (in the 32-bit personality, see linux32).
func DefaultExtraPlatforms(system string) []string {
	if system == "x86_64-linux" {
		return []string{"i686-linux"}
	}
	return []string{}
}

// canBuildPlatform reports whether derivations for platform build here:
// System, one of the extra platforms, or a builtin builder (checked by
// the caller).
func (b *builder) canBuildPlatform(platform string) bool {
	if platform == b.opts.System {
		return true
	}
	extra := b.opts.ExtraPlatforms
	if extra == nil {
		extra = DefaultExtraPlatforms(b.opts.System)
	}
	return slices.Contains(extra, platform)
}

// linux32 reports whether Nix runs a builder for platform with the 32-bit
// personality on a machine of the given system: i686-linux on x86_64,
// and armv6l/armv7l (built on aarch64).
func linux32(platform, system string) bool {
	return platform == "i686-linux" && system == "x86_64-linux" ||
		platform == "armv7l-linux" || platform == "armv6l-linux"
}

// systemFeatures is the machine's feature set: Options.SystemFeatures, or
// the defaults when that is nil; sorted, without duplicates.
func (b *builder) systemFeatures() []string {
	f := b.opts.SystemFeatures
	if f == nil {
		f = DefaultSystemFeatures()
	}
	f = slices.Clone(f)
	slices.Sort(f)
	return slices.Compact(f)
}

// requiredFeatures is ParsedDerivation::getRequiredSystemFeatures: the
// requiredSystemFeatures attribute, sorted, without duplicates.
func requiredFeatures(a *drvAttrs) ([]string, error) {
	f, _, err := a.strings("requiredSystemFeatures")
	if err != nil {
		return nil, err
	}
	f = slices.Clone(f)
	slices.Sort(f)
	return slices.Compact(f), nil
}

// checkCanBuild is Nix's canBuildLocally with startBuilder's message: the
// platform must be this system's or an extra platform (builtins run
// anywhere), and every required feature must be among the machine's.
func (b *builder) checkCanBuild(n *node, a *drvAttrs) error {
	req, err := requiredFeatures(a)
	if err != nil {
		return err
	}
	have := b.systemFeatures()
	ok := b.canBuildPlatform(n.drv.Platform) || strings.HasPrefix(n.drv.Builder, "builtin:")
	for _, f := range req {
		if _, found := slices.BinarySearch(have, f); !found {
			ok = false
		}
	}
	if ok {
		return nil
	}
	return fmt.Errorf("a '%s' with features {%s} is required to build '%s', but I am a '%s' with features {%s}",
		n.drv.Platform, strings.Join(req, ", "), n.drvPath, b.opts.System, strings.Join(have, ", "))
}
