#!/usr/bin/env bash
# bench/pair.sh — two lendbook instances on one PostgreSQL database, loaded together.
#
#   bench/run.sh --database-url postgres://postgres@127.0.0.1:5432/test --keep-db ...
#   bench/pair.sh RUN_DIR [SECONDS]
#
# RUN_DIR is that run's directory (its creds-lendbook.tsv, layers-on.toml, secret file and
# db/database-url are reused; the database is dropped at the end). Both instances run with
# every layer on and their throttle counters in Redis (redis://127.0.0.1:6379, the shared
# deployment of the README), under `taskset -c 0` like run.sh's single server, so the pair
# gets the same CPU as one instance did; PostgreSQL and Redis run unpinned. For each endpoint:
# one instance alone with 64 connections, then both at once with 32 connections each (two wrk
# processes on CPU 1), each instance's users apart (the first and second half of the readers).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
ROOT=$(cd "$HERE/.." && pwd)
RUN=$(cd "${1:?usage: bench/pair.sh RUN_DIR [SECONDS]}" && pwd)
DUR=${2:-10}
URL=$(cat "$RUN/db/database-url") || { echo "pair.sh: $RUN is not a PostgreSQL run kept with --keep-db" >&2; exit 2; }
BIN=$ROOT/target/release/lendbook
CREDS=$RUN/creds-lendbook.tsv
split_users "$(wc -l <"$CREDS")"   # the readers of bench/run.sh: READERS
HALF=$(( READERS / 2 ))
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  psql "${URL%/*}/postgres" -qc "DROP DATABASE IF EXISTS ${URL##*/}" >/dev/null 2>&1 || true
}
trap cleanup EXIT
start() {  # PORT
  (cd "$RUN/db" && LENDBOOK_THROTTLE__REDIS_URL=redis://127.0.0.1:6379/0 \
    LENDBOOK_THROTTLE__REDIS_PREFIX="pair$$:" exec taskset -c 0 "$BIN" --config "$RUN/layers-on.toml" \
    --database-url "$URL" serve --bind "127.0.0.1:$1") >"$RUN/pair-$1.log" 2>&1 &
  PIDS+=($!)
  wait_ready "http://127.0.0.1:$1/api/public/" "${PIDS[-1]}" && return 0
  tail "$RUN/pair-$1.log" >&2; exit 1
}
load() {  # PORT PATH CONNS USERS OUT
  taskset -c 1 wrk -t1 -c"$3" -d"${DUR}s" -s "$HERE/bench.lua" "http://127.0.0.1:$1$2" -- \
    auth=token creds="$CREDS" users="$4" >"$5" 2>&1
}
field() { grep -o " $1=[^ ]*" "$2" | head -1 | cut -d= -f2; }
ms() { awk -v u="$(field "$1" "$2")" 'BEGIN { printf "%.2f", u / 1000 }'; }
start 8041
start 8042
echo "| endpoint (PostgreSQL, every layer on) | one instance, 64 conns | instance A, 32 conns | instance B, 32 conns | pair total | p99 A / B ms | non-2xx |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for ep in "/api/private/" "/api/v1/borrowings/?limit=20"; do
  load 8041 "$ep" 8 "0:$READERS" "$RUN/pair-warm.txt"
  load 8041 "$ep" 64 "0:$READERS" "$RUN/pair-one.txt"
  load 8041 "$ep" 32 "0:$HALF" "$RUN/pair-a.txt" &
  a=$!
  load 8042 "$ep" 32 "$HALF:$READERS" "$RUN/pair-b.txt"
  wait "$a"
  one=$(field rps "$RUN/pair-one.txt"); ra=$(field rps "$RUN/pair-a.txt"); rb=$(field rps "$RUN/pair-b.txt")
  bad=$(( $(field non2xx "$RUN/pair-one.txt") + $(field non2xx "$RUN/pair-a.txt") + $(field non2xx "$RUN/pair-b.txt") ))
  printf '| `GET %s` | %.0f (p99 %s ms) | %.0f | %.0f | %.0f | %s / %s | %s |\n' "$ep" "$one" "$(ms p99_us "$RUN/pair-one.txt")" \
    "$ra" "$rb" "$(awk -v a="$ra" -v b="$rb" 'BEGIN { print a + b }')" "$(ms p99_us "$RUN/pair-a.txt")" "$(ms p99_us "$RUN/pair-b.txt")" "$bad"
done
