# The module system: evalModules, properties (mkIf, mkMerge, mkOverride,
# mkOrder), option declaration/definition merging, and the option-renaming
# helper modules. Behaviour follows docs/module-system.md.
{ lib }:
let
  inherit (builtins)
    all any attrNames concatLists concatMap concatStringsSep elem elemAt filter
    foldl' functionArgs genericClosure genList head isAttrs isBool isFunction
    isList isString length map mapAttrs removeAttrs sort substring tail
    toString typeOf zipAttrsWith addErrorContext seq catAttrs;
  inherit (lib.options) showOption showFiles showDefs isOption mkOption;
  inherit (lib.attrsets) setAttrByPath getAttrFromPath attrByPath;
  types = lib.types;

  # Go-native helpers under onix, { } elsewhere (see native.nix).
  native = import ./native.nix;

  # Attribute-set tags that mean "property" at an option: such values are
  # unwrapped by mergeDefinitions; everything else is a plain value.
  propertyTags = { merge = true; "if" = true; override = true; order = true; definition = true; };
  isPlain = native.isPlain or (tags: v: !(isAttrs v && tags ? ${v._type or "-"})) propertyTags;
  # all (def: isPlain def.value) defs
  allPlain = native.allPlain or (tags: all (def: let v = def.value; in !(isAttrs v && tags ? ${v._type or "-"}))) propertyTags;

  defaultOverridePriority = 100;

  # Rebuilding a definition { file; value; } with a new value. Under onix the
  # value attribute keeps the position of the original definition, which
  # error messages print as its line (see showDefs).
  defWithValue = native.defWithValue or (def: value: { inherit (def) file; inherit value; });
  # mapAttrs (n: v: { inherit (def) file; value = v; }) def.value, each
  # keeping the position of its attribute.
  splitDef = native.splitDef or (def: mapAttrs (n: v: { inherit (def) file; value = v; }) def.value);

  # Where an option is declared: { file; line; column; }, line and column
  # null when unknown (the declaration grouping keeps the position of the
  # options attribute under onix).
  declPosition = decl:
    let p = builtins.unsafeGetAttrPos "options" decl; in
    if p != null && p.file == toString decl._file then { file = decl._file; inherit (p) line column; }
    else (declPosition decl);
  defaultOrderPriority = 1000;

  # ---------------------------------------------------------------- loading

  # A module's config with its `meta` and `freeformType` shorthands added.
  addModuleExtras = m: config:
    let withMeta = if m ? meta then mkMerge [ config { meta = m.meta; } ] else config; in
    if m ? freeformType then mkMerge [ withMeta { _module.freeformType = m.freeformType; } ] else withMeta;

  unifyModuleSyntax = file: key: m:
    if m ? config || m ? options then
      let
        badAttrs = removeAttrs m [ "_class" "_file" "key" "disabledModules" "imports" "options" "config" "meta" "freeformType" ];
      in
      if badAttrs != { } then
        throw "Module `${key}' has an unsupported attribute `${head (attrNames badAttrs)}'. This is caused by introducing a top-level `config' or `options' attribute. Add configuration attributes immediately on the top level instead, or move all of them (namely: ${toString (attrNames badAttrs)}) into the explicit `config' attribute."
      else {
        _file = toString m._file or file;
        _class = m._class or null;
        key = toString m.key or key;
        disabledModules = m.disabledModules or [ ];
        imports = m.imports or [ ];
        options = m.options or { };
        config = if m ? meta || m ? freeformType then addModuleExtras m (m.config or { }) else m.config or { };
      }
    else if !isAttrs m then
      throw "module ${file} (${key}) does not look like a module."
    else {
      _file = toString m._file or file;
      _class = m._class or null;
      key = toString m.key or key;
      disabledModules = m.disabledModules or [ ];
      imports = m.require or [ ] ++ m.imports or [ ];
      options = { };
      config =
        let c = removeAttrs m [ "_class" "_file" "key" "disabledModules" "require" "imports" "freeformType" ]; in
        if m ? freeformType then mkMerge [ c { _module.freeformType = m.freeformType; } ] else c;
    };

  # Calls a module function. Only the names among its formals are looked up
  # (lazily) in the base arguments, else in config._module.args.
  applyModuleArgs = key: f: args:
    let
      formals = functionArgs f;
    in
    if formals == { } then f args
    else f (args // mapAttrs (name: _:
      addErrorContext "while evaluating the module argument `${name}' in \"${key}\":"
        (args.${name} or args.config._module.args.${name})) formals);

  loadModule = class: args: fallbackFile: fallbackKey: m:
    if isFunction m then
      unifyModuleSyntax fallbackFile fallbackKey (applyModuleArgs fallbackKey m args)
    else if isAttrs m then
      if m ? __canonicalModule then m
      else if m ? __locatedModule then canonicalModule m._file fallbackKey m.imports { }
      else
      let t = m._type or "module"; in
      if t == "module" then unifyModuleSyntax fallbackFile fallbackKey m
      else if t == "if" || t == "override" then unifyModuleSyntax fallbackFile fallbackKey { config = m; }
      else throw (notAModule fallbackFile m class)
    else if isList m then
      throw "Module imports can't be nested lists. Perhaps you meant to remove one level of lists? Definitions:${showDefs [ { file = fallbackFile; value = m; } ]}"
    else
      let
        file = toString m;
        imported = import m;
      in
      unifyModuleSyntax file file (if isFunction imported then applyModuleArgs file imported args else imported);

  notAModule = fallbackFile: value: expectedClass:
    let
      loc = if value ? _file then value._file else fallbackFile;
      t = value._type;
    in
    "Expected a module, but found a value of type \u001b[1m${lib.strings.escapeNixString t}\u001b[0m"
    + ", while trying to load a module into \u001b[1m${toString loc}\u001b[0m."
    + (if t == "configuration" then
        "\nIf you really mean to import this configuration, instead please only import the modules that make up the configuration.\nYou may have to create a `let` binding, file or attribute to give yourself access to the relevant modules.\nWhile loading a configuration into the module system is a very sensible idea, it can not be done cleanly in practice."
      else if t == "flake" then
        "\nYou may have imported a flake instead of a module. Did you mean to import one of the flake's modules?"
      else "");

  checkModuleClass = class: m:
    if class == null || m._class == null || m._class == class then m
    else throw ''
      The module `${m._file or m.key}` (class: ${lib.strings.escapeNixString m._class}) cannot be imported into a module evaluation that expects class ${lib.strings.escapeNixString class}.

      Help:
      - Ensure that you are importing the correct module.
      - Verify that the module's `_class`, ${lib.strings.escapeNixString m._class} matches the expected `class` ${lib.strings.escapeNixString class}.
      - If you are using a custom class, make sure it is correctly defined and used consistently across your modules.
    '';

  # Collects all modules reachable through imports: a tree of nodes
  # { key; module; children; } walked breadth-first with genericClosure,
  # first occurrence of every key wins. disabledModules (gathered from the
  # whole tree, including disabled modules) remove keys.
  collectModules = class: modulesPath: initialModules: args:
    let
      load = loadModule class args;
      mkNodes = parentFile: parentKey: items:
        genList (i:
          let
            loaded = load parentFile "${parentKey}:anon-${toString (i + 1)}" (elemAt items i);
            module = if class == null then loaded else checkModuleClass class loaded;
          in {
            key = module.key;
            inherit module;
            children = if module.imports == [ ] then [ ] else mkNodes module._file module.key module.imports;
          }) (length items);
      roots = mkNodes unknownModule "" initialModules;
      closure = genericClosure { startSet = roots; operator = n: n.children; };
      anyDisabled = concatLists (catAttrs "disabledModules" (catAttrs "module" closure)) != [ ];

      # every node of the tree, duplicates included (disabledModules of a
      # module count even when the module itself is disabled)
      allDisabled = nodes: concatMap (n:
        map (moduleKey n.module._file) n.module.disabledModules ++ allDisabled n.children) nodes;
      moduleKey = file: m:
        if isString m then
          if substring 0 1 m == "/" then m else toString modulesPath + "/" + m
        else if lib.strings.isConvertibleWithToString m then
          if m ? key && m.key != toString m then
            throw "Module `${file}` contains a disabledModules item that is an attribute set that can be converted to a string (${toString m}) but also has a `.key` attribute (${m.key}) with a different value. This makes it ambiguous which module should be disabled."
          else toString m
        else if m ? key then m.key
        else if isAttrs m then
          throw "Module `${file}` contains a disabledModules item that is an attribute set, presumably a module, that does not have a `key` attribute. This means that the module system doesn't have any means to identify the module that should be disabled. Make sure that you've put the correct value in disabledModules: a string path relative to modulesPath, a path value, or an attribute set with a `key` attribute."
        else
          throw "Each disabledModules item must be a path, string, or a attribute set with a key attribute, or a value supported by toString. However, one of the disabledModules items in `${toString file}` is none of that, but is of type ${typeOf m}.";
      disabledSet = lib.genAttrs (allDisabled roots) (_: true);
      keep = filter (n: !(disabledSet ? ${n.key}));
      filtered = genericClosure { startSet = keep roots; operator = n: keep n.children; };
    in
    catAttrs "module" (if anyDisabled then filtered else closure);

  unknownModule = "<unknown-file>";

  # A module already in canonical form (generated by the module system
  # itself): loading it is free.
  canonicalModule = file: key: imports: config: {
    __canonicalModule = true;
    _file = file;
    inherit key imports config;
    _class = null;
    disabledModules = [ ];
    options = { };
  };

  setDefaultModuleLocation = file: m: { _file = file; imports = [ m ]; };

  # Internal variant of setDefaultModuleLocation that the loader turns into
  # a canonical module without going through unifyModuleSyntax.
  locatedModule = file: m: { __locatedModule = true; _file = file; imports = [ m ]; };

  # ------------------------------------------------------------ properties

  pushDownProperties = cfg:
    let t = cfg._type or ""; in
    if t == "merge" then concatMap pushDownProperties cfg.contents
    else if t == "if" then
      let condition = cfg.condition; content = cfg.content; in
      if isPlain content then [ (mapAttrs (n: content: { _type = "if"; inherit condition content; }) content) ]
      else map (mapAttrs (n: content: { _type = "if"; inherit condition content; })) (pushDownProperties content)
    else if t == "override" then
      let priority = cfg.priority; in
      map (mapAttrs (n: content: { _type = "override"; inherit priority content; })) (pushDownProperties cfg.content)
    else [ cfg ];

  dischargeProperties = def:
    let t = def._type or ""; in
    if t == "merge" then concatMap dischargeProperties def.contents
    else if t == "if" then
      if isBool def.condition then
        if def.condition then dischargeProperties def.content else [ ]
      else throw "‘mkIf’ called with a non-Boolean condition"
    else [ def ];

  filterOverrides' = native.filterOverrides or (defs:
    let
      getPrio = def: if def.value._type or "" == "override" then def.value.priority else defaultOverridePriority;
      highestPrio = foldl' (prio: def: let p = getPrio def; in if p < prio then p else prio) 9999 defs;
    in {
      values = concatMap (def:
        if def.value._type or "" == "override" then
          (if def.value.priority == highestPrio then [ (def // { value = def.value.content; }) ] else [ ])
        else if highestPrio == defaultOverridePriority then [ def ] else [ ]) defs;
      inherit highestPrio;
    });
  filterOverrides = defs: (filterOverrides' defs).values;

  sortProperties = defs:
    let
      strip = def:
        if def.value._type or "" == "order"
        then def // defWithValue def def.value.content // { inherit (def.value) priority; }
        else def;
    in
    sort (a: b: (a.priority or defaultOrderPriority) < (b.priority or defaultOrderPriority)) (map strip defs);

  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkAssert = assertion: message: content:
    mkIf (if assertion then true else throw "\nFailed assertion: ${message}") content;
  mkMerge = contents: { _type = "merge"; inherit contents; };
  mkDefinition = args@{ file, value, ... }: args // { _type = "definition"; };
  mkOverride = priority: content: { _type = "override"; inherit priority content; };
  mkOptionDefault = mkOverride 1500;
  mkDefault = mkOverride 1000;
  mkImageMediaOverride = mkOverride 60;
  mkForce = mkOverride 50;
  mkVMOverride = mkOverride 10;
  mkOrder = priority: content: { _type = "order"; inherit priority content; };
  mkBefore = mkOrder 500;
  mkAfter = mkOrder 1500;

  # ----------------------------------------------------- merging definitions

  typeError = loc: type: defs:
    throw "A definition for option `${showOption loc}' is not of type `${type.description}'. Definition values:${showDefs (filter (def: !type.check def.value) defs)}";
  noValueError = loc:
    throw "The option `${showOption loc}' was accessed but has no value defined. Try setting the option.";

  # Type-checks and merges surviving definitions (non-empty list).
  checkAndMerge = loc: type: defs:
    if all (def: type.check def.value) defs then type.merge loc defs
    else typeError loc type defs;

  # Definitions without properties all survive unchanged (priority `prio`).
  mergePlain = loc: type: prio: defs: {
    defsFinal = defs;
    highestPrio = prio;
    isDefined = true;
    mergedValue = checkAndMerge loc type defs;
  };

  isPlainOrOverride = v: !(isAttrs v) || (let t = v._type or "-"; in t == "override" || !(propertyTags ? ${t}));

  # Sorts the survivors of priority filtering and merges them.
  finishFiltered = loc: type: filtered:
    let
      defsFinal =
        if any (def: def.value._type or "" == "order") filtered.values
        then sortProperties filtered.values
        else filtered.values;
      isDefined = defsFinal != [ ];
    in {
      inherit defsFinal isDefined;
      inherit (filtered) highestPrio;
      mergedValue = if isDefined then checkAndMerge loc type defsFinal else noValueError loc;
    };

  # The general case: discharge mkMerge/mkIf, keep the highest priority,
  # sort by mkOrder.
  mergeWithProperties = loc: type: defs:
    let
      discharged = concatMap (def:
        let v = def.value; t = v._type or ""; in
        if t == "merge" || t == "if" then
          map (value: if value._type or null == "definition" then value else defWithValue def value)
            (addErrorContext "while evaluating definitions from `${def.file}':" (dischargeProperties v))
        else if t == "definition" then [ v ]
        else [ def ]) defs;
    in
    finishFiltered loc type (filterOverrides' discharged);

  # Merges the definitions ({ file; value; }) of one value of type `type`.
  # Returns { defsFinal; defsFinal'; highestPrio; isDefined; mergedValue; optionalValue; }.
  mergeDefinitions = loc: type: defs:
    let
      r =
        if defs == [ ] then { defsFinal = [ ]; highestPrio = 9999; isDefined = false; mergedValue = noValueError loc; }
        else if allPlain defs then mergePlain loc type defaultOverridePriority defs
        else mergeWithProperties loc type defs;
    in
    r // {
      defsFinal' = { values = r.defsFinal; inherit (r) highestPrio; };
      optionalValue = if r.isDefined then { value = r.mergedValue; } else { };
    };

  # ---------------------------------------------------- merging declarations

  declaredTwice = loc: file: declarations:
    throw "The option `${showOption loc}' in `${file}' is already declared in ${showFiles declarations}.";

  # Folds the declarations ({ _file; options = <mkOption set>; }) of one
  # option into one, in the given order.
  mergeOptionDecls = loc: decls:
    foldl' (res: decl:
      let
        o = decl.options;
        bothHave = k: o ? ${k} && res ? ${k};
        typeSet =
          if !(o ? type) then { }
          else if !(res ? type) then { type = o.type; }
          else
            let merged = res.type.typeMerge o.type.functor; in
            if merged == null then declaredTwice loc decl._file res.declarations
            else { type = merged; };
        subModules = o.type.getSubModules or null;
      in
      if bothHave "default" || bothHave "example" || bothHave "description" || bothHave "apply" then
        declaredTwice loc decl._file res.declarations
      else
        o // res // {
          declarations = res.declarations ++ [ decl._file ];
          declarationPositions = res.declarationPositions ++ [ (declPosition decl) ];
          options =
            if subModules != null
            then map (locatedModule decl._file) subModules ++ res.options
            else res.options;
        } // typeSet
    ) { inherit loc; declarations = [ ]; declarationPositions = [ ]; options = [ ]; } decls;

  fixupOptionType = loc: opt:
    if opt.type.getSubModules or null == null
    then opt // { type = opt.type or types.unspecified; }
    else opt // { type = opt.type.substSubModules opt.options; options = [ ]; };

  # The merged declaration record of an option.
  optionDecl = loc: decls:
    if length decls == 1 then
      let decl = head decls; in
      decl.options // {
        inherit loc;
        declarations = [ decl._file ];
        declarationPositions = [ (declPosition decl) ];
        options = [ ];
        type = singleDeclType decl;
      }
    else fixupOptionType loc (mergeOptionDecls loc decls);

  # The type of a singly declared option; submodule types get their modules
  # located at the declaring file.
  singleDeclType = decl:
    let
      t = decl.options.type or types.unspecified;
      subModules = t.getSubModules or null;
    in
    if subModules == null then t
    else t.substSubModules (map (locatedModule decl._file) subModules);

  # Evaluates one option: { config = value; options = option record; }.
  #   o: the declaration attributes (default, apply, readOnly) -- for a
  #      single declaration the raw mkOption set, else the merged record
  #   declFile: first declaring file; type: the (fixed-up) option type
  #   record: the merged declaration record (only forced for `options`)
  evalOptionResult = loc: o: declFile: type: defs:
    let
      hasDefault = o ? default;
      defaultDef = { file = declFile; value = mkOptionDefault o.default; };
      res =
        if o.readOnly or false && length defs + (if hasDefault then 1 else 0) > 1 then
          let defs' = (if hasDefault then [ defaultDef ] else [ ]) ++ defs; in
          throw "The option `${showOption loc}' is read-only, but it's set multiple times. Definition values:${
            showDefs (map (def: def // defWithValue def (mergeDefinitions loc type [ def ]).mergedValue) defs')}"
        else if defs == [ ] then
          if !hasDefault then { defsFinal = [ ]; highestPrio = 9999; isDefined = false; mergedValue = noValueError loc; }
          else if isPlain o.default then mergePlain loc type 1500 [ { file = declFile; value = o.default; } ]
          else mergeWithProperties loc type [ defaultDef ]
        else if allPlain defs then mergePlain loc type defaultOverridePriority defs
        else if all (def: isPlainOrOverride def.value) defs then
          # only mkOverride wrappers: no discharging needed; the default
          # matters only if nothing beats priority 1500
          let filtered = filterOverrides' defs; in
          if hasDefault && filtered.highestPrio >= 1500
          then mergeWithProperties loc type ([ defaultDef ] ++ defs)
          else finishFiltered loc type filtered
        else mergeWithProperties loc type (if hasDefault then [ defaultDef ] ++ defs else defs);
    in
    res;

  evalOptionWith = loc: o: declFile: type: record: defs:
    let
      res = evalOptionResult loc o declFile type defs;
      value = if o ? apply then o.apply res.mergedValue else res.mergedValue;
    in {
      config = value;
      options = record // {
        inherit value;
        inherit (res) highestPrio isDefined;
        definitions = map (def: def.value) res.defsFinal;
        files = map (def: def.file) res.defsFinal;
        definitionsWithLocations = res.defsFinal;
        __toString = _: showOption loc;
      };
    };

  evalOption = loc: opt: evalOptionWith loc opt (head opt.declarations) opt.type opt;

  evalOptionValue = loc: opt: defs: (evalOption loc opt defs).options;

  declarationTypeError = loc: actualTag: file:
    let
      name = lib.strings.escapeNixIdentifier (lib.lists.last loc);
      comment = if length loc > 1 then "\n    # ${showOption loc}" else "";
    in
    throw (concatStringsSep "\n\n" ([
      "In module ${file}: expected an option declaration at option path `${showOption loc}` but got an attribute set with type ${actualTag}"
    ] ++ lib.optional (actualTag == "option-type") ''
      When declaring an option, you must wrap the type in a `mkOption` call. It should look somewhat like:
          ${comment}
          ${name} = lib.mkOption {
            description = ...;
            type = <the type you wrote for ${name}>;
            ...
          };
    ''));

  showRawDecls = loc: decls:
    concatStringsSep "\n" (sort (a: b: a < b) (concatMap (decl:
      map (p: " - option(s) with prefix `${showOption (loc ++ [ p ])}' in module `${decl._file}'") (attrNames decl.options)) decls));

  # An option-tree declaration below a submodule option becomes an extra
  # module of that submodule.
  optionTreeToOption = decl:
    if isOption decl.options then decl
    else decl // {
      options = mkOption {
        type = types.submoduleWith {
          modules = [ { options = decl.options; } ];
          shorthandOnlyDefinesConfig = null;
        };
      };
    };

  # One level of the option tree.
  #   decls: [ { _file; options = <attrset of declarations>; } ]
  #   defs:  [ { file; value = <attrset of definitions, properties pushed down>; } ]
  # Returns { options; config; unmatched; }.
  mergeLevel = prefix: decls: mergeLevelWith prefix (
      if native ? groupByName then
        native.groupByName "_file" "options" (decl: declarationShapeError prefix decl.options) decls
      else if tail decls == [ ] then
        let decl = head decls; o = decl.options; in
        if isAttrs o then mapAttrs (n: opt: [ { inherit (decl) _file; options = opt; } ]) o
        else declarationShapeError prefix o
      else zipAttrsWith (n: v: v) (map (decl:
        let o = decl.options; in
        if isAttrs o then mapAttrs (n: opt: { inherit (decl) _file; options = opt; }) o
        else throw ''
          An option declaration for `${concatStringsSep "." prefix}' has type
          `${typeOf o}' rather than an attribute set.
          Did you mean to define this outside of `options'?
        '') decls));

  declarationShapeError = prefix: o: throw ''
    An option declaration for `${concatStringsSep "." prefix}' has type
    `${typeOf o}' rather than an attribute set.
    Did you mean to define this outside of `options'?
  '';

  definitionShapeError = prefix: def: throw ''
    In module `${def.file}', you're trying to define a value of type `${typeOf def.value}'
    rather than an attribute set for the option
    `${concatStringsSep "." prefix}'!

    This usually happens if `${concatStringsSep "." prefix}' has option
    definitions inside that are not matched. Please check how to properly define
    this option by e.g. referring to `man 5 configuration.nix'!
  '';

  # mergeLevel with the declarations already grouped by name.
  mergeLevelWith = prefix: declsByName: defs:
    let

      defsByName =
        if defs == [ ] then { }
        else if native ? groupByName then native.groupByName "file" "value" (definitionShapeError prefix) defs
        else if tail defs == [ ] then
          let def = head defs; c = def.value; in
          if isAttrs c then mapAttrs (n: value: [ { inherit (def) file; inherit value; } ]) c
          else definitionShapeError prefix def
        else zipAttrsWith (n: v: v) (map (def:
          let c = def.value; in
          if isAttrs c then mapAttrs (n: value: { inherit (def) file; inherit value; }) c
          else definitionShapeError prefix def) defs);

      pushDown = defs:
        if allPlain defs then defs
        else concatMap (def:
        let v = def.value; in
        if isPlain v then [ def ]
        else map (value: { inherit (def) file; inherit value; }) (pushDownProperties v)) defs;

      results = mapAttrs (name: ds:
        let decl = head ds; in
        if tail ds == [ ] && decl.options._type or null == "option" then
          # a singly declared option (the common case of evalOptionWith,
          # with fewer intermediate values)
          let
            loc = prefix ++ [ name ];
            rawDefs = defsByName.${name} or [ ];
            o = decl.options;
            type =
              let t = o.type or types.unspecified; subModules = t.getSubModules or null; in
              if subModules == null then t
              else t.substSubModules (map (locatedModule decl._file) subModules);
            res =
              if rawDefs == [ ] then
                if !(o ? default) then { defsFinal = [ ]; highestPrio = 9999; isDefined = false; mergedValue = noValueError loc; }
                else if o.readOnly or false || !(isPlain o.default) then evalOptionResult loc o decl._file type rawDefs
                else
                  let defs = [ { file = decl._file; value = o.default; } ]; in {
                    defsFinal = defs;
                    highestPrio = 1500;
                    isDefined = true;
                    mergedValue =
                      if type.check o.default then type.merge loc defs else typeError loc type defs;
                  }
              else if allPlain rawDefs
                && !(o.readOnly or false && (o ? default || tail rawDefs != [ ])) then {
                defsFinal = rawDefs;
                highestPrio = defaultOverridePriority;
                isDefined = true;
                mergedValue =
                  if all (def: type.check def.value) rawDefs then type.merge loc rawDefs
                  else typeError loc type rawDefs;
              }
              else evalOptionResult loc o decl._file type rawDefs;
            value = if o ? apply then o.apply res.mergedValue else res.mergedValue;
          in {
            config = value;
            options = o // {
              inherit loc type value;
              declarations = [ decl._file ];
              declarationPositions = [ (declPosition decl) ];
              options = [ ];
              inherit (res) highestPrio isDefined;
              definitions = map (def: def.value) res.defsFinal;
              files = map (def: def.file) res.defsFinal;
              definitionsWithLocations = res.defsFinal;
              __toString = _: showOption loc;
            };
          }
        else if tail ds == [ ] && name != "_module" && !(decl.options ? _type) then
          # a single option tree: one level down
          mergeLevel (prefix ++ [ name ]) ds (pushDown (defsByName.${name} or [ ]))
        else if name == "_module" && tail ds == [ ] && decl._file == "lib/modules.nix" then
          # only the internal module declares _module.*: its declarations
          # are grouped once per lib
          mergeLevelWith (prefix ++ [ name ])
            (if prefix == [ ] then internalDeclsTop else internalDeclsSub)
            (pushDown (defsByName.${name} or [ ]))
        else
          let
            loc = prefix ++ [ name ];
            rawDefs = defsByName.${name} or [ ];
            optionDecls = filter (d:
              d.options ? _type && (d.options._type == "option" || declarationTypeError loc d.options._type d._file)) ds;
            nOptions = length optionDecls;
          in
          if nOptions == length ds then evalOption loc (optionDecl loc ds) rawDefs
          else if nOptions != 0 then
            if all (d: d.options.type.name or null == "submodule") optionDecls then
              evalOption loc (fixupOptionType loc (mergeOptionDecls loc (map optionTreeToOption ds))) rawDefs
            else
              throw "The option `${showOption loc}' in module `${(head optionDecls)._file}' would be a parent of the following options, but its type `${(head optionDecls).options.type.description or "<no description>"}' does not support nested options.\n${showRawDecls loc (filter (d: !isOption d.options) ds)}"
          else mergeLevel loc ds (pushDown rawDefs)
      ) declsByName;
    in {
      options = mapAttrs (n: r: r.options) results;
      config = mapAttrs (n: r: r.config) results;
      unmatched =
        if defs == [ ] then [ ]
        else if native ? collectUnmatched then native.collectUnmatched results defsByName
        else concatMap (name:
          if results ? ${name} then
            let r = results.${name}; in
            if r ? unmatched then map (d: d // { prefix = [ name ] ++ d.prefix; }) r.unmatched else [ ]
          else map (d: d // { prefix = [ name ]; }) defsByName.${name}
        ) (attrNames defsByName);
    };

  mergeModules = prefix: modules:
    let
      r = mergeLevel prefix modules (concatMap (m:
        let c = m.config; in
        if !(isAttrs c && propertyTags ? ${c._type or "-"}) then [ { file = m._file; value = c; } ]
        else map (value: { file = m._file; inherit value; }) (pushDownProperties c)) modules);
    in {
      matchedOptions = r.options;
      unmatchedDefns = r.unmatched;
      inherit (r) config;
    };

  # ----------------------------------------------------------- evalModules

  internalOptionsFor = internal:
    {
      _module.args = mkOption ({
        type = types.lazyAttrsOf types.raw;
        description = "Additional arguments passed to each module in addition to ones like `lib`, `config`, and `pkgs`, `modulesPath`.";
      } // (if internal then { internal = true; } else { }));
      _module.check = mkOption {
        type = types.bool;
        internal = true;
        default = true;
        description = "Whether to check whether all option definitions have matching declarations.";
      };
      _module.freeformType = mkOption {
        type = types.nullOr types.optionType;
        internal = true;
        default = null;
        description = "If set, merge all definitions that don't have an associated option together using this type.";
      };
      _module.specialArgs = mkOption {
        readOnly = true;
        internal = true;
        description = "Externally provided module arguments that can't be modified from within a configuration, but can be used in module imports.";
      };
    };
  internalOptionsTop = internalOptionsFor false;
  internalOptionsSub = internalOptionsFor true;
  internalDeclsFor = options: mapAttrs (n: opt: [ { _file = "lib/modules.nix"; options = opt; } ]) options._module;
  internalDeclsTop = internalDeclsFor internalOptionsTop;
  internalDeclsSub = internalDeclsFor internalOptionsSub;

  evalModules = evalModulesArgs: (evalModulesImpl evalModulesArgs).result;

  # Returns { result; config; }: `config` is result.config without building
  # the whole result (what submodules need).
  evalModulesImpl = evalModulesWith null;

  # evalModulesImpl with an optional fast collector (submodule values):
  # `fastCollect internalModule moduleArgs` returns the list collectModules
  # would return, or null when it can't tell (then the general path runs).
  evalModulesWith = fastCollect: evalModulesArgs@{
    modules,
    prefix ? [ ],
    specialArgs ? { },
    class ? null,
    args ? { },
    check ? true,
  }:
    let
      legacyModules =
        if !(evalModulesArgs ? args || evalModulesArgs ? check) then [ ]
        else lib.optional (evalModulesArgs ? args) { config._module.args = args; }
          ++ lib.optional (evalModulesArgs ? check) { config._module.check = mkDefault check; };
      regularModules = if legacyModules == [ ] then modules else modules ++ legacyModules;

      internalModule = {
        __canonicalModule = true;
        _file = "lib/modules.nix";
        key = "lib/modules.nix";
        _class = null;
        disabledModules = [ ];
        imports = [ ];
        options = if prefix == [ ] then internalOptionsTop else internalOptionsSub;
        config._module = {
          args = { inherit extendModules; moduleType = type; };
          specialArgs = specialArgs;
        };
      };

      moduleArgs = { inherit lib options config specialArgs; _class = class; } // specialArgs;
      fastCollected = if fastCollect == null then null else fastCollect internalModule moduleArgs;
      collected =
        if fastCollected != null then fastCollected
        else collectModules class (specialArgs.modulesPath or "") (regularModules ++ [ internalModule ]) moduleArgs;

      merged = mergeModules prefix (lib.reverseList collected);
      options = merged.matchedOptions;
      declaredConfig = merged.config;
      freeformType = declaredConfig._module.freeformType;

      config =
        if freeformType == null then declaredConfig
        else
          let
            defs = map (def: defWithValue def (setAttrByPath def.prefix def.value)) merged.unmatchedDefns;
          in
          if defs == [ ] then declaredConfig
          else
            let freeformConfig = freeformType.merge prefix defs; in
            # (disjoint names: recursiveUpdate would give exactly this)
            if builtins.intersectAttrs freeformConfig declaredConfig == { } then freeformConfig // declaredConfig
            else lib.recursiveUpdate freeformConfig declaredConfig;

      checkUnmatched =
        if config._module.check && freeformType == null && merged.unmatchedDefns != [ ] then
          let
            firstDef = head merged.unmatchedDefns;
            optText = showOption (prefix ++ firstDef.prefix);
            baseMsg = "The option `${optText}' does not exist. Definition values:${
              addErrorContext "while evaluating the error message for definitions for `${optText}', which is an option that does not exist"
                (addErrorContext "while evaluating a definition from `${firstDef.file}'" (showDefs [ firstDef ]))}";
            suggestion = didYouMean (prefix ++ firstDef.prefix) options;
          in
          if attrNames options == [ "_module" ] then
            if prefix == [ ] then throw ''
              ${baseMsg}

              It seems as if you're trying to declare an option by placing it into `config' rather than `options'!
            ''
            else throw ''
              ${baseMsg}

              However there are no options defined in `${showOption prefix}'. Are you sure you've
              declared your options properly? This can happen if you e.g. declared your options in `types.submodule'
              under `config' rather than `options'.
            ''
          else throw (baseMsg + suggestion)
        else null;

      checked = seq checkUnmatched;

      extendModules = extendArgs@{ modules ? [ ], specialArgs ? { }, prefix ? [ ] }:
        evalModules (evalModulesArgs // {
          modules = regularModules ++ modules;
          specialArgs = evalModulesArgs.specialArgs or { } // specialArgs;
          prefix = extendArgs.prefix or evalModulesArgs.prefix or [ ];
        });

      type = types.submoduleWith { inherit modules specialArgs class; };

      result = {
        _type = "configuration";
        options = checked options;
        config = checked (removeAttrs config [ "_module" ]);
        _module = checked config._module;
        inherit extendModules type class;
      };
      deprecationWarnings =
        lib.warnIf (evalModulesArgs ? args) "The args argument to evalModules is deprecated. Please set config._module.args instead."
          (lib.warnIf (evalModulesArgs ? check) "The check argument to evalModules is deprecated. Please set config._module.check instead." result);
    in {
      result = if legacyModules == [ ] then result else deprecationWarnings;
      config = checked (removeAttrs config [ "_module" ]);
    };

  # Suggests declared option names close to an undeclared one (an addition
  # over nixpkgs: the message names the nearest sibling options).
  didYouMean = loc: options:
    let
      parentPath = lib.lists.init loc;
      wrong = lib.lists.last loc;
      siblings = attrByPath parentPath { } options;
      candidates = if isAttrs siblings && !(isOption siblings) then attrNames siblings else [ ];
      scored = map (n: { name = n; d = lib.strings.levenshtein n wrong; }) (filter (n: n != "_module") candidates);
      limit = 2 + (lib.strings.stringLength wrong) / 4;
      good = sort (a: b: a.d < b.d || (a.d == b.d && a.name < b.name)) (filter (s: s.d <= limit) scored);
      best = lib.lists.take 3 good;
    in
    if best == [ ] || length candidates > 200 then ""
    else "\n\nDid you mean ${concatStringsSep ", " (map (s: "`${showOption (parentPath ++ [ s.name ])}'") best)}?";

  # -------------------------------------------------- renaming helpers

  mkAliasDefinitions = mkAliasAndWrapDefinitions (x: x);
  mkAliasAndWrapDefinitions = wrap: option: mkAliasIfDef option (wrap (mkMerge option.definitions));
  mkAliasAndWrapDefsWithPriority = wrap: option:
    let
      prio = option.highestPrio or defaultOverridePriority;
      defsWithPrio = map (mkOverride prio) option.definitions;
    in
    mkAliasIfDef option (wrap (mkMerge defsWithPrio));
  mkAliasIfDef = option: mkIf (isOption option && option.isDefined);

  mkRemovedOptionModule = optionName: replacementInstructions: { options, ... }: {
    options = setAttrByPath optionName (mkOption {
      visible = false;
      apply = x: throw "The option `${showOption optionName}' can no longer be used since it's been removed. ${replacementInstructions}";
    });
    config.assertions =
      let opt = getAttrFromPath optionName options; in
      [ {
        assertion = !opt.isDefined;
        message = ''
          The option definition `${showOption optionName}' in ${showFiles opt.files} no longer has any effect; please remove it.
          ${replacementInstructions}
        '';
      } ];
  };

  mkRenamedOptionModule = from: to: doRename {
    inherit from to;
    visible = false;
    warn = true;
    use = builtins.trace "Obsolete option `${showOption from}' is used. It was renamed to `${showOption to}'.";
  };

  mkRenamedOptionModuleWith = { from, to, sinceRelease }: doRename {
    inherit from to;
    visible = false;
    warn = lib.trivial.oldestSupportedReleaseIsAtLeast sinceRelease;
    use = lib.warnIf (lib.trivial.oldestSupportedReleaseIsAtLeast sinceRelease)
      "Obsolete option `${showOption from}' is used. It was renamed to `${showOption to}'.";
  };

  mkMergedOptionModule = from: to: mergeFn: { config, options, ... }: {
    options = foldl' lib.recursiveUpdate { } (map (path: setAttrByPath path (mkOption {
      visible = false;
      default = "_mkMergedOptionModule";
    })) from);
    config = {
      warnings = filter (x: x != "") (map (f:
        let
          val = getAttrFromPath f config;
          opt = getAttrFromPath f options;
        in
        lib.optionalString (val != "_mkMergedOptionModule")
          "The option `${showOption f}' defined in ${showFiles opt.files} has been changed to `${showOption to}' that has a different type. Please read `${showOption to}' documentation and update your configuration accordingly."
      ) from);
    } // setAttrByPath to (mkMerge (lib.optional
      (any (f: getAttrFromPath f config != "_mkMergedOptionModule") from)
      (mergeFn config)));
  };

  mkChangedOptionModule = from: to: changeFn: mkMergedOptionModule [ from ] to changeFn;

  mkAliasOptionModule = from: to: doRename {
    inherit from to;
    visible = true;
    warn = false;
    use = x: x;
  };

  mkDerivedConfig = opt: f: mkOverride (opt.highestPrio or defaultOverridePriority) (f opt.value);

  doRename = { from, to, visible, warn, use, withPriority ? true, condition ? true }:
    { config, options, ... }:
    let
      fromOpt = getAttrFromPath from options;
      toOf = attrByPath to (abort "Renaming error: option `${showOption to}' does not exist.");
      toType = let opt = attrByPath to { } options; in opt.type or (types.submodule { });
    in {
      options = setAttrByPath from (mkOption {
        inherit visible;
        description = "Alias of {option}`${showOption to}`.";
        apply = x: use (toOf config);
      } // lib.optionalAttrs (toType != null) { type = toType; });
      config = mkIf condition (mkMerge [
        (lib.optionalAttrs (options ? warnings) {
          warnings = lib.optional (warn && fromOpt.isDefined)
            "The option `${showOption from}' defined in ${showFiles fromOpt.files} has been renamed to `${showOption to}'.";
        })
        (if withPriority
          then mkAliasAndWrapDefsWithPriority (setAttrByPath to) fromOpt
          else mkAliasAndWrapDefinitions (setAttrByPath to) fromOpt)
      ]);
    };

  mergeAttrDefinitionsWithPrio = opt:
    let
      defsByAttr = lib.zipAttrs (concatLists (concatMap ({ value, ... }@def:
        map (lib.mapAttrsToList (k: value: { ${k} = def // { inherit value; }; })) (pushDownProperties value)
      ) opt.definitionsWithLocations));
    in
    assert opt.type.name == "attrsOf" || opt.type.name == "lazyAttrsOf";
    mapAttrs (k: v:
      let merging = mergeDefinitions (opt.loc ++ [ k ]) opt.type.nestedTypes.elemType v; in {
        value = merging.mergedValue;
        inherit (merging) highestPrio;
      }) defsByAttr;

  importApply = modulePath: staticArg: lib.setDefaultModuleLocation modulePath (import modulePath staticArg);
  importJSON = file: { _file = file; config = lib.importJSON file; };
  importTOML = file: { _file = file; config = lib.importTOML file; };

  fixMergeModules = modules: args: evalModules { inherit modules args; check = false; };
in
{
  inherit
    evalModules collectModules unifyModuleSyntax applyModuleArgs setDefaultModuleLocation
    pushDownProperties dischargeProperties filterOverrides filterOverrides' sortProperties
    mergeModules mergeOptionDecls mergeDefinitions evalOptionValue fixupOptionType
    mkIf mkAssert mkMerge mkDefinition mkOverride mkOptionDefault mkDefault mkImageMediaOverride
    mkForce mkVMOverride mkOrder mkBefore mkAfter defaultOverridePriority defaultOrderPriority
    mkAliasDefinitions mkAliasAndWrapDefinitions mkAliasAndWrapDefsWithPriority mkAliasIfDef
    mkRemovedOptionModule mkRenamedOptionModule mkRenamedOptionModuleWith mkMergedOptionModule
    mkChangedOptionModule mkAliasOptionModule mkDerivedConfig doRename mergeAttrDefinitionsWithPrio
    importApply importJSON importTOML fixMergeModules;
  # definition helpers shared with types.nix (positions, see defWithValue)
  inherit defWithValue splitDef;
  mkAliasOptionModuleMD = mkAliasOptionModule;
  defaultPriority = defaultOverridePriority;
  mkFixStrictness = x: x;
  # internal helpers shared with types.nix
  isPlainDefinition = isPlain;
  inherit canonicalModule evalModulesImpl evalModulesWith checkModuleClass;
}
