# Assertion helpers.
{ lib }:
rec {
  assertMsg = pred: msg: pred || builtins.throw msg;
  assertOneOf = name: val: xs:
    assertMsg (builtins.elem val xs)
      "${name} must be one of ${lib.generators.toPretty { } xs}, but is: ${lib.generators.toPretty { } val}";
  assertEachOneOf = name: vals: xs:
    assertMsg (lib.all (val: builtins.elem val xs) vals)
      "each element in ${name} must be one of ${lib.generators.toPretty { } xs}, but is: ${lib.generators.toPretty { } vals}";
}
