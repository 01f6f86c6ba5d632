# Value printers (toPretty for error messages, key/value and INI writers).
{ lib }:
let
  inherit (builtins) isInt isFloat isString isList isAttrs isFunction isPath isBool
    concatStringsSep split filter length elemAt functionArgs attrNames toJSON replaceStrings;
  inherit (lib.strings) escapeNixIdentifier;
in
rec {
  # Pretty-prints a value as Nix syntax. `depthLimit` (non-standard, used by
  # error messages) replaces values nested deeper than it by "<unevaluated>".
  toPretty = { allowPrettyValues ? false, multiline ? true, indent ? "", depthLimit ? null }:
    let
      go = depth: indent: v:
        let
          introSpace = if multiline then "\n${indent}  " else " ";
          outroSpace = if multiline then "\n${indent}" else " ";
          next = go (depth + 1) (indent + "  ");
        in
        if depthLimit != null && (depth > depthLimit || (depth == depthLimit && !(isAttrs v || isList v))) then "\"<unevaluated>\""
        else if isInt v then toString v
        else if isFloat v then builtins.toJSON v
        else if isString v then
          let
            lines = filter (l: !isList l) (split "\n" v);
            escapeSingleline = lib.strings.escape [ "\\" "\"" "\${" ];
            escapeMultiline = replaceStrings [ "\${" "''" ] [ "''\${" "'''" ];
            n = length lines;
          in
          if multiline && n > 1 then
            let
              escaped = map escapeMultiline lines;
              lastLine = elemAt escaped (n - 1);
            in
            "''" + introSpace + concatStringsSep introSpace (lib.lists.init escaped)
            + (if lastLine == "" then outroSpace else introSpace + lastLine) + "''"
          else "\"" + concatStringsSep "\\n" (map escapeSingleline lines) + "\""
        else if v == true then "true"
        else if v == false then "false"
        else if v == null then "null"
        else if isPath v then toString v
        else if isList v then
          if v == [ ] then "[ ]"
          else "[" + introSpace + concatStringsSep introSpace (map next v) + outroSpace + "]"
        else if isFunction v then
          let fna = functionArgs v; in
          if fna == { } then "<function>"
          else "<function, args: {${concatStringsSep ", " (map (n: if fna.${n} then n + "?" else n) (attrNames fna))}}>"
        else if isAttrs v then
          if allowPrettyValues && v ? __pretty && v ? val then v.__pretty v.val
          else if v == { } then "{ }"
          else if v.type or null == "derivation" then "<derivation ${v.name or "???"}>"
          else "{" + introSpace
            + concatStringsSep introSpace (map (name:
                "${escapeNixIdentifier name} = ${
                  if builtins.elem name [ "__functor" "__functionArgs" "__toString" "__pretty" ]
                  then go (-1000000) (indent + "  ") v.${name}
                  else next v.${name}};") (attrNames v))
            + outroSpace + "}"
        else abort "generators.toPretty: should never happen";
    in
    go 0 indent;

  withRecursion = { depthLimit, throwOnDepthLimit ? true }:
    let
      mapAny = depth: v:
        let evalNext = x: mapAny (depth + 1) (transform (depth + 1) x); in
        if isAttrs v then builtins.mapAttrs (n: x: if builtins.elem n [ "__functor" "__functionArgs" "__toString" "__pretty" ] then x else evalNext x) v
        else if isList v then map evalNext v
        else transform (depth + 1) v;
      transform = depth:
        if depthLimit != null && depth > depthLimit then
          if throwOnDepthLimit
          then throw "Exceeded maximum eval-depth limit of ${toString depthLimit} while trying to evaluate with `generators.withRecursion'!"
          else _: "<unevaluated>"
        else x: x;
    in mapAny 0;

  mkValueStringDefault = { }: v:
    let err = t: v: abort ("generators.mkValueStringDefault: ${t} not supported: ${toPretty { } v}"); in
    if isInt v then toString v
    else if lib.strings.isConvertibleWithToString v && !isList v then toString v
    else if isString v then v
    else if true == v then "true"
    else if false == v then "false"
    else if null == v then "null"
    else if isFloat v then lib.strings.floatToString v
    else if isList v then err "lists" v
    else if isAttrs v then err "attrsets" v
    else if isFunction v then err "functions" v
    else err "this value is" (toString v);
  mkKeyValueDefault = { mkValueString ? mkValueStringDefault { } }: sep: k: v:
    "${lib.strings.escape [ sep ] k}${sep}${mkValueString v}";
  toKeyValue = { mkKeyValue ? mkKeyValueDefault { } "=", listsAsDuplicateKeys ? false, indent ? "" }:
    let
      mkLine = k: v: indent + mkKeyValue k v + "\n";
      mkLines = if listsAsDuplicateKeys then k: v: map (mkLine k) (if isList v then v else [ v ]) else k: v: [ (mkLine k v) ];
    in attrs: lib.concatStrings (lib.concatLists (lib.mapAttrsToList mkLines attrs));
  toINI = { mkSectionName ? (name: lib.strings.escape [ "[" "]" ] name), mkKeyValue ? mkKeyValueDefault { } "=", listsAsDuplicateKeys ? false }:
    attrsOfAttrs:
    let mkSection = sectName: sectValues: ''
      [${mkSectionName sectName}]
    '' + toKeyValue { inherit mkKeyValue listsAsDuplicateKeys; } sectValues;
    in concatStringsSep "\n" (lib.mapAttrsToList mkSection attrsOfAttrs);
  toINIWithGlobalSection = { mkSectionName ? (name: lib.strings.escape [ "[" "]" ] name), mkKeyValue ? mkKeyValueDefault { } "=", listsAsDuplicateKeys ? false }:
    { globalSection, sections ? { } }:
    (if globalSection == { } then "" else (toKeyValue { inherit mkKeyValue listsAsDuplicateKeys; } globalSection) + "\n")
    + (toINI { inherit mkSectionName mkKeyValue listsAsDuplicateKeys; } sections);
  toJSON = { }: builtins.toJSON;
  toYAML = { }: builtins.toJSON;
}
