#!/usr/bin/env bash
# Benchmarks onix's NAR dump/hash and store add against real Nix 2.8.
# Usage: bench/store/run.sh   (from anywhere; needs go, nix-store, nix, sha256sum)
# Everything happens in a temp dir; Nix only ever sees temporary store roots.
# Each timing is the best of $REPS runs (default 3), contenders interleaved,
# because a shared machine's load swings more than the differences measured.
# "store add" includes durability: onix ends with one syncfs, Nix 2.8 does
# not sync file data at all.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/onix-bench.XXXXXX)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
nixc=(nix --extra-experimental-features nix-command)

echo "building onix..." >&2
(cd "$repo" && CGO_ENABLED=0 go build -o "$work/onix" ./cmd/onix)
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

reps=${REPS:-3}
now() { date +%s.%N; }
fresh() { local d; d=$(mktemp -d "$work/store.XXXX"); echo "$d"; }
# t1 CMD: run CMD via bash -c once (@STORE@ replaced by a fresh store root),
# print elapsed seconds; aborts on failure.
t1() {
  local s e c=${1//@STORE@/$(fresh)}
  s=$(now)
  bash -c "$c" > "$work/out.$$" 2>"$work/err.$$" || { echo "FAILED: $c" >&2; cat "$work/err.$$" >&2; exit 1; }
  e=$(now)
  echo "$e - $s" | bc -l
}
# tt ONIX_CMD NIX_CMD: best of $reps interleaved runs of each; prints "onix nix".
tt() {
  local bo=999 bn=999 x i
  for ((i = 0; i < reps; i++)); do
    x=$(t1 "$1"); bo=$(echo "if ($x < $bo) $x else $bo" | bc -l)
    x=$(t1 "$2"); bn=$(echo "if ($x < $bn) $x else $bn" | bc -l)
  done
  echo "$bo $bn"
}

rows=()
row() { rows+=("$(printf '%-34s %10.3f %10.3f %8.2f' "$1" "$2" "$3" "$(echo "$2 / $3" | bc -l)")"); }

for obj in tree big; do
  p="$work/$obj"
  # Correctness first: all four must agree.
  a=$("$onix" hash path "$p"); b=$("${nixc[@]}" hash path "$p")
  c=$("$onix" store dump "$p" | sha256sum | cut -d' ' -f1); d=$(nix-store --dump "$p" | sha256sum | cut -d' ' -f1)
  [ "$a" = "$b" ] && [ "$c" = "$d" ] || { echo "MISMATCH on $obj: $a $b $c $d" >&2; exit 1; }

  read -r o n < <(tt "'$onix' hash path '$p'" "${nixc[*]} hash path '$p'")
  row "hash path ($obj)" "$o" "$n"
  [ "$obj" = big ] && hashbig=$o
  read -r o n < <(tt "'$onix' store dump '$p' | sha256sum" "nix-store --dump '$p' | sha256sum")
  row "dump | sha256sum ($obj)" "$o" "$n"
  so=$(fresh)
  [ "$("$onix" --store "$so" store add "$p")" = "$(nix-store --store "local?root=$(fresh)" --add "$p")" ] || { echo "store paths differ for $obj" >&2; exit 1; }
  read -r o n < <(tt "'$onix' --store @STORE@ store add '$p'" "nix-store --store 'local?root=@STORE@' --add '$p'")
  row "store add ($obj)" "$o" "$n"
done

# Single-core sha256 ceilings: Go's crypto/sha256 (what onix uses) over an
# in-memory buffer, and coreutils sha256sum of the cached file.
cat > "$work/sha.go" <<'GO'
package main

import (
	"crypto/sha256"
	"fmt"
	"time"
)

func main() {
	buf := make([]byte, 1<<20)
	best := time.Hour
	for r := 0; r < 3; r++ {
		h := sha256.New()
		s := time.Now()
		for i := 0; i < 1024; i++ {
			h.Write(buf)
		}
		h.Sum(nil)
		best = min(best, time.Since(s))
	}
	fmt.Printf("%.3f\n", best.Seconds())
}
GO
gosha=$(cd "$work" && go run sha.go)
s=$(t1 "sha256sum '$work/big'")
echo
echo "machine: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'single-core sha256, Go crypto/sha256 in memory: %.0f MiB/s (1 GiB in %.3f s)\n' "$(echo "1024 / $gosha" | bc -l)" "$gosha"
printf 'single-core sha256, sha256sum of cached file:   %.0f MiB/s (1 GiB in %.3f s)\n' "$(echo "1024 / $s" | bc -l)" "$s"
printf 'onix hash path (big) runs at %.0f%% of Go in-memory sha256 throughput\n\n' "$(echo "100 * $gosha / $hashbig" | bc -l)"
printf '%-34s %10s %10s %8s\n' "benchmark" "onix (s)" "nix (s)" "ratio"
printf '%s\n' "${rows[@]}"
echo "(ratio = onix time / nix time; < 1 means onix is faster)"
