#!/usr/bin/env bash
# Benchmarks onix's NAR dump/hash and store add against real Nix 2.8.
# Usage: bench/store/run.sh   (from anywhere; needs go, nix-store, nix, sha256sum)
# Everything happens in a temp dir; Nix only ever sees temporary store roots.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/onix-bench.XXXXXX)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
nixc=(nix --extra-experimental-features nix-command)

echo "building onix..." >&2
(cd "$repo" && go build -o "$work/onix" ./cmd/onix)
onix="$work/onix"

echo "generating 20,000 small files and a 1 GiB file..." >&2
python3 - "$work/tree" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(200):
    dd = os.path.join(root, "d%03d" % d)
    os.makedirs(dd)
    for f in range(100):
        with open(os.path.join(dd, "f%03d" % f), "wb") as fh:
            fh.write(("%d/%d " % (d, f)).encode() * (1 + (d * 7 + f) % 40))
PY
head -c 1073741824 /dev/urandom > "$work/big"
# Warm the page cache so every contender reads from memory.
cat "$work/big" > /dev/null; find "$work/tree" -type f -exec cat {} + > /dev/null

now() { date +%s.%N; }
# t CMD...: run CMD via bash -c, print elapsed seconds; aborts on failure.
t() {
  local s e
  s=$(now)
  bash -c "$1" > "$work/out.$$" 2>"$work/err.$$" || { echo "FAILED: $1" >&2; cat "$work/err.$$" >&2; exit 1; }
  e=$(now)
  echo "$e - $s" | bc -l
}
fresh() { local d; d=$(mktemp -d "$work/store.XXXX"); echo "$d"; }

rows=()
row() { rows+=("$(printf '%-34s %10.3f %10.3f %8.2f' "$1" "$2" "$3" "$(echo "$2 / $3" | bc -l)")"); }

for obj in tree big; do
  p="$work/$obj"
  # Correctness first: all four must agree.
  a=$("$onix" hash path "$p"); b=$("${nixc[@]}" hash path "$p")
  c=$("$onix" store dump "$p" | sha256sum | cut -d' ' -f1); d=$(nix-store --dump "$p" | sha256sum | cut -d' ' -f1)
  [ "$a" = "$b" ] && [ "$c" = "$d" ] || { echo "MISMATCH on $obj: $a $b $c $d" >&2; exit 1; }

  o=$(t "'$onix' hash path '$p'"); n=$(t "${nixc[*]} hash path '$p'")
  row "hash path ($obj)" "$o" "$n"
  o=$(t "'$onix' store dump '$p' | sha256sum"); n=$(t "nix-store --dump '$p' | sha256sum")
  row "dump | sha256sum ($obj)" "$o" "$n"
  so=$(fresh); sn=$(fresh)
  o=$(t "'$onix' --store '$so' store add '$p'"); n=$(t "nix-store --store 'local?root=$sn' --add '$p'")
  [ "$(cat "$work/out.$$")" = "$("$onix" --store "$so" store add "$p")" ] || { echo "store paths differ for $obj" >&2; exit 1; }
  row "store add ($obj)" "$o" "$n"
done

s=$(t "sha256sum '$work/big'")
echo
echo "machine: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
printf 'single-core sha256sum: %.0f MiB/s (1 GiB in %.3f s)\n\n' "$(echo "1024 / $s" | bc -l)" "$s"
printf '%-34s %10s %10s %8s\n' "benchmark" "onix (s)" "nix (s)" "ratio"
printf '%s\n' "${rows[@]}"
echo "(ratio = onix time / nix time; < 1 means onix is faster)"
