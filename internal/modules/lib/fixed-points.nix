# Fixed points and overlays (re-exported from trivial.nix for nixpkgs
# compatibility of `lib.fixedPoints`).
{ lib }:
{
  inherit (lib.trivial) fix fix' converge extends composeExtensions composeManyExtensions
    makeExtensible makeExtensibleWithCustomName;
  toExtension = f:
    if lib.isFunction f then final: prev: let fPrev = f prev; in if lib.isFunction fPrev then f final prev else fPrev
    else final: prev: f;
}
