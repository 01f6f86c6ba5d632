#!/usr/bin/env bash
# conformance/run.sh - score onix on the official Nix language suites and on
# nixpkgs lib's own tests. The suites are other projects' code and are never
# committed: ../shared/conformance/get-suites.sh extracts them to /tmp from
# mirrors (see ../shared/conformance/README.md); NIXPKGS_LIB_ROOT points at a
# nixpkgs.lib checkout (commit b212b2ca).
#
# Usage: conformance/run.sh            (after `make build`)
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$here/../shared}
onix=${ONIX:-$here/onix}
runner=$shared/conformance/nix-lang.sh
[ -x "$onix" ] || { echo "build onix first (make build)" >&2; exit 2; }
[ -f "$runner" ] || { echo "no $runner: ../shared is missing" >&2; exit 2; }
for suite in /tmp/nix-lang-tests /tmp/nix-lang-tests-2.8.0 /tmp/snix-lang-tests /tmp/tvix-lang-tests; do
  if [ ! -d "$suite" ]; then echo "== $suite: absent (run get-suites.sh)"; continue; fi
  echo "== $suite"
  QUIET=${QUIET:-1} FAILS_OUT=/tmp/onix-fails-$(basename "$suite").txt bash "$runner" "$suite" -- "$onix" instantiate | tail -n 3
done
lib=${NIXPKGS_LIB_ROOT:-/tmp/nixpkgs-lib}
if [ -f "$lib/lib/tests/misc.nix" ]; then
  echo "== nixpkgs lib tests/misc.nix ($lib)"
  [ -f "$lib/default.nix" ] || cat >"$lib/default.nix" <<'NIX'
{ system ? builtins.currentSystem, ... }:
{ hello = derivation { name = "hello"; inherit system; builder = "/bin/sh"; }; }
NIX
  (cd "$lib" && "$onix" instantiate --eval --strict lib/tests/misc.nix 2>&1 | tail -n 5)
else
  echo "== nixpkgs lib: absent ($lib)"
fi
