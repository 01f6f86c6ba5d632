# Option types. A type is an attrset tagged `_type = "option-type"` with
# name, description, descriptionClass, check (shallow), merge loc defs,
# emptyValue, getSubOptions, getSubModules, substSubModules, typeMerge,
# functor, nestedTypes and deprecationMessage.
{ lib }:
let
  inherit (builtins)
    all any attrNames concatLists concatMap concatStringsSep elem elemAt filter
    foldl' genList head isAttrs isBool isFloat isFunction isInt isList isString
    length map mapAttrs removeAttrs tail toJSON toString zipAttrsWith;
  inherit (lib.options) mergeDefaultOption mergeEqualOption mergeOneOption mergeUniqueOption
    showOption showFiles getFiles getValues;
  inherit (lib.modules) mergeDefinitions isPlainDefinition defWithValue splitDef;
  inherit (lib.strings) isStringLike escapeNixString;

  isType = type: x: (x._type or "") == type;
  setType = typeName: value: value // { _type = typeName; };
  isOptionType = isType "option-type";

  defaultFunctor = name: {
    inherit name;
    type = types.${name} or null;
    wrapped = null;
    payload = null;
    binOp = a: b: null;
  };

  # Functor of types parameterised by element type(s).
  elemTypeFunctor = name: payload: {
    inherit name payload;
    wrapped = payload.elemType;
    type = payload: types.${name} payload.elemType;
    binOp = a: b:
      let merged = a.elemType.typeMerge b.elemType.functor; in
      if merged == null then null else { elemType = merged; };
  };

  defaultTypeMerge = f: f':
    if f.name != f'.name then null
    else if f.payload or null != null then
      let p = f.binOp f.payload f'.payload; in
      if p == null then null else f.type p
    else if f.wrapped or null != null then
      let w = f.wrapped.typeMerge f'.wrapped.functor; in
      if w == null then null else f.type w
    else f.type;

  mkOptionType = {
    name,
    description ? null,
    descriptionClass ? null,
    check ? (x: true),
    merge ? mergeDefaultOption,
    emptyValue ? { },
    getSubOptions ? prefix: { },
    getSubModules ? null,
    substSubModules ? m: null,
    typeMerge ? defaultTypeMerge functor,
    functor ? defaultFunctor name,
    deprecationMessage ? null,
    nestedTypes ? { },
  }: {
    _type = "option-type";
    inherit name check merge emptyValue getSubOptions getSubModules substSubModules
      typeMerge functor deprecationMessage nestedTypes descriptionClass;
    description = if description == null then name else description;
  };

  optionDescriptionPhrase = unparenthesize: t:
    if unparenthesize (t.descriptionClass or null) then t.description else "(${t.description})";

  isNounOrComposite = c: c == "noun" || c == "composite";
  isNounOrConjunction = c: c == "noun" || c == "conjunction";

  noCheckForDocsModule = {
    config._module.check = lib.mkForce false;
    _file = "<built-in module that disables checks for the purpose of documentation generation>";
  };

  noSubOptions = prefix: { };
  noSubst = m: null;

  addCheck = elemType: check: elemType // { check = x: elemType.check x && check x; };

  # Merges one element (list entry / attribute) given its definitions.
  # Plain values skip the property machinery of mergeDefinitions.
  # Returns { isDefined; mergedValue; }.
  mergeElem = loc: elemType: defs:
    if tail defs == [ ] && (let v = (head defs).value; in !(isAttrs v && propertyTags ? ${v._type or "-"})) then {
      isDefined = true;
      mergedValue =
        let def = head defs; in
        if elemType.check def.value then elemType.merge loc defs
        else throw "A definition for option `${showOption loc}' is not of type `${elemType.description}'. Definition values:${lib.options.showDefs defs}";
    }
    else mergeDefinitions loc elemType defs;

  inherit (lib.modules) canonicalModule;
  unknownFile = "<unknown-file>";
  nameDefaultModule = canonicalModule unknownFile ":anon-1" [ ] { _module.args.name = lib.mkOptionDefault "‹name›"; };

  propertyTags = { merge = true; "if" = true; override = true; order = true; definition = true; };

  pushPositions = map splitDef;

  types = rec {
    raw = mkOptionType {
      name = "raw";
      description = "raw value";
      descriptionClass = "noun";
      check = value: true;
      merge = mergeOneOption;
    };

    anything = mkOptionType {
      name = "anything";
      description = "anything";
      descriptionClass = "noun";
      check = value: true;
      merge = loc: defs:
        let
          getType = value: if isAttrs value && isStringLike value then "stringCoercibleSet" else builtins.typeOf value;
          commonType = foldl' (type: def:
            if getType def.value == type then type
            else throw "The option `${showOption loc}' has conflicting option types in ${showFiles (getFiles defs)}"
          ) (getType (head defs).value) defs;
        in
        if commonType == "set" then (attrsOf anything).merge loc defs
        else if commonType == "stringCoercibleSet" then mergeOneOption loc defs
        else if commonType == "lambda" then
          arg: anything.merge (loc ++ [ "<function body>" ]) (map (def: { inherit (def) file; value = def.value arg; }) defs)
        else mergeEqualOption loc defs;
    };

    unspecified = mkOptionType {
      name = "unspecified";
      description = "unspecified value";
      descriptionClass = "noun";
    };

    bool = mkOptionType {
      name = "bool";
      description = "boolean";
      descriptionClass = "noun";
      check = isBool;
      merge = mergeEqualOption;
    };

    boolByOr = mkOptionType {
      name = "boolByOr";
      description = "boolean (merged using or)";
      descriptionClass = "noun";
      check = isBool;
      merge = loc: defs: any (def: def.value) defs;
    };

    int = mkOptionType {
      name = "int";
      description = "signed integer";
      descriptionClass = "noun";
      check = isInt;
      merge = mergeEqualOption;
    };

    # Range types keep int's functor: merging two declarations yields int.
    ints =
      let
        betweenDesc = lowest: highest: "${toString lowest} and ${toString highest} (both inclusive)";
        between = lowest: highest:
          assert lib.asserts.assertMsg (lowest <= highest) "ints.between: lowest must be smaller than highest";
          addCheck int (x: x >= lowest && x <= highest) // {
            name = "intBetween";
            description = "integer between ${betweenDesc lowest highest}";
          };
        ign = lowest: highest: name: docStart:
          between lowest highest // {
            inherit name;
            description = docStart + "; between ${betweenDesc lowest highest}";
          };
        unsign = bit: range: ign 0 (range - 1) "unsignedInt${toString bit}" "${toString bit} bit unsigned integer";
        sign = bit: range: ign (0 - (range / 2)) (range / 2 - 1) "signedInt${toString bit}" "${toString bit} bit signed integer";
      in {
        inherit between;
        unsigned = addCheck int (x: x >= 0) // {
          name = "unsignedInt";
          description = "unsigned integer, meaning >=0";
          descriptionClass = "nonRestrictiveClause";
        };
        positive = addCheck int (x: x > 0) // {
          name = "positiveInt";
          description = "positive integer, meaning >0";
          descriptionClass = "nonRestrictiveClause";
        };
        u8 = unsign 8 256;
        u16 = unsign 16 65536;
        u32 = unsign 32 4294967296;
        s8 = sign 8 256;
        s16 = sign 16 65536;
        s32 = sign 32 4294967296;
      };

    port = ints.u16;

    float = mkOptionType {
      name = "float";
      description = "floating point number";
      descriptionClass = "noun";
      check = isFloat;
      merge = mergeEqualOption;
    };

    number = either int float;

    numbers =
      let betweenDesc = lowest: highest: "${toJSON lowest} and ${toJSON highest} (both inclusive)"; in {
        between = lowest: highest:
          addCheck number (x: x >= lowest && x <= highest) // {
            name = "numberBetween";
            description = "integer or floating point number between ${betweenDesc lowest highest}";
          };
        nonnegative = addCheck number (x: x >= 0) // {
          name = "numberNonnegative";
          description = "nonnegative integer or floating point number, meaning >=0";
          descriptionClass = "nonRestrictiveClause";
        };
        positive = addCheck number (x: x > 0) // {
          name = "numberPositive";
          description = "positive integer or floating point number, meaning >0";
          descriptionClass = "nonRestrictiveClause";
        };
      };

    str = mkOptionType {
      name = "str";
      description = "string";
      descriptionClass = "noun";
      check = isString;
      merge = mergeEqualOption;
    };

    nonEmptyStr = mkOptionType {
      name = "nonEmptyStr";
      description = "non-empty string";
      descriptionClass = "noun";
      check = x: isString x && builtins.match "[ \t\n]*" x == null;
      merge = mergeEqualOption;
    };

    singleLineStr =
      let inner = strMatching "[^\n\r]*\n?"; in
      mkOptionType {
        name = "singleLineStr";
        description = "(optionally newline-terminated) single-line string";
        descriptionClass = "noun";
        inherit (inner) check;
        merge = loc: defs: lib.strings.removeSuffix "\n" (inner.merge loc defs);
      };

    strMatching = pattern: mkOptionType {
      name = "strMatching ${escapeNixString pattern}";
      description = "string matching the pattern ${pattern}";
      descriptionClass = "noun";
      check = x: isString x && builtins.match pattern x != null;
      merge = mergeEqualOption;
      functor = defaultFunctor "strMatching" // {
        type = payload: strMatching payload.pattern;
        payload = { inherit pattern; };
        binOp = lhs: rhs: if lhs == rhs then lhs else null;
      };
    };

    separatedString = sep: mkOptionType {
      name = "separatedString";
      description = if sep == "" then "Concatenated string" else "strings concatenated with ${toJSON sep}";
      descriptionClass = "noun";
      check = isString;
      merge = loc: defs: concatStringsSep sep (getValues defs);
      functor = defaultFunctor "separatedString" // {
        payload = { inherit sep; };
        type = payload: separatedString payload.sep;
        binOp = lhs: rhs: if lhs.sep == rhs.sep then { inherit (lhs) sep; } else null;
      };
    };

    lines = separatedString "\n";
    commas = separatedString ",";
    envVar = separatedString ":";

    string = lib.warn "The type `types.string` is deprecated. See https://github.com/NixOS/nixpkgs/pull/66346 for better alternative types."
      (separatedString "" // { name = "string"; });

    passwdEntry = entryType: addCheck entryType (str: !(lib.strings.hasInfix ":" str || lib.strings.hasInfix "\n" str)) // {
      name = "passwdEntry ${entryType.name}";
      description = "${optionDescriptionPhrase (class: class == "noun") entryType}, not containing newlines or colons";
      descriptionClass = "nonRestrictiveClause";
    };

    attrs = mkOptionType {
      name = "attrs";
      description = "attribute set";
      check = isAttrs;
      merge = loc: foldl' (res: def: res // def.value) { };
      emptyValue = { value = { }; };
    };

    package = mkOptionType {
      name = "package";
      descriptionClass = "noun";
      check = x: lib.isDerivation x || lib.strings.isStorePath x;
      merge = loc: defs:
        let res = mergeOneOption loc defs; in
        if builtins.isPath res || (isString res && !builtins.hasContext res)
        then lib.toDerivation res
        else res;
    };

    shellPackage = package // {
      check = x: lib.isDerivation x && x ? shellPath;
    };

    pkgs = addCheck (unique { message = "A Nixpkgs pkgs set can not be merged with another pkgs set."; } attrs // {
      name = "pkgs";
      descriptionClass = "noun";
      description = "Nixpkgs package set";
    }) (x: (x._type or null) == "pkgs");

    path = pathWith { absolute = true; };
    pathInStore = pathWith { inStore = true; };

    pathWith = { inStore ? null, absolute ? null }:
      if inStore != null && absolute != null && inStore && !absolute
      then throw "In pathWith, inStore means the path must be absolute"
      else mkOptionType {
        name = "path";
        description =
          (if absolute == null then "" else (if absolute then "absolute " else "relative "))
          + "path"
          + (if inStore == null then "" else (if inStore then " in the Nix store" else " not in the Nix store"));
        descriptionClass = "noun";
        merge = mergeEqualOption;
        functor = defaultFunctor "path" // {
          type = pathWith;
          payload = { inherit inStore absolute; };
          binOp = lhs: rhs: if lhs == rhs then lhs else null;
        };
        check = x:
          let
            isExpectedType = if inStore == null || inStore then isStringLike x else isString x;
            s = toString x;
            isAbsolute = builtins.substring 0 1 s == "/";
            isInStore =
              let storeDir = builtins.storeDir + "/"; n = builtins.stringLength storeDir; in
              builtins.substring 0 n s == storeDir && builtins.stringLength s > n;
          in
          isExpectedType
          && (inStore == null || inStore == isInStore)
          && (absolute == null || absolute == isAbsolute);
      };

    listOf = elemType: rec {
      _type = "option-type";
      deprecationMessage = null;
      typeMerge = defaultTypeMerge functor;
     
      name = "listOf";
      description = "list of ${optionDescriptionPhrase isNounOrComposite elemType}";
      descriptionClass = "composite";
      check = isList;
      merge = loc: defs:
        let
          perDef = n: def:
            let
              values = def.value;
              entryLoc = m: loc ++ [ "[definition ${toString n}-entry ${toString m}]" ];
            in
            if all (v: !(isAttrs v && propertyTags ? ${v._type or "-"})) values then
              # every entry is defined: only check + merge each one lazily
              genList (i:
                let v = elemAt values i; l = entryLoc (i + 1); in
                if elemType.check v then elemType.merge l [ (defWithValue def v) ]
                else throw "A definition for option `${showOption l}' is not of type `${elemType.description}'. Definition values:${lib.options.showDefs [ (defWithValue def v) ]}"
              ) (length values)
            else
              concatLists (genList (i:
                let r = mergeDefinitions (entryLoc (i + 1)) elemType [ (defWithValue def (elemAt values i)) ]; in
                if r.isDefined then [ r.mergedValue ] else [ ]) (length values));
          nDefs = length defs;
        in
        if nDefs == 1 then perDef 1 (head defs)
        else concatLists (genList (i: perDef (i + 1) (elemAt defs i)) nDefs);
      emptyValue = { value = [ ]; };
      getSubOptions = prefix: elemType.getSubOptions (prefix ++ [ "*" ]);
      getSubModules = elemType.getSubModules;
      substSubModules = m: listOf (elemType.substSubModules m);
      functor = elemTypeFunctor "listOf" { inherit elemType; };
      nestedTypes.elemType = elemType;
    };

    nonEmptyListOf = elemType:
      let list = addCheck (listOf elemType) (l: l != [ ]); in
      list // {
        description = "non-empty ${optionDescriptionPhrase (class: class == "noun") list}";
        emptyValue = { };
        substSubModules = m: nonEmptyListOf (elemType.substSubModules m);
      };

    attrsOf = elemType: attrsWith { inherit elemType; };
    lazyAttrsOf = elemType: attrsWith { inherit elemType; lazy = true; };

    attrsWith = { elemType, lazy ? false, placeholder ? "name" }: rec {
      _type = "option-type";
      deprecationMessage = null;
      typeMerge = defaultTypeMerge functor;
     
      name = if lazy then "lazyAttrsOf" else "attrsOf";
      description = (if lazy then "lazy attribute set" else "attribute set")
        + " of ${optionDescriptionPhrase isNounOrComposite elemType}";
      descriptionClass = "composite";
      check = isAttrs;
      merge =
        if lazy then
          loc: defs: zipAttrsWith (name: defs:
            let merged = mergeElem (loc ++ [ name ]) elemType defs; in
            if merged.isDefined then merged.mergedValue
            else elemType.emptyValue.value or merged.mergedValue
          ) (pushPositions defs)
        else
          loc: defs:
            let
              merged = zipAttrsWith (name: defs: mergeElem (loc ++ [ name ]) elemType defs) (pushPositions defs);
              undefined = filter (n: !merged.${n}.isDefined) (attrNames merged);
            in
            mapAttrs (n: r: r.mergedValue) (if undefined == [ ] then merged else removeAttrs merged undefined);
      emptyValue = { value = { }; };
      getSubOptions = prefix: elemType.getSubOptions (prefix ++ [ "<${placeholder}>" ]);
      getSubModules = elemType.getSubModules;
      substSubModules = m: attrsWith { elemType = elemType.substSubModules m; inherit lazy placeholder; };
      functor = elemTypeFunctor "attrsWith" { inherit elemType lazy placeholder; } // {
        type = attrsWith;
        binOp = lhs: rhs:
          let
            elemType = lhs.elemType.typeMerge rhs.elemType.functor;
            lazy = if lhs.lazy == rhs.lazy then lhs.lazy else null;
            placeholder =
              if lhs.placeholder == rhs.placeholder then lhs.placeholder
              else if lhs.placeholder == "name" then rhs.placeholder
              else if rhs.placeholder == "name" then lhs.placeholder
              else null;
          in
          if elemType == null || lazy == null || placeholder == null then null
          else { inherit elemType lazy placeholder; };
      };
      nestedTypes.elemType = elemType;
    };

    loaOf = elemType: attrsOf elemType // {
      name = "loaOf";
      deprecationMessage = "Mixing lists with attribute values is no longer possible; please use `types.attrsOf` instead. See https://github.com/NixOS/nixpkgs/issues/1800 for the motivation.";
      nestedTypes.elemType = elemType;
    };

    uniq = unique { message = ""; };

    unique = { message }: type: mkOptionType {
      name = "unique";
      inherit (type) description descriptionClass check emptyValue getSubOptions getSubModules;
      merge = mergeUniqueOption { inherit message; inherit (type) merge; };
      substSubModules = m: uniq (type.substSubModules m);
      functor = elemTypeFunctor "unique" { elemType = type; } // {
        type = payload: unique { inherit message; } payload.elemType;
      };
      nestedTypes.elemType = type;
    };

    nullOr = elemType: rec {
      _type = "option-type";
      deprecationMessage = null;
      typeMerge = defaultTypeMerge functor;
     
      name = "nullOr";
      description = "null or ${optionDescriptionPhrase isNounOrConjunction elemType}";
      descriptionClass = "conjunction";
      check = x: x == null || elemType.check x;
      merge = loc: defs:
        let nrNulls = lib.lists.count (def: def.value == null) defs; in
        if nrNulls == length defs then null
        else if nrNulls != 0 then
          throw "The option `${showOption loc}` is defined both null and not null, in ${showFiles (getFiles defs)}."
        else elemType.merge loc defs;
      emptyValue = { value = null; };
      getSubOptions = elemType.getSubOptions;
      getSubModules = elemType.getSubModules;
      substSubModules = m: nullOr (elemType.substSubModules m);
      functor = elemTypeFunctor "nullOr" { inherit elemType; };
      nestedTypes.elemType = elemType;
    };

    functionTo = elemType: mkOptionType {
      name = "functionTo";
      description = "function that evaluates to a(n) ${optionDescriptionPhrase isNounOrComposite elemType}";
      descriptionClass = "composite";
      check = isFunction;
      merge = loc: defs: {
        __functionArgs = zipAttrsWith (_: all (x: x)) (map (fn: builtins.functionArgs fn.value) defs);
        __functor = _: callerArgs:
          (mergeDefinitions (loc ++ [ "<function body>" ]) elemType
            (map (fn: { inherit (fn) file; value = fn.value callerArgs; }) defs)).mergedValue;
      };
      getSubOptions = prefix: elemType.getSubOptions (prefix ++ [ "<function body>" ]);
      getSubModules = elemType.getSubModules;
      substSubModules = m: functionTo (elemType.substSubModules m);
      functor = elemTypeFunctor "functionTo" { inherit elemType; };
      nestedTypes.elemType = elemType;
    };

    submodule = modules: submoduleWith {
      shorthandOnlyDefinesConfig = true;
      modules = lib.toList modules;
    };

    deferredModule = deferredModuleWith { };

    deferredModuleWith = attrs@{ staticModules ? [ ] }: mkOptionType {
      name = "deferredModule";
      description = "module";
      descriptionClass = "noun";
      check = x: isAttrs x || isFunction x || path.check x;
      merge = loc: defs: {
        imports = staticModules ++ map (def:
          lib.modules.setDefaultModuleLocation "${def.file}, via option ${showOption loc}" def.value) defs;
      };
      inherit (submoduleWith { modules = staticModules; }) getSubOptions getSubModules;
      substSubModules = m: deferredModuleWith (attrs // { staticModules = m; });
      functor = defaultFunctor "deferredModuleWith" // {
        type = deferredModuleWith;
        payload = { inherit staticModules; };
        binOp = lhs: rhs: { staticModules = lhs.staticModules ++ rhs.staticModules; };
      };
    };

    optionType = mkOptionType {
      name = "optionType";
      description = "optionType";
      descriptionClass = "noun";
      check = value: value._type or null == "option-type";
      merge = loc: defs:
        if length defs == 1 then (head defs).value
        else
          let
            optionModules = map ({ value, file }: { _file = file; options = lib.mkOption { type = value; }; }) defs;
          in
          (lib.modules.fixupOptionType loc (lib.modules.mergeOptionDecls loc optionModules)).type;
    };

    submoduleWith = {
      modules,
      specialArgs ? { },
      shorthandOnlyDefinesConfig ? false,
      description ? null,
      class ? null,
    }@attrs:
      let
        # the `description` argument, reachable from inside the rec set
        # below, whose own `description` attribute would shadow it
        descriptionArg = description;
        nameDefault = nameDefaultModule;
        nModules = length modules;
        # The type's own modules, with attribute-set modules that were
        # located by their declaration (the usual `types.submodule { ... }`)
        # loaded once per type instead of once per value. Keys are the ones
        # they get at their position in every evaluation below.
        preparedModules = genList (i:
          let
            m = elemAt modules i;
            key = ":anon-${toString (i + 2)}";
            c = head m.imports;
          in
          if isAttrs m && m ? __locatedModule && tail m.imports == [ ] && isAttrs c && !(c ? _type) && !(c ? __canonicalModule)
          then canonicalModule m._file key [
            (lib.modules.unifyModuleSyntax m._file "${key}:anon-1" c // { __canonicalModule = true; })
          ] { }
          else m) nModules;
        # How collectModules would expand each prepared module (a root and
        # the children it imports), when that is known without evaluating
        # anything but the module functions: { root; children (null: one
        # function child, loaded per value); f; file; childKey; }, or null.
        fastInfo = map (m:
          let childKey = "${m.key or ""}:anon-1"; in
          if !(isAttrs m) then null
          else if m ? __canonicalModule then
            if m.imports == [ ] then { root = m; children = [ ]; }
            else
              let c = head m.imports; in
              if tail m.imports == [ ] && isAttrs c && c ? __canonicalModule && c.imports == [ ]
                && c.disabledModules == [ ] && c.key == childKey
              then { root = m; children = [ (if class == null then c else lib.modules.checkModuleClass class c) ]; }
              else null
          else null) preparedModules;
        # located module functions (`types.submodule ({ name, ... }: ...)`)
        fastInfo' = genList (i:
          let
            m = elemAt modules i;
            info = elemAt fastInfo i;
            key = ":anon-${toString (i + 2)}";
          in
          if info != null then info
          else if isAttrs m && m ? __locatedModule && tail m.imports == [ ] && isFunction (head m.imports) then {
            root = canonicalModule m._file key m.imports { };
            children = null;
            f = head m.imports;
            file = m._file;
            childKey = "${key}:anon-1";
          }
          else null) nModules;
        fastOk = all (info: info != null) fastInfo';
        fastRoots = map (info: info.root) fastInfo';
        fastCollect = nameMod: defMods: internalModule: args:
          let
            loaded = map (info:
              if info.children != null then info.children
              else
                let
                  c = lib.modules.unifyModuleSyntax info.file info.childKey
                    (lib.modules.applyModuleArgs info.childKey info.f args);
                in
                [ (if class == null then c else lib.modules.checkModuleClass class c) ]) fastInfo';
            dynamicOk = all (x: x) (genList (i:
              let info = elemAt fastInfo' i; in
              info.children != null || (let c = head (elemAt loaded i); in
                c.imports == [ ] && c.disabledModules == [ ] && c.key == info.childKey)) nModules);
          in
          if dynamicOk then [ nameMod ] ++ fastRoots ++ defMods ++ [ internalModule ] ++ concatLists loaded
          else null;
        base = lib.modules.evalModules {
          inherit class specialArgs;
          modules = [ nameDefault ] ++ modules;
        };
        freeformType = base._module.freeformType;
        docsEval = prefix: lib.modules.evalModules {
          inherit class specialArgs prefix;
          modules = [ nameDefault ] ++ modules ++ [ noCheckForDocsModule ];
        };
      in
      rec {
        _type = "option-type";
        deprecationMessage = null;
        typeMerge = defaultTypeMerge functor;
        descriptionClass = null;
        name = "submodule";
        description =
          if descriptionArg != null then descriptionArg
          else (docsEval [ ])._module.freeformType.description or "submodule";
        check = x: isAttrs x || isFunction x || path.check x;
        merge = loc: defs:
          let
            nameMod = canonicalModule unknownFile ":anon-1" [ ] { _module.args.name = lib.last loc; };
            defMods = genList (i:
              let
                def = elemAt defs i;
                value = def.value;
                key = ":anon-${toString (nModules + 3 + i)}";
              in
              if isAttrs value && shorthandOnlyDefinesConfig
              then canonicalModule def.file key [ ] value
              else canonicalModule def.file key [ value ] { }) (length defs);
          in
          (lib.modules.evalModulesWith
            (if fastOk && shorthandOnlyDefinesConfig == true && all (def: isAttrs def.value) defs
             then fastCollect nameMod defMods else null) {
            inherit class specialArgs;
            prefix = loc;
            # generated modules are built in canonical form with the keys
            # they would get from their position (":anon-N")
            # (the `name` definition takes the place of the "‹name›"
            # default, which it would override anyway)
            modules = [ nameMod ] ++ preparedModules ++ defMods;
          }).config;
        emptyValue = { value = { }; };
        getSubOptions = prefix:
          let
            e = docsEval prefix;
            ff = e._module.freeformType;
          in
          e.options // lib.optionalAttrs (ff != null) { _freeformOptions = ff.getSubOptions prefix; };
        getSubModules = modules;
        substSubModules = m: submoduleWith (attrs // { modules = m; });
        nestedTypes = lib.optionalAttrs (freeformType != null) { inherit freeformType; };
        functor = defaultFunctor "submodule" // {
          type = submoduleWith;
          payload = { inherit modules class specialArgs shorthandOnlyDefinesConfig description; };
          binOp = lhs: rhs: {
            class =
              if lhs.class or null == null then rhs.class or null
              else if rhs.class or null == null then lhs.class or null
              else if lhs.class or null == rhs.class then lhs.class or null
              else throw "A submoduleWith option is declared multiple times with conflicting class values \"${toString lhs.class}\" and \"${toString rhs.class}\".";
            modules = lhs.modules ++ rhs.modules;
            specialArgs =
              let intersecting = builtins.intersectAttrs lhs.specialArgs rhs.specialArgs; in
              if intersecting == { } then lhs.specialArgs // rhs.specialArgs
              else throw "A submoduleWith option is declared multiple times with the same specialArgs \"${toString (attrNames intersecting)}\"";
            shorthandOnlyDefinesConfig =
              if lhs.shorthandOnlyDefinesConfig == null then rhs.shorthandOnlyDefinesConfig
              else if rhs.shorthandOnlyDefinesConfig == null then lhs.shorthandOnlyDefinesConfig
              else if lhs.shorthandOnlyDefinesConfig == rhs.shorthandOnlyDefinesConfig then lhs.shorthandOnlyDefinesConfig
              else throw "A submoduleWith option is declared multiple times with conflicting shorthandOnlyDefinesConfig values";
            description =
              if lhs.description == null then rhs.description
              else if rhs.description == null then lhs.description
              else if lhs.description == rhs.description then lhs.description
              else throw "A submoduleWith option is declared multiple times with conflicting descriptions";
          };
        };
      };

    enum = values:
      let
        show = v:
          if isString v then ''"${v}"''
          else if isInt v then toString v
          else if isBool v then lib.boolToString v
          else "<${builtins.typeOf v}>";
      in
      rec {
        _type = "option-type";
        deprecationMessage = null;
        typeMerge = defaultTypeMerge functor;
        emptyValue = { };
        getSubOptions = noSubOptions;
        getSubModules = null;
        substSubModules = noSubst;
        nestedTypes = { };
        name = "enum";
        description =
          if values == [ ] then "impossible (empty enum)"
          else if length values == 1 then "value ${show (head values)} (singular enum)"
          else "one of ${concatStringsSep ", " (map show values)}";
        descriptionClass = if length values < 2 then "noun" else "conjunction";
        check = x: elem x values;
        merge = mergeEqualOption;
        functor = defaultFunctor "enum" // {
          payload = { inherit values; };
          type = payload: enum payload.values;
          binOp = a: b: { values = lib.unique (a.values ++ b.values); };
        };
      };

    either = t1: t2: rec {
      _type = "option-type";
      deprecationMessage = null;
      emptyValue = { };
      getSubOptions = noSubOptions;
      getSubModules = null;
      substSubModules = noSubst;
     
      name = "either";
      description =
        if t1.descriptionClass or null == "nonRestrictiveClause"
        then "${t1.description}, or ${optionDescriptionPhrase isNounOrConjunction t2}"
        else "${optionDescriptionPhrase isNounOrConjunction t1} or ${
          optionDescriptionPhrase (c: c == "noun" || c == "conjunction" || c == "composite") t2}";
      descriptionClass = "conjunction";
      check = x: t1.check x || t2.check x;
      merge = loc: defs:
        if all (def: t1.check def.value) defs then t1.merge loc defs
        else if all (def: t2.check def.value) defs then t2.merge loc defs
        else mergeOneOption loc defs;
      typeMerge = f':
        let
          mt1 = t1.typeMerge (elemAt f'.payload.elemType 0).functor;
          mt2 = t2.typeMerge (elemAt f'.payload.elemType 1).functor;
        in
        if name == f'.name && mt1 != null && mt2 != null then either mt1 mt2 else null;
      functor = elemTypeFunctor "either" { elemType = [ t1 t2 ]; };
      nestedTypes.left = t1;
      nestedTypes.right = t2;
    };

    oneOf = ts:
      if ts == [ ] then throw "types.oneOf needs to get at least one type in its argument"
      else foldl' either (head ts) (tail ts);

    coercedTo = coercedType: coerceFunc: finalType:
      assert lib.asserts.assertMsg (coercedType.getSubModules == null)
        "coercedTo: coercedType must not have submodules (it’s a ${coercedType.description})";
      mkOptionType {
        name = "coercedTo";
        description = "${optionDescriptionPhrase (class: class == "noun") finalType} or ${
          optionDescriptionPhrase (class: class == "noun") coercedType} convertible to it";
        check = x: (coercedType.check x && finalType.check (coerceFunc x)) || finalType.check x;
        merge = loc: defs:
          finalType.merge loc (map (def:
            if coercedType.check def.value then def // defWithValue def (coerceFunc def.value) else def) defs);
        emptyValue = finalType.emptyValue;
        getSubOptions = finalType.getSubOptions;
        getSubModules = finalType.getSubModules;
        substSubModules = m: coercedTo coercedType coerceFunc (finalType.substSubModules m);
        typeMerge = t: null;
        functor = defaultFunctor "coercedTo" // { wrapped = finalType; };
        nestedTypes.coercedType = coercedType;
        nestedTypes.finalType = finalType;
      };

    attrTag = tags: mkOptionType {
      name = "attrTag";
      description = "attribute-tagged union";
      descriptionClass = "noun";
      check = v: isAttrs v && length (attrNames v) == 1 && tags ? ${head (attrNames v)};
      merge = loc: defs:
        let
          choice = head (attrNames (head defs).value);
          checked = map (def:
            if head (attrNames def.value) != choice
            then throw "The option `${showOption loc}` is defined both as `${choice}` and `${head (attrNames def.value)}`, in ${showFiles (getFiles defs)}."
            else defWithValue def def.value.${choice}) defs;
          opt = tags.${choice};
          optFull = opt // { declarations = opt.declarations or [ "<attrTag>" ]; };
        in
        { ${choice} = (lib.modules.evalOptionValue (loc ++ [ choice ]) (optFull // { type = opt.type or unspecified; }) checked).value; };
      nestedTypes = tags;
      functor = defaultFunctor "attrTag" // {
        type = { tags, ... }: attrTag tags;
        payload = { inherit tags; };
        binOp = a: b: { tags = a.tags // b.tags; };
      };
    };

    luaInline = mkOptionType {
      name = "luaInline";
      description = "inline lua";
      descriptionClass = "noun";
      check = x: x._type or null == "lua-inline";
      merge = mergeEqualOption;
    };

    inherit addCheck mkOptionType;
  };

  mergeTypes = a: b:
    assert isOptionType a && isOptionType b;
    let merged = a.typeMerge b.functor; in
    if merged == null then setType "merge-error" { error = "Cannot merge types"; } else merged;
in
types // {
  inherit types isType setType isOptionType defaultTypeMerge defaultFunctor mkOptionType
    optionDescriptionPhrase mergeTypes noCheckForDocsModule;
}
