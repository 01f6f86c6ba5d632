# List helpers.
{ lib }:
let
  inherit (builtins) head tail length elemAt genList filter concatLists concatMap foldl' sort elem any all map;
  # Go-native helpers under onix, { } elsewhere (see native.nix).
  native = import ./native.nix;
in
rec {
  inherit head tail length elemAt genList filter concatLists concatMap foldl' sort elem any all map;
  singleton = x: [ x ];
  forEach = xs: f: map f xs;
  foldr = op: nul: list:
    let len = length list;
        go = n: if n == len then nul else op (elemAt list n) (go (n + 1));
    in go 0;
  fold = foldr;
  foldl = op: nul: list:
    let go = n: if n == -1 then nul else op (go (n - 1)) (elemAt list n);
    in go (length list - 1);
  imap0 = f: list: genList (n: f n (elemAt list n)) (length list);
  imap1 = f: list: genList (n: f (n + 1) (elemAt list n)) (length list);
  ifilter0 = ipred: input:
    map (idx: elemAt input idx) (filter (idx: ipred idx (elemAt input idx)) (genList (x: x) (length input)));
  flatten = x: if builtins.isList x then concatMap flatten x else [ x ];
  remove = e: filter (x: x != e);
  findSingle = pred: default: multiple: list:
    let found = filter pred list; n = length found; in
    if n == 0 then default else if n != 1 then multiple else head found;
  findFirstIndex = pred: default: list:
    let len = length list;
        go = i: if i == len then default else if pred (elemAt list i) then i else go (i + 1);
    in go 0;
  findFirst = pred: default: list:
    let i = findFirstIndex pred null list; in if i == null then default else elemAt list i;
  count = pred: foldl' (c: x: if pred x then c + 1 else c) 0;
  optional = cond: elem: if cond then [ elem ] else [ ];
  optionals = cond: elems: if cond then elems else [ ];
  toList = x: if builtins.isList x then x else [ x ];
  range = first: last: if first > last then [ ] else genList (n: first + n) (last - first + 1);
  replicate = n: elem: genList (_: elem) n;
  partition = builtins.partition;
  groupBy' = op: nul: pred: lst:
    builtins.mapAttrs (name: foldl' op nul) (builtins.groupBy pred lst);
  groupBy = builtins.groupBy;
  zipListsWith = f: fst: snd:
    genList (n: f (elemAt fst n) (elemAt snd n)) (lib.min (length fst) (length snd));
  zipLists = zipListsWith (fst: snd: { inherit fst snd; });
  reverseList = native.reverseList or (xs: let l = length xs; in genList (n: elemAt xs (l - n - 1)) l);
  listDfs = stopOnCycles: before: list:
    let
      dfs' = us: visited: rest:
        let c = filter (x: before x us) visited;
            b = partition (x: before x us) rest;
        in if stopOnCycles && (length c > 0)
          then { cycle = us; loops = c; inherit visited rest; }
          else if length b.right == 0
          then { minimal = us; inherit visited rest; }
          else dfs' (head b.right) ([ us ] ++ visited) (tail b.right ++ b.wrong);
    in dfs' (head list) [ ] (tail list);
  toposort = before: list:
    let
      dfsthis = listDfs true before list;
      toporest = toposort before (dfsthis.visited ++ dfsthis.rest);
    in
    if length list < 2 then { result = list; }
    else if dfsthis ? cycle then { cycle = reverseList ([ dfsthis.cycle ] ++ dfsthis.visited); inherit (dfsthis) loops; }
    else if toporest ? cycle then toporest
    else { result = [ dfsthis.minimal ] ++ toporest.result; };
  sortOn = f: list:
    map (p: p.v) (sort (a: b: a.k < b.k) (map (v: { k = f v; inherit v; }) list));
  compareLists = cmp: a: b:
    if a == [ ] then (if b == [ ] then 0 else -1)
    else if b == [ ] then 1
    else let rel = cmp (head a) (head b); in
      if rel == 0 then compareLists cmp (tail a) (tail b) else rel;
  naturalSort = lst:
    let
      vectorise = s: map (x: if builtins.isList x then builtins.fromJSON (head x) else x) (builtins.split "(0|[1-9][0-9]*)" s);
      prepared = map (x: [ (vectorise x) x ]) lst;
      less = a: b: (compareLists lib.compare (head a) (head b)) < 0;
    in map (x: elemAt x 1) (sort less prepared);
  take = count: sublist 0 count;
  drop = count: list: sublist count (length list) list;
  dropEnd = n: xs: take (lib.max 0 (length xs - n)) xs;
  takeEnd = n: xs: drop (lib.max 0 (length xs - n)) xs;
  hasPrefix = list1: list2: take (length list1) list2 == list1;
  removePrefix = list1: list2:
    if hasPrefix list1 list2 then drop (length list1) list2
    else throw "lib.lists.removePrefix: First argument is not a list prefix of the second argument";
  sublist = start: count: list:
    let len = length list; in
    genList (n: elemAt list (n + start))
      (if start >= len then 0 else if start + count > len then len - start else count);
  commonPrefix = list1: list2:
    let common = findFirstIndex (i: elemAt list1 i != elemAt list2 i) (lib.min (length list1) (length list2)) (range 0 (lib.min (length list1) (length list2) - 1));
    in take common list1;
  last = list: assert list != [ ]; elemAt list (length list - 1);
  init = list: assert list != [ ]; take (length list - 1) list;
  crossLists = f: foldl' (fs: args: concatMap (f: map f args) fs) [ f ];
  unique = foldl' (acc: e: if elem e acc then acc else acc ++ [ e ]) [ ];
  uniqueStrings = list: builtins.attrNames (builtins.groupBy (x: x) list);
  allUnique = list: length (unique list) == length list;
  intersectLists = e: filter (x: elem x e);
  subtractLists = e: filter (x: !(elem x e));
  mutuallyExclusive = a: b: length a == 0 || !(any (x: elem x a) b);
  concatMapAttrsToList = f: attrs: concatLists (lib.mapAttrsToList f attrs);
  listToAttrs = builtins.listToAttrs;
  isList = builtins.isList;
}
