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
    (removeAttrs modules [ "isPlainDefinition" "canonicalModule" "evalModulesImpl" "evalModulesWith" "checkModuleClass" "importJSON" "importTOML" ])
    { inherit (asserts) assertMsg assertOneOf; }
    {
      inherit trivial lists attrsets strings options modules types asserts versions generators;
      fixedPoints = fixed-points;
      debug = { inherit (builtins) trace; traceVal = x: builtins.trace x x; traceSeq = x: y: builtins.trace (builtins.deepSeq x x) y; traceValFn = f: x: builtins.trace (f x) x; };
      customisation = { };
      inherit (fixed-points) toExtension;
      inherit (trivial) importJSON importTOML;
      inherit (strings) toInt toIntBase10;
      inherit (lists) replicate;
      traceVal = x: builtins.trace x x;
      traceSeq = x: y: builtins.trace (builtins.deepSeq x x) y;
      traceIf = pred: msg: x: if pred then builtins.trace msg x else x;
      traceValFn = f: x: builtins.trace (f x) x;
      splitVersion = builtins.splitVersion;
      mkOptionType = types.mkOptionType;
      isType = types.isType;
      isStorePath = strings.isStorePath;
      isDerivation = attrsets.isDerivation;
      inherit (types) setType isOptionType defaultFunctor defaultTypeMerge;
      inherit (options) showOptionWithDefLocs optionAttrSetToDocList';
      imap = lists.imap1;
      mapAttrsFlatten = attrsets.mapAttrsToList;
      zipWithNames = attrsets.zipAttrsWithNames;
      zip = attrsets.zipAttrsWith (n: v: v);
      replaceString = from: to: builtins.replaceStrings [ from ] [ to ];
      concatMapAttrsStringSep = sep: f: attrs: builtins.concatStringsSep sep (attrsets.mapAttrsToList f attrs);
      getExe = x: lib.getExe' x (x.meta.mainProgram or (strings.getName x));
      getExe' = x: y: "${attrsets.getBin x}/bin/${y}";
      setPrio = priority: modules.mkOverride priority;
      lowPrio = drv: drv // { meta = (drv.meta or { }) // { priority = 10; }; };
      hiPrio = drv: drv // { meta = (drv.meta or { }) // { priority = -10; }; };
      pathType = path: (builtins.readDir (builtins.dirOf path)).${builtins.baseNameOf path} or "missing";
      pathIsDirectory = path: lib.pathType path == "directory";
      pathIsRegularFile = path: lib.pathType path == "regular";
      mkLuaInline = expr: { _type = "lua-inline"; inherit expr; };
      fakeHash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
      fakeSha256 = "0000000000000000000000000000000000000000000000000000000000000000";
      fakeSha512 = "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";
      cli = {
        toGNUCommandLine = { mkOptionName ? k: if builtins.stringLength k == 1 then "-${k}" else "--${k}", mkBool ? k: v: lists.optional v (mkOptionName k), mkList ? k: v: builtins.concatMap (mkOption k) v, mkOption ? k: v: if v == null then [ ] else [ (mkOptionName k) (generators.mkValueStringDefault { } v) ] }: options:
          let render = k: v: if builtins.isBool v then mkBool k v else if builtins.isList v then mkList k v else mkOption k v;
          in builtins.concatLists (attrsets.mapAttrsToList render options);
        toGNUCommandLineShell = args: options: strings.escapeShellArgs (lib.cli.toGNUCommandLine args options);
      };
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
