#!/usr/bin/env bash
# Binary cache substitution benchmark: onix copy --from vs nix copy --from.
#
# Generates a closure of N paths (~BYTES of random content, references
# forming a DAG) in a temporary onix store, writes it to a file:// cache
# (compression=$COMPRESSION, signed), serves that cache over HTTP on
# 127.0.0.1 with `onix cache serve`, then substitutes it into an empty store
# with each tool and prints both times and the ratio.
#
# Env: N (200), BYTES (524288000), COMPRESSION (zstd|none|xz, default zstd),
#      JOBS (onix parallel downloads, default onix's), KEEP=1 keeps the
#      work dir. Needs go and nix (2.8); never touches the host /nix store.
set -euo pipefail
cd "$(dirname "$0")/../.."

N=${N:-200}
BYTES=${BYTES:-524288000}
COMPRESSION=${COMPRESSION:-zstd}
WORK=$(mktemp -d /tmp/onix-cache-bench.XXXXXX)
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

echo "generating $N paths (~$((BYTES >> 20)) MiB) ..."
TOP=$("$WORK/gen" -store "$WORK/src" -n "$N" -bytes "$BYTES")

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

sync
t0=$(now)
nix --extra-experimental-features nix-command copy --from "$URL" --to "local?root=$WORK/nixdst" \
	--option trusted-public-keys "$PUB" "$TOP" 2>"$WORK/nix.log"
t1=$(now)
NIX_T=$(secs "$t0" "$t1")

sync
JOBS_FLAG=()
[ -n "${JOBS:-}" ] && JOBS_FLAG=(--jobs "$JOBS")
t0=$(now)
"$ONIX" --store "$WORK/onixdst" copy --from "$URL" --option trusted-public-keys "$PUB" "${JOBS_FLAG[@]}" "$TOP"
t1=$(now)
ONIX_T=$(secs "$t0" "$t1")

# Both stores must hold the same closure with the same hashes.
n_nix=$(ls "$WORK/nixdst/nix/store" | grep -vc '\.lock$' || true)
n_onix=$(ls "$WORK/onixdst/nix/store" | grep -vc '\.lock$' || true)
nix --extra-experimental-features nix-command store verify --store "local?root=$WORK/onixdst" --no-trust --all >/dev/null 2>&1
echo "paths substituted: nix $n_nix, onix $n_onix (onix store verified by nix store verify)"
echo "nix copy --from http:  $NIX_T s"
echo "onix copy --from http: $ONIX_T s"
echo "speedup (nix/onix):    $(echo "scale=2; $NIX_T / $ONIX_T" | bc)x"
