# <onix/lib>: the NixOS module-system library (evalModules, mkOption,
# types, ...) plus the general helpers NixOS modules use. Written for onix;
# behaviour follows nixpkgs lib (see docs/module-system.md).
let
  lib = builtins.foldl' (a: b: a // b) { } [
    builtins
    # builtins that nixpkgs lib does not re-export under these names are
    # harmless; everything below overrides them where names clash.
    trivial
    lists
    attrsets
    strings
    { inherit (options) isOption mkOption mkEnableOption mkPackageOption mkPackageOptionMD
        mkSinkUndeclaredOptions mergeDefaultOption mergeOneOption mergeUniqueOption mergeEqualOption
        getValues getFiles literalExpression literalExample literalMD mdDoc showOption showFiles
        showDefs unknownModule optionAttrSetToDocList scrubOptionValue renderOptionValue; }
    (removeAttrs modules [ "isPlainDefinition" "canonicalModule" "evalModulesImpl" "importJSON" "importTOML" ])
    { inherit (asserts) assertMsg assertOneOf; }
    {
      inherit trivial lists attrsets strings options modules types asserts versions generators;
      fixedPoints = fixed-points;
      debug = { inherit (builtins) trace; traceVal = x: builtins.trace x x; traceSeq = x: y: builtins.trace (builtins.deepSeq x x) y; traceValFn = f: x: builtins.trace (f x) x; };
      customisation = { };
      inherit (fixed-points) toExtension;
      inherit (trivial) importJSON importTOML;
      inherit (strings) toInt toIntBase10;
      traceVal = x: builtins.trace x x;
      traceSeq = x: y: builtins.trace (builtins.deepSeq x x) y;
      traceIf = pred: msg: x: if pred then builtins.trace msg x else x;
      traceValFn = f: x: builtins.trace (f x) x;
      splitVersion = builtins.splitVersion;
      mkOptionType = types.mkOptionType;
      isType = types.isType;
      isStorePath = strings.isStorePath;
      isDerivation = attrsets.isDerivation;
      platforms = { };
      licenses = { };
      maintainers = { };
      teams = { };
    }
  ];
  trivial = import ./trivial.nix { inherit lib; };
  lists = import ./lists.nix { inherit lib; };
  attrsets = import ./attrsets.nix { inherit lib; };
  strings = import ./strings.nix { inherit lib; };
  options = import ./options.nix { inherit lib; };
  modules = import ./modules.nix { inherit lib; };
  types = import ./types.nix { inherit lib; };
  asserts = import ./asserts.nix { inherit lib; };
  versions = import ./versions.nix { inherit lib; };
  generators = import ./generators.nix { inherit lib; };
  fixed-points = import ./fixed-points.nix { inherit lib; };
in
lib
