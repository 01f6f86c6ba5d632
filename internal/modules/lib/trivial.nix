# Small general-purpose functions (identity, composition, warnings, fixpoints).
{ lib }:
let
  inherit (builtins) isFunction functionArgs trace foldl' toString;
in
rec {
  id = x: x;
  const = x: _: x;
  flip = f: a: b: f b a;
  pipe = foldl' (x: f: f x);
  concat = x: y: x ++ y;
  "or" = x: y: x || y;
  "and" = x: y: x && y;
  xor = x: y: (!x) != (!y);
  bitAnd = builtins.bitAnd;
  bitOr = builtins.bitOr;
  bitXor = builtins.bitXor;
  bitNot = builtins.sub (-1);
  boolToString = b: if b then "true" else "false";
  mergeAttrs = x: y: x // y;
  mapNullable = f: a: if a == null then a else f a;
  defaultTo = default: v: if v == null then default else v;
  min = x: y: if x < y then x else y;
  max = x: y: if x > y then x else y;
  mod = base: int: base - (int * (builtins.div base int));
  compare = a: b: if a < b then -1 else if a > b then 1 else 0;
  splitByAndCompare = p: yes: no: a: b:
    if p a then (if p b then yes a b else -1) else if p b then 1 else no a b;
  seq = builtins.seq;
  deepSeq = builtins.deepSeq;
  inherit isFunction functionArgs;
  isBool = builtins.isBool;
  isInt = builtins.isInt;
  setFunctionArgs = f: args: { __functor = self: f; __functionArgs = args; };
  mirrorFunctionArgs = f: g: setFunctionArgs g (functionArgs f);
  toFunction = v: if isFunction v then v else _: v;
  importJSON = path: builtins.fromJSON (builtins.readFile path);
  importTOML = path: builtins.fromTOML (builtins.readFile path);

  warn = builtins.warn or (msg: v:
    if builtins.elem (builtins.getEnv "NIX_ABORT_ON_WARN") [ "1" "true" "yes" ]
    then builtins.trace "[1;31mevaluation warning:[0m ${msg}" (abort "NIX_ABORT_ON_WARN=true; warnings are treated as unrecoverable errors.")
    else builtins.trace "[1;35mevaluation warning:[0m ${msg}" v);
  warnIf = cond: msg: if cond then warn msg else x: x;
  warnIfNot = cond: msg: if cond then x: x else warn msg;
  throwIf = cond: msg: if cond then throw msg else x: x;
  throwIfNot = cond: msg: if cond then x: x else throw msg;
  info = msg: builtins.trace "INFO: ${msg}";
  showWarnings = warnings: res: foldl' (r: w: warn w r) res warnings;
  checkListOfEnum = msg: valid: given:
    let unexpected = builtins.filter (v: !builtins.elem v valid) given; in
    throwIfNot (unexpected == [ ])
      "${msg}: ${builtins.concatStringsSep ", " (map toString unexpected)} unexpected; valid ones: ${builtins.concatStringsSep ", " (map toString valid)}";

  fix = f: let x = f x; in x;
  fix' = f: let x = f x // { __unfix__ = f; }; in x;
  converge = f: x: let x' = f x; in if x' == x then x else converge f x';
  extends = overlay: f: final: let prev = f final; in prev // overlay final prev;
  composeExtensions = f: g: final: prev:
    let fApplied = f final prev; prev' = prev // fApplied; in fApplied // g final prev';
  composeManyExtensions = builtins.foldl' (x: y: composeExtensions x y) (final: prev: { });
  makeExtensible = makeExtensibleWithCustomName "extend";
  makeExtensibleWithCustomName = extenderName: rattrs:
    fix' (self: (rattrs self) // {
      ${extenderName} = f: makeExtensibleWithCustomName extenderName (extends f rattrs);
    });

  version = "25.05-onix";
  release = "25.05";
  oldestSupportedRelease = 2411;
  isInOldestRelease = release: release <= 2411;
  oldestSupportedReleaseIsAtLeast = release: release <= 2411;
  codeName = "Warbler";
  versionSuffix = "";
  inNixShell = builtins.getEnv "IN_NIX_SHELL" != "";
  inPureEvalMode = !builtins ? currentSystem;

  toHexString = i:
    let digits = lib.toBaseDigits 16 i;
        hex = d: builtins.elemAt [ "0" "1" "2" "3" "4" "5" "6" "7" "8" "9" "A" "B" "C" "D" "E" "F" ] d;
    in builtins.concatStringsSep "" (map hex digits);
  toBaseDigits = base: i:
    let go = i: if i < base then [ i ] else go (builtins.div i base) ++ [ (i - base * builtins.div i base) ];
    in assert base >= 2; assert i >= 0; go i;
}
