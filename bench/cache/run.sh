#!/usr/bin/env bash
# Binary cache substitution benchmark: onix copy --from vs nix copy --from.
#
# Generates a closure of N paths (~BYTES of random content, references
# forming a DAG) in a temporary onix store, writes it to a file:// cache
# (compression=$COMPRESSION, signed), serves that cache over HTTP on
# 127.0.0.1 with `onix cache serve`, then substitutes it into an empty store
# with each tool and prints both times and the ratio, with the CPU time
# each tool and the server used (on a machine with few cores the ratio
# cannot exceed what the CPU times allow). onix's copy is durable when it
# exits (O_DIRECT and syncfs); Nix leaves its data dirty in the page
# cache. So each tool's copy is followed by a sync, and the time until
# that sync returns is reported too: the time until the closure would
# survive a power cut.
#
# Env: N (200), BYTES (524288000), COMPRESSION (zstd|none|xz, default zstd),
#      ROUNDS (4; alternating which tool goes first, medians reported),
#      CONTENT (random: incompressible, the default; mixed: compresses
#      about 2x with zstd, like real store paths),
#      BENCH_TMP (/tmp; where the work dir goes),
#      JOBS (onix parallel downloads, default onix's), KEEP=1 keeps the
#      work dir. Needs go and nix (2.8); never touches the host /nix store.
set -euo pipefail
cd "$(dirname "$0")/../.."

N=${N:-200}
BYTES=${BYTES:-524288000}
COMPRESSION=${COMPRESSION:-zstd}
ROUNDS=${ROUNDS:-4}
CONTENT=${CONTENT:-random}
WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/onix-cache-bench.XXXXXX")
SERVER_PID=
cleanup() {
	if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
	if [ "${KEEP:-0}" != 1 ]; then chmod -R u+w "$WORK" 2>/dev/null || true; rm -rf "$WORK"; fi
}
trap cleanup EXIT

command -v nix >/dev/null || { echo "bench/cache: nix not installed" >&2; exit 1; }
unset ONIX_STORE ONIX_CONF

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }

# ONIX_BIN may name a prebuilt binary (otherwise ./cmd/onix is built).
if [ -n "${ONIX_BIN:-}" ]; then
	ONIX=$ONIX_BIN
else
	CGO_ENABLED=0 go build -o "$WORK/onix" ./cmd/onix
	ONIX=$WORK/onix
fi
go build -o "$WORK/gen" ./bench/cache/gen

echo "generating $N paths (~$((BYTES >> 20)) MiB, $CONTENT content) ..."
TOP=$("$WORK/gen" -store "$WORK/src" -n "$N" -bytes "$BYTES" -content "$CONTENT")

# Nix runs with a private HOME, cache dir and nix.conf (no substituters).
export HOME=$WORK/home XDG_CACHE_HOME=$WORK/xdg-cache NIX_CONF_DIR=$WORK/etc
mkdir -p "$HOME" "$NIX_CONF_DIR"
printf 'sandbox = false\nsubstituters =\n' >"$NIX_CONF_DIR/nix.conf"
"$ONIX" key generate --name bench-cache-1 --secret-key-file "$WORK/sk" --public-key-file "$WORK/pk"
PUB=$(cat "$WORK/pk")

t0=$(now)
"$ONIX" --store "$WORK/src" copy --to "file://$WORK/cache?compression=$COMPRESSION" --sign-key "$WORK/sk" "$TOP"
t1=$(now)
echo "onix copy --to file:// (compression=$COMPRESSION): $(secs "$t0" "$t1") s, cache size $(du -sm "$WORK/cache" | cut -f1) MiB"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$ONIX" cache serve --cache "$WORK/cache" --listen "127.0.0.1:$PORT" 2>"$WORK/serve.log" &
SERVER_PID=$!
for _ in $(seq 100); do
	curl -sf "http://127.0.0.1:$PORT/nix-cache-info" >/dev/null 2>&1 && break
	sleep 0.1
done
URL="http://127.0.0.1:$PORT"

# Warm the server's page cache so neither client pays for cold reads.
cat "$WORK"/cache/nar/* >/dev/null

# ROUNDS rounds, alternating which tool goes first (ABBA...), each into
# fresh stores: the page cache and the file system's recently freed inodes
# change from one copy to the next, and alternating keeps either tool from
# always meeting the same state. Nothing is deleted until the end.
JOBS_FLAG=()
[ -n "${JOBS:-}" ] && JOBS_FLAG=(--jobs "$JOBS")
# children_cpu prints the CPU time (user + system, seconds) of the
# shell's finished children as the last `times >"$WORK/times"` (run in
# this shell: a subshell's `times` does not see them) wrote it.
children_cpu() {
	awk 'NR == 2 { split($1, u, "m"); split($2, s, "m"); printf "%.3f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$WORK/times"
}
# srv_cpu prints the cache server's CPU time so far (seconds).
srv_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$SERVER_PID/stat"; }
# measure runs a command (a copy) and sets WALL (until it exits), DURABLE
# (until a sync after it returns), CPU (its user + system time) and SRV
# (the server's CPU time meanwhile).
measure() {
	sync
	local t0 t1 c0 c1 s0 s1
	times >"$WORK/times"
	c0=$(children_cpu) s0=$(srv_cpu)
	t0=$(now)
	"$@"
	t1=$(now)
	times >"$WORK/times"
	c1=$(children_cpu) s1=$(srv_cpu)
	sync
	WALL=$(secs "$t0" "$t1") DURABLE=$(secs "$t0" "$(now)")
	CPU=$(secs "$c0" "$c1") SRV=$(secs "$s0" "$s1")
}
nix_copy() {
	nix --extra-experimental-features nix-command copy --from "$URL" --to "local?root=$WORK/nixdst$1" \
		--option trusted-public-keys "$PUB" "$TOP" 2>"$WORK/nix.log"
}
onix_copy() {
	"$ONIX" --store "$WORK/onixdst$1" copy --from "$URL" --option trusted-public-keys "$PUB" "${JOBS_FLAG[@]}" "$TOP" >/dev/null 2>"$WORK/onix.log"
}
run_nix() {
	rm -rf "$XDG_CACHE_HOME" # no narinfo cache carried between rounds
	measure nix_copy "$1"
	NIX_TIMES+=("$WALL") NIX_DURABLE+=("$DURABLE") NIX_CPU=$CPU NIX_SRV=$SRV
}
run_onix() {
	measure onix_copy "$1"
	ONIX_TIMES+=("$WALL") ONIX_DURABLE+=("$DURABLE") ONIX_CPU=$CPU ONIX_SRV=$SRV
}
NIX_TIMES=() ONIX_TIMES=() NIX_DURABLE=() ONIX_DURABLE=()
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then run_nix "$r"; run_onix "$r"; else run_onix "$r"; run_nix "$r"; fi
	echo "round $r: nix ${NIX_TIMES[-1]} s (durable ${NIX_DURABLE[-1]} s, cpu $NIX_CPU s, server $NIX_SRV s)," \
		"onix ${ONIX_TIMES[-1]} s (durable ${ONIX_DURABLE[-1]} s, cpu $ONIX_CPU s, server $ONIX_SRV s)," \
		"ratio $(echo "scale=2; ${NIX_TIMES[-1]} / ${ONIX_TIMES[-1]}" | bc)x (durable $(echo "scale=2; ${NIX_DURABLE[-1]} / ${ONIX_DURABLE[-1]}" | bc)x)"
done

# Both stores must hold the same closure with the same hashes.
n_nix=$(ls "$WORK/nixdst1/nix/store" | grep -vc '\.lock$' || true)
n_onix=$(ls "$WORK/onixdst1/nix/store" | grep -vc '\.lock$' || true)
nix --extra-experimental-features nix-command store verify --store "local?root=$WORK/onixdst1" --no-trust --all >/dev/null 2>&1
echo "paths substituted: nix $n_nix, onix $n_onix (onix store verified by nix store verify)"
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
NIX_T=$(median "${NIX_TIMES[@]}")
ONIX_T=$(median "${ONIX_TIMES[@]}")
echo "nix copy --from http (median of $ROUNDS):  $NIX_T s"
echo "onix copy --from http (median of $ROUNDS): $ONIX_T s"
echo "speedup (nix/onix medians):    $(echo "scale=2; $NIX_T / $ONIX_T" | bc)x"
NIX_D=$(median "${NIX_DURABLE[@]}")
ONIX_D=$(median "${ONIX_DURABLE[@]}")
echo "until durable (the copy, then sync): nix $NIX_D s, onix $ONIX_D s, speedup $(echo "scale=2; $NIX_D / $ONIX_D" | bc)x"
