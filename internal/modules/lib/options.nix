# Option declarations and the classic merge functions.
{ lib }:
let
  inherit (builtins) length head all isFunction isList isAttrs isBool isString isInt
    concatLists concatStringsSep filter map match elemAt split tryEval foldl';
in
rec {
  isOption = x: x._type or null == "option";

  # mkOption accepts default, defaultText, example, description,
  # relatedPackages, type, apply, internal, visible, readOnly and any other
  # attribute; it only tags the set.
  mkOption = attrs: attrs // { _type = "option"; };

  mkEnableOption = name: mkOption {
    default = false;
    example = true;
    description = "Whether to enable ${name}.";
    type = lib.types.bool;
  };

  mkPackageOption = pkgs: name:
    { nullable ? false, default ? name, example ? null, extraDescription ? "", pkgsText ? "pkgs" }:
    let
      name' = if isList name then lib.last name else name;
      default' = if isList default then default else [ default ];
      defaultText = concatStringsSep "." default';
      defaultValue = lib.attrByPath default'
        (throw "${defaultText} cannot be found in ${pkgsText}") pkgs;
      defaults = if default != null then {
        default = defaultValue;
        defaultText = literalExpression ("${pkgsText}." + defaultText);
      } else lib.optionalAttrs nullable { default = null; };
    in
    mkOption (defaults // {
      description = "The ${name'} package to use." + (if extraDescription == "" then "" else " " + extraDescription);
      type = with lib.types; (if nullable then nullOr else x: x) package;
    } // lib.optionalAttrs (example != null) {
      example = literalExpression (if isList example then "${pkgsText}." + concatStringsSep "." example else example);
    });

  mkPackageOptionMD = mkPackageOption;
  mkSinkUndeclaredOptions = attrs: mkOption ({
    internal = true;
    visible = false;
    default = false;
    description = "Sink for option definitions.";
    type = lib.types.mkOptionType { name = "sink"; check = x: true; merge = loc: defs: false; };
    apply = x: throw "Option value is not readable because the option is not declared.";
  } // attrs);

  mergeDefaultOption = loc: defs:
    let list = getValues defs; in
    if length list == 1 then head list
    else if all isFunction list then x: mergeDefaultOption loc (map (f: f x) list)
    else if all isList list then concatLists list
    else if all isAttrs list then foldl' (a: b: a // b) { } list
    else if all isBool list then builtins.any (x: x) list
    else if all isString list then concatStringsSep "" list
    else if all isInt list && all (x: x == head list) list then head list
    else throw "Cannot merge definitions of `${showOption loc}'. Definition values:${showDefs defs}";

  mergeOneOption = mergeUniqueOption { message = ""; };

  mergeUniqueOption = { message, merge ? loc: defs: (head defs).value }: loc: defs:
    if length defs == 1 then merge loc defs
    else assert length defs > 1;
      throw "The option `${showOption loc}' is defined multiple times while it's expected to be unique.\n${message}\nDefinition values:${showDefs defs}\n${prioritySuggestion}";

  mergeEqualOption = loc: defs:
    if defs == [ ] then abort "This case should never happen."
    else if length defs == 1 then (head defs).value
    else
      let
        first = head defs;
        n = length defs;
        # index of the first definition whose value differs from the first one
        go = i: if i == n then null else if (elemAt defs i).value == first.value then go (i + 1) else elemAt defs i;
        bad = go 0;
      in
      if bad == null then first.value
      # (nixpkgs lists only the first definition and the first differing
      # one; all definitions are listed here)
      else throw "The option `${showOption loc}' has conflicting definition values:${showDefs defs}\n${prioritySuggestion}";

  prioritySuggestion = "Use `lib.mkForce value` or `lib.mkDefault value` to change the priority on any of these definitions.";

  getValues = map (x: x.value);
  getFiles = map (x: x.file);

  literalExpression = text:
    if !isString text then throw "literalExpression expects a string."
    else { _type = "literalExpression"; inherit text; };
  literalExample = literalExpression;
  literalMD = text:
    if !isString text then throw "literalMD expects a string."
    else { _type = "literalMD"; inherit text; };
  mdDoc = x: x;

  showOption = parts:
    concatStringsSep "." (map (part:
      if part == "*" || match "<(.*)>" part != null then part
      else lib.strings.escapeNixIdentifier part) parts);

  showFiles = files: concatStringsSep " and " (map (f: "`${f}'") files);

  # ", line N" when the definition's position is known: under onix a
  # definition's value attribute is at the attribute that defined it (see
  # defWithValue in modules.nix); elsewhere the position is the library's
  # own and is not shown.
  defLine = def:
    let p = builtins.unsafeGetAttrPos "value" def; in
    if p != null && p.file == toString def.file then ", line ${toString p.line}" else "";

  showDefs = defs: concatStringsSep "" (map (def:
    let
      pretty = tryEval (lib.generators.toPretty { depthLimit = 10; } def.value);
      lines = filter (v: !isList v) (split "\n" pretty.value);
      n = length lines;
      shown = concatStringsSep "\n    " (if n > 5 then lib.lists.take 5 lines ++ [ "..." ] else lines);
    in
    "\n- In `${def.file}'${defLine def}" + (
      if !pretty.success then ""
      else if n > 1 then ":\n    " + shown
      else ": " + shown)
  ) defs);

  showOptionWithDefLocs = opt: ''
    ${showOption opt.loc}, with values defined in:
    ${concatStringsSep "\n" (map (f: "  - ${f}") opt.files)}
  '';

  unknownModule = "<unknown-file>";

  # Documentation helpers are kept minimal: they walk the option tree.
  optionAttrSetToDocList = optionAttrSetToDocList' [ ];
  optionAttrSetToDocList' = _: options:
    concatLists (map (name:
      let opt = options.${name}; in
      if isOption opt then [ ({
        name = showOption opt.loc;
        description = opt.description or null;
        declarations = opt.declarations or [ ];
        internal = opt.internal or false;
        visible = opt.visible or true;
        readOnly = opt.readOnly or false;
        type = opt.type.description or "unspecified";
        loc = opt.loc;
      } // lib.optionalAttrs (opt ? default) { default = opt.default; }
        // lib.optionalAttrs (opt ? example) { example = opt.example; }) ]
      else if isAttrs opt then optionAttrSetToDocList' [ ] opt
      else [ ]) (builtins.attrNames options));

  scrubOptionValue = x:
    if lib.isDerivation x then { type = "derivation"; drvPath = x.name; outPath = x.name; name = x.name; }
    else if isList x then map scrubOptionValue x
    else if isAttrs x then builtins.mapAttrs (n: v: scrubOptionValue v) (removeAttrs x [ "_args" ])
    else x;

  renderOptionValue = v:
    if v ? _type && v ? text then v
    else literalExpression (lib.generators.toPretty { multiline = true; allowPrettyValues = true; } v);
}
