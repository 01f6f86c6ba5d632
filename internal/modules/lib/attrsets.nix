# Attribute set helpers.
{ lib }:
let
  inherit (builtins) attrNames attrValues mapAttrs listToAttrs hasAttr getAttr isAttrs
    concatMap filter foldl' length head tail elemAt genList catAttrs zipAttrsWith intersectAttrs removeAttrs;
in
rec {
  inherit attrNames attrValues mapAttrs listToAttrs hasAttr getAttr isAttrs catAttrs intersectAttrs removeAttrs zipAttrsWith;

  attrByPath = attrPath: default: set:
    let
      len = length attrPath;
      go = n: s:
        if n == len then s
        else let name = elemAt attrPath n; in
          if s ? ${name} then go (n + 1) s.${name} else default;
    in go 0 set;
  hasAttrByPath = attrPath: e:
    let
      len = length attrPath;
      go = n: s: n == len || (let name = elemAt attrPath n; in isAttrs s && s ? ${name} && go (n + 1) s.${name});
    in go 0 e;
  longestValidPathPrefix = attrPath: v:
    let
      len = length attrPath;
      go = n: s: if n < len && isAttrs s && s ? ${elemAt attrPath n} then go (n + 1) s.${elemAt attrPath n} else n;
    in lib.lists.take (go 0 v) attrPath;
  setAttrByPath = attrPath: value:
    let
      len = length attrPath;
      go = n: if n == len then value else { ${elemAt attrPath n} = go (n + 1); };
    in go 0;
  getAttrFromPath = attrPath: set:
    let
      len = length attrPath;
      go = n: s:
        if n == len then s
        else let name = elemAt attrPath n; in
          if s ? ${name} then go (n + 1) s.${name}
          else throw "cannot find attribute `${builtins.concatStringsSep "." attrPath}'";
    in go 0 set;
  concatMapAttrs = f: v: foldl' (a: b: a // b) { } (attrValues (mapAttrs f v));
  updateManyAttrsByPath = updates: value:
    foldl' (acc: u:
      let
        go = path: v:
          if path == [ ] then u.update v
          else let n = head path; in
            (if isAttrs v then v else { }) // { ${n} = go (tail path) (if isAttrs v && v ? ${n} then v.${n} else null); };
      in go u.path acc) value updates;
  attrVals = nameList: set: map (x: set.${x}) nameList;
  getAttrs = names: attrs: lib.genAttrs names (name: attrs.${name});
  filterAttrs = pred: set:
    removeAttrs set (filter (name: !pred name set.${name}) (attrNames set));
  filterAttrsRecursive = pred: set:
    listToAttrs (concatMap (name:
      let v = set.${name}; in
      if pred name v then [ (nameValuePair name (if isAttrs v then filterAttrsRecursive pred v else v)) ] else [ ])
      (attrNames set));
  foldlAttrs = f: init: set: foldl' (acc: name: f acc name set.${name}) init (attrNames set);
  foldAttrs = op: nul: list_of_attrs:
    foldl' (a: n: foldl' (a: name: a // { ${name} = op n.${name} (a.${name} or nul); }) a (attrNames n)) { }
      (lib.reverseList list_of_attrs);
  collect = pred: attrs:
    if pred attrs then [ attrs ]
    else if isAttrs attrs then concatMap (collect pred) (attrValues attrs)
    else [ ];
  cartesianProduct = attrsOfLists:
    foldl' (listOfAttrs: attrName:
      concatMap (attrs: map (listValue: attrs // { ${attrName} = listValue; }) attrsOfLists.${attrName}) listOfAttrs
    ) [ { } ] (attrNames attrsOfLists);
  mapCartesianProduct = f: attrsOfLists: map f (cartesianProduct attrsOfLists);
  nameValuePair = name: value: { inherit name value; };
  mapAttrs' = f: set: listToAttrs (map (attr: f attr set.${attr}) (attrNames set));
  mapAttrsToList = f: attrs: map (name: f name attrs.${name}) (attrNames attrs);
  attrsToList = mapAttrsToList nameValuePair;
  mapAttrsRecursive = f: set: mapAttrsRecursiveCond (as: true) f set;
  mapAttrsRecursiveCond = cond: f: set:
    let
      recurse = path:
        mapAttrs (name: value:
          if isAttrs value && cond value then recurse (path ++ [ name ]) value
          else f (path ++ [ name ]) value);
    in recurse [ ] set;
  genAttrs = names: f: listToAttrs (map (n: { name = n; value = f n; }) names);
  isDerivation = value: value.type or null == "derivation";
  toDerivation = path:
    let
      path' = builtins.storePath path;
      res = {
        type = "derivation";
        name = lib.strings.sanitizeDerivationName (builtins.substring 33 (-1) (baseNameOf path'));
        outPath = path';
        outputs = [ "out" ];
        out = res;
        outputName = "out";
      };
    in res;
  optionalAttrs = cond: as: if cond then as else { };
  zipAttrsWithNames = names: f: sets:
    listToAttrs (map (name: { inherit name; value = f name (catAttrs name sets); }) names);
  zipAttrs = zipAttrsWith (name: values: values);
  mergeAttrsList = list: foldl' (a: b: a // b) { } list;
  recursiveUpdateUntil = pred: lhs: rhs:
    let f = attrPath:
      zipAttrsWith (n: values:
        let here = attrPath ++ [ n ]; in
        if length values == 1 || pred here (elemAt values 1) (head values)
        then head values
        else f here values);
    in f [ ] [ rhs lhs ];
  recursiveUpdate = lhs: rhs:
    let
      go = lhs: rhs:
        lhs // mapAttrs (n: r:
          if isAttrs r && lhs ? ${n} && isAttrs lhs.${n} && !(lib.isDerivation r) && !(lib.isDerivation lhs.${n})
          then go lhs.${n} r else r) rhs;
    in go lhs rhs;
  matchAttrs = pattern: attrs:
    assert isAttrs pattern;
    lib.all (n:
      let pat = pattern.${n}; in
      attrs ? ${n} && (if isAttrs pat then isAttrs attrs.${n} && matchAttrs pat attrs.${n} else pat == attrs.${n}))
      (attrNames pattern);
  overrideExisting = old: new: mapAttrs (name: value: new.${name} or value) old;
  showAttrPath = path: if path == [ ] then "<root attribute path>" else builtins.concatStringsSep "." (map lib.strings.escapeNixIdentifier path);
  getOutput = output: pkg: if !(pkg ? outputSpecified) || !pkg.outputSpecified then pkg.${output} or pkg.out or pkg else pkg;
  getFirstOutput = candidates: pkg:
    let outputs = builtins.filter (name: hasAttr name pkg) candidates;
        output = builtins.head outputs;
    in if pkg.outputSpecified or false || outputs == [ ] then pkg else pkg.${output};
  getBin = getOutput "bin";
  getLib = getOutput "lib";
  getDev = getOutput "dev";
  getMan = getOutput "man";
  chooseDevOutputs = map getDev;
  recurseIntoAttrs = attrs: attrs // { recurseForDerivations = true; };
  dontRecurseIntoAttrs = attrs: attrs // { recurseForDerivations = false; };
  unionOfDisjoint = x: y:
    let intersection = intersectAttrs x y; in
    if intersection == { } then x // y
    else throw "lib.attrsets.unionOfDisjoint: collision on ${builtins.toString (attrNames intersection)}";
}
