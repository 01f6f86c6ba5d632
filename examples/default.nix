# Evaluates ./configuration.nix against the example option declarations with
# onix's own module system (<onix/lib>, built into the onix binary), and
# returns the resulting configuration.
{ lib ? import <onix/lib> }:
(lib.evalModules {
  modules = [ ./options.nix ./configuration.nix ];
}).config
