#!/usr/bin/env bash
# Build benchmark: 1,000 trivial derivations as a chain and as a wide fan,
# built by onix and by Nix 2.8 (nix-store --realise), both sandboxed (a store
# with a separate root always builds in the sandbox), same -j.
# Instantiation (nix-instantiate) is not timed; only realisation is.
#
# Usage: bench/build/run.sh [N=1000] [JOBS=nproc]
# ONIX=path/to/onix uses that binary instead of building ./cmd/onix.
set -euo pipefail
N=${1:-1000}
JOBS=${2:-$(nproc)}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d /tmp/onix-bench-build.XXXXXX)
trap 'rm -rf "$work"' EXIT

command -v nix-instantiate >/dev/null || { echo "nix-instantiate (Nix 2.8) is required" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "/bin/busybox (busybox-static) is required" >&2; exit 1; }
if [ -n "${ONIX:-}" ]; then
  cp "$ONIX" "$work/onix"
else
  (cd "$repo" && CGO_ENABLED=0 go build -o "$work/onix" ./cmd/onix)
fi

mkdir -p "$work/expr/bb/bin"
cp /bin/busybox "$work/expr/bb/bin/busybox"
cat > "$work/expr/default.nix" <<NIX
let
  n = $N;
  bb = builtins.path { path = ./bb; name = "busybox"; };
  mk = name: deps: derivation {
    inherit name;
    system = builtins.currentSystem;
    builder = "\${bb}/bin/busybox";
    args = [ "sh" "-c" "echo \${toString deps} > \$out" ];
  };
in {
  chain = builtins.foldl' (prev: i: mk "chain-\${toString i}" [ prev ]) (mk "chain-0" [ ]) (builtins.genList (i: i + 1) (n - 1));
  fan = mk "fan-top" (builtins.genList (i: mk "fan-\${toString i}" [ ]) (n - 1));
}
NIX

nixopts=(--option substituters '' --option sandbox true)
now() { date +%s.%N; }
declare -A T
for shape in chain fan; do
  for tool in nix onix; do
    root="$work/root-$tool-$shape"
    drv=$(nix-instantiate --store "local?root=$root" "${nixopts[@]}" "$work/expr/default.nix" -A "$shape" 2>/dev/null)
    start=$(now)
    if [ $tool = nix ]; then
      nix-store --store "local?root=$root" "${nixopts[@]}" -j "$JOBS" --realise "$drv" >/dev/null 2>"$work/log-$tool-$shape"
    else
      "$work/onix" build --store "$root" -j "$JOBS" --no-out-link -Q "$drv" >/dev/null 2>"$work/log-$tool-$shape"
    fi
    end=$(now)
    T[$tool-$shape]=$(echo "$end - $start" | bc)
    built=$(grep -c "^building '" "$work/log-$tool-$shape" || true)
    printf '%-5s %-5s N=%d -j%d: %7.2fs (%d builds logged)\n' "$tool" "$shape" "$N" "$JOBS" "${T[$tool-$shape]}" "$built"
  done
  printf '%-11s onix/nix time ratio: %.2f\n' "$shape" "$(echo "${T[onix-$shape]} / ${T[nix-$shape]}" | bc -l)"
done
