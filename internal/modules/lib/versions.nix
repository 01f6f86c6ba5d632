# Version string helpers.
{ lib }:
rec {
  splitVersion = builtins.splitVersion;
  major = v: builtins.elemAt (splitVersion v) 0;
  minor = v: builtins.elemAt (splitVersion v) 1;
  patch = v: builtins.elemAt (splitVersion v) 2;
  majorMinor = v: builtins.concatStringsSep "." (lib.take 2 (splitVersion v));
  pad = n: version:
    let
      numericVersion = builtins.head (builtins.splitVersion version);
      versionSuffix = lib.removePrefix numericVersion version;
      elements = splitVersion numericVersion;
      missing = n - builtins.length elements;
    in builtins.concatStringsSep "." (elements ++ builtins.genList (_: "0") (if missing > 0 then missing else 0)) + versionSuffix;
}
