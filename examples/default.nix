# Evaluates ./configuration.nix against the example option declarations with
# onix's own module system (<onix/lib>, built into the onix binary), and
# returns the whole evalModules result: `config` is the configuration,
# `options` the option declarations with their values and definitions
# (what `onix options examples/default.nix` shows).
{ lib ? import <onix/lib> }:
lib.evalModules {
  modules = [ ./options.nix ./configuration.nix ];
}
