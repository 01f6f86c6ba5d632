#!/usr/bin/env bash
# bench/eval.sh - run the shared evaluator benchmarks for onix and for real Nix
# (nix-instantiate) in the same run, and print both times, both peak RSS figures
# and the onix/Nix ratios per benchmark.
#
# Usage: bench/eval.sh [-n RUNS] [-f REGEX]
# Needs: ../shared/bench/eval (the benchmark programs), nix-instantiate, GNU time, bc.
# evalmodules-*: onix runs them with its own <onix/lib>; Nix runs them with the
# nixpkgs lib in $NIXPKGS_LIB (a lib/ directory of nixpkgs.lib), skipped if unset.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
benchdir=${BENCH_DIR:-$here/../shared/bench/eval}
[ -d "$benchdir" ] || { echo "bench/eval.sh: $benchdir not found (it comes with ../shared)" >&2; exit 2; }
command -v nix-instantiate >/dev/null || { echo "bench/eval.sh: nix-instantiate not on PATH (apt-get install nix-bin)" >&2; exit 2; }
runs=3 filter=.
while getopts n:f: o; do case $o in n) runs=$OPTARG;; f) filter=$OPTARG;; *) exit 2;; esac; done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
(cd "$here" && CGO_ENABLED=0 go build -o "$out/onix" ./cmd/onix)
# Run by run, alternating Nix and onix on each file, so that both see the
# same machine load; each tool's row is its fastest run and its peak RSS.
: >"$out/nix.txt"
: >"$out/onix.txt"
for f in $(cd "$benchdir" && ls *.nix | grep -v '^_' | grep -E "$filter"); do
  re="^${f//./\\.}\$"
  for ((r = 1; r <= runs; r++)); do
    NIXPKGS_LIB=${NIXPKGS_LIB:-} bash "$benchdir/run.sh" -n 1 -f "$re" -- nix-instantiate >>"$out/nix.txt"
    NIXPKGS_LIB='<onix/lib>' bash "$benchdir/run.sh" -n 1 -f "$re" -- "$out/onix" instantiate >>"$out/onix.txt"
  done
done
printf '%-28s %9s %9s %7s %9s %9s %7s  %s\n' benchmark nix_s onix_s ratio nix_MiB onix_MiB ratio "onix output ok"
# run.sh prints fixed-width columns: name(28) seconds(9) rss(10) then the status.
# min seconds, max RSS and the first non-"yes" status over a tool's rows
col() { awk '/\.nix /{ n=substr($0,1,28); gsub(/ /,"",n); s=substr($0,30,9); gsub(/ /,"",s); m=substr($0,40,10); gsub(/ /,"",m); st=substr($0,52)
    if (!(n in S) || (s ~ /^[0-9.]+$/ && (S[n] !~ /^[0-9.]+$/ || s+0 < S[n]+0))) S[n]=s
    if (!(n in M) || (m ~ /^[0-9.]+$/ && m+0 > M[n]+0)) M[n]=m
    if (!(n in T) || T[n]=="yes") T[n]=st }
  END { for (n in S) print n "\t" S[n] "\t" M[n] "\t" T[n] }' "$1"; }
join -t $'\t' <(col "$out/nix.txt" | sort) <(col "$out/onix.txt" | sort) | while IFS=$'\t' read -r f ns nm _nst ons onm ost; do
  r1=n/a r2=n/a
  if [[ $ns =~ ^[0-9.]+$ && $ons =~ ^[0-9.]+$ ]]; then r1=$(echo "scale=2; $ons / $ns" | bc); fi
  if [[ $nm =~ ^[0-9.]+$ && $onm =~ ^[0-9.]+$ ]]; then r2=$(echo "scale=2; $onm / $nm" | bc); fi
  printf '%-28s %9s %9s %7s %9s %9s %7s  %s\n' "$f" "$ns" "$ons" "$r1" "$nm" "$onm" "$r2" "$ost"
done
