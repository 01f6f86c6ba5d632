# String helpers.
{ lib }:
let
  inherit (builtins) concatStringsSep stringLength substring replaceStrings split match
    filter isString isList length head elemAt genList toJSON map foldl' tail;
in
rec {
  inherit concatStringsSep stringLength substring replaceStrings match split;
  concatStrings = concatStringsSep "";
  concatMapStrings = f: list: concatStringsSep "" (map f list);
  concatImapStrings = f: list: concatStrings (lib.imap1 f list);
  intersperse = separator: list:
    if list == [ ] || length list == 1 then list
    else tail (lib.concatMap (x: [ separator x ]) list);
  concatMapStringsSep = sep: f: list: concatStringsSep sep (map f list);
  concatImapStringsSep = sep: f: list: concatStringsSep sep (lib.imap1 f list);
  concatLines = list: concatStrings (map (s: s + "\n") list);
  replicate = n: s: concatStrings (lib.lists.replicate n s);
  join = concatStringsSep;
  makeSearchPath = subDir: paths: concatStringsSep ":" (map (path: path + "/" + subDir) (filter (x: x != null) paths));
  makeSearchPathOutput = output: subDir: pkgs: makeSearchPath subDir (map (lib.getOutput output) pkgs);
  makeLibraryPath = makeSearchPathOutput "lib" "lib";
  makeIncludePath = makeSearchPathOutput "dev" "include";
  makeBinPath = makeSearchPathOutput "bin" "bin";
  normalizePath = s: foldl' (x: y: if y == "/" && hasSuffix "/" x then x else x + y) "" (stringToCharacters s);
  optionalString = cond: string: if cond then string else "";
  hasPrefix = pref: str: substring 0 (stringLength pref) str == pref;
  hasSuffix = suffix: content:
    let lenContent = stringLength content; lenSuffix = stringLength suffix; in
    lenContent >= lenSuffix && substring (lenContent - lenSuffix) lenContent content == suffix;
  hasInfix = infix: content: builtins.match ".*${escapeRegex infix}.*" "${content}" != null;
  stringToCharacters = s: genList (p: substring p 1 s) (stringLength s);
  stringAsChars = f: s: concatStrings (map f (stringToCharacters s));
  charToInt = c: builtins.getAttr c asciiTable;
  escape = list: replaceStrings list (map (c: "\\${c}") list);
  escapeC = list: replaceStrings list (map (c: "\\x${lib.toLower (lib.fixedWidthString 2 "0" (lib.toHexString (charToInt c)))}") list);
  escapeURL = let
      unreserved = [ "A" "B" "C" "D" "E" "F" "G" "H" "I" "J" "K" "L" "M" "N" "O" "P" "Q" "R" "S" "T" "U" "V" "W" "X" "Y" "Z" "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o" "p" "q" "r" "s" "t" "u" "v" "w" "x" "y" "z" "0" "1" "2" "3" "4" "5" "6" "7" "8" "9" "-" "_" "." "~" ];
      toEscape = builtins.removeAttrs asciiTable unreserved;
    in replaceStrings (builtins.attrNames toEscape) (lib.mapAttrsToList (_: c: "%${fixedWidthString 2 "0" (lib.toHexString c)}") toEscape);
  escapeShellArg = arg:
    let string = toString arg; in
    if match "[[:alnum:],._+:@%/-]+" string == null
    then "'${replaceStrings [ "'" ] [ "'\\''" ] string}'"
    else string;
  escapeShellArgs = concatMapStringsSep " " escapeShellArg;
  isValidPosixName = name: match "[a-zA-Z_][a-zA-Z0-9_]*" name != null;
  toShellVar = name: value:
    lib.throwIfNot (isValidPosixName name) "toShellVar: ${name} is not a valid shell variable name" (
      if builtins.isAttrs value && !isStringLike value then
        "declare -A ${name}=(${concatStringsSep " " (lib.mapAttrsToList (n: v: "[${escapeShellArg n}]=${escapeShellArg v}") value)})"
      else if isList value then
        "declare -a ${name}=(${escapeShellArgs value})"
      else "${name}=${escapeShellArg value}");
  toShellVars = vars: concatStringsSep "\n" (lib.mapAttrsToList toShellVar vars);
  escapeNixString = s: escape [ "$" ] (toJSON s);
  escapeRegex = escape (stringToCharacters "\\[{()^$?*+|.");
  escapeNixIdentifier = s: if match "[a-zA-Z_][a-zA-Z0-9_'-]*" s != null then s else escapeNixString s;
  escapeXML = replaceStrings [ "\"" "'" "<" ">" "&" ] [ "&quot;" "&apos;" "&lt;" "&gt;" "&amp;" ];
  replaceChars = replaceStrings;
  lowerChars = stringToCharacters "abcdefghijklmnopqrstuvwxyz";
  upperChars = stringToCharacters "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  toLower = replaceStrings upperChars lowerChars;
  toUpper = replaceStrings lowerChars upperChars;
  toSentenceCase = str:
    let firstChar = substring 0 1 str; rest = substring 1 (stringLength str) str; in
    addContextFrom str (toUpper firstChar + toLower rest);
  addContextFrom = src: target: substring 0 0 src + target;
  splitString = sep: s:
    let splits = filter isString (split (escapeRegex (toString sep)) (toString s)); in
    map (addContextFrom s) splits;
  removePrefix = prefix: str:
    let preLen = stringLength prefix; in
    if substring 0 preLen str == prefix then substring preLen (-1) str else str;
  removeSuffix = suffix: str:
    let sufLen = stringLength suffix; sLen = stringLength str; in
    if sufLen <= sLen && suffix == substring (sLen - sufLen) sufLen str
    then substring 0 (sLen - sufLen) str else str;
  versionOlder = v1: v2: builtins.compareVersions v2 v1 == 1;
  versionAtLeast = v1: v2: !versionOlder v1 v2;
  getName = x: (builtins.parseDrvName (if isString x then x else x.name)).name;
  getVersion = x: (builtins.parseDrvName (if isString x then x else x.name)).version;
  nameFromURL = url: sep:
    let components = splitString "/" url;
        filename = lib.last components;
        name = head (splitString sep filename);
    in assert name != filename; name;
  cmakeOptionType = type: feature: value: "-D${feature}:${lib.toUpper type}=${value}";
  cmakeBool = condition: flag: cmakeOptionType "bool" condition (lib.toUpper (lib.boolToString flag));
  cmakeFeature = feature: value: cmakeOptionType "string" feature value;
  mesonOption = feature: value: "-D${feature}=${value}";
  mesonBool = condition: flag: mesonOption condition (lib.boolToString flag);
  mesonEnable = feature: flag: mesonOption feature (if flag then "enabled" else "disabled");
  enableFeature = flag: feature: "--${if flag then "enable" else "disable"}-${feature}";
  enableFeatureAs = flag: feature: value: enableFeature flag feature + optionalString flag "=${value}";
  withFeature = flag: feature: "--${if flag then "with" else "without"}-${feature}";
  withFeatureAs = flag: feature: value: withFeature flag feature + optionalString flag "=${value}";
  fixedWidthString = width: filler: str:
    let strw = stringLength str; reqWidth = width - (stringLength filler); in
    assert strw <= width;
    if strw == width then str else filler + fixedWidthString reqWidth filler str;
  fixedWidthNumber = width: n: fixedWidthString width "0" (toString n);
  floatToString = float: toString float;
  isConvertibleWithToString = x:
    isStringLike x || builtins.elem (builtins.typeOf x) [ "null" "int" "float" "bool" ]
    || (isList x && lib.all isConvertibleWithToString x);
  isStringLike = x: isString x || builtins.isPath x || x ? outPath || x ? __toString;
  isStorePath = x:
    if isStringLike x then
      let str = toString x; in
      substring 0 1 str == "/"
      && dirOf str == builtins.storeDir
      && match "[0-9a-z]{32}-[-.+_?=0-9a-zA-Z]+" (baseNameOf str) != null
    else false;
  toInt = str:
    let m = match "[[:space:]]*(-?[[:digit:]]+)[[:space:]]*" str; in
    if m == null then throw "Could not convert ${str} to int."
    else if match "-?0[0-9]+" (head m) != null
    then throw "Ambiguity in interpretation of ${str} between octal and zero padded integer."
    else builtins.fromJSON (head m);
  toIntBase10 = str:
    let m = match "[[:space:]]*(-?)0*([[:digit:]]+)[[:space:]]*" str; in
    if m == null then throw "Could not convert ${str} to int."
    else builtins.fromJSON (head m + elemAt m 1);
  readPathsFromFile = rootPath: file:
    let lines = splitString "\n" (builtins.readFile file);
        removeComments = filter (line: line != "" && !(hasPrefix "#" line));
    in map (x: rootPath + ("/" + x)) (removeComments lines);
  fileContents = file: removeSuffix "\n" (builtins.readFile file);
  trimWith = { start ? false, end ? false }: s:
    let
      regex =
        if start && end then "[[:space:]]*(.*[^[:space:]])[[:space:]]*"
        else if start then "[[:space:]]*(.*)"
        else if end then "(.*[^[:space:]])[[:space:]]*"
        else "(.*)";
      res = match regex s;
    in if res == null then (if start || end then "" else s) else head res;
  trim = trimWith { start = true; end = true; };
  sanitizeDerivationName =
    let okRegex = match "[-+_?=a-zA-Z0-9][-+._?=a-zA-Z0-9]*"; in
    string:
    if stringLength string <= 207 && okRegex string != null then builtins.unsafeDiscardStringContext string
    else let
      s1 = builtins.unsafeDiscardStringContext string;
      parts = split "[^-+_?=a-zA-Z0-9]+" (lib.removePrefix "." s1);
      s2 = concatStrings (map (p: if isList p then "-" else p) parts);
      s3 = substring 0 207 s2;
    in if s3 == "" then "unknown" else s3;
  levenshtein = a: b:
    let
      arr = lib.genList (i: lib.genList (j: dist i j) (stringLength b + 1)) (stringLength a + 1);
      d = x: y: lib.elemAt (lib.elemAt arr x) y;
      dist = i: j:
        let c = if substring (i - 1) 1 a == substring (j - 1) 1 b then 0 else 1; in
        if j == 0 then i else if i == 0 then j
        else lib.min (lib.min (d (i - 1) j + 1) (d i (j - 1) + 1)) (d (i - 1) (j - 1) + c);
    in d (stringLength a) (stringLength b);
  asciiTable = builtins.listToAttrs (lib.imap0 (i: c: { name = c; value = i + 32; })
    (stringToCharacters " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"));
}
