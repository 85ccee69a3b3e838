#!/usr/bin/env bash
# Reads under a login flood: GET /api/private/ (token, 64 connections) while
# POST /api/auth/token/login/ runs flat out (8 connections), both for the same duration.
# Reports the reads' throughput and latency, which must not suffer from password hashing.
#
#   bench/mixed.sh RUN_DIR [SECONDS]
#
# RUN_DIR is a directory a previous `bench/run.sh` left in target/bench/ (its db/ and
# creds-lendbook.tsv are reused; the database is copied first, the run is not changed).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
RUN="${1:?usage: bench/mixed.sh RUN_DIR [SECONDS]}"
DUR="${2:-10}"
PORT="${PORT:-8031}"
WORK="$(mktemp -d)"
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT

cp "$RUN"/db/lendbook.sqlite3* "$WORK"/
CREDS="$RUN/creds-lendbook.tsv"
USERS="$(wc -l < "$CREDS")"
READERS="0:$(( USERS * 9 / 10 ))"

LENDBOOK_LOG=warn taskset -c 0 "$ROOT/target/release/lendbook" \
    --database-url "sqlite://$WORK/lendbook.sqlite3" serve --bind "127.0.0.1:$PORT" \
    > "$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/api/public/" > /dev/null && break; sleep 0.1; done

base="http://127.0.0.1:$PORT"
taskset -c 1 wrk -t1 -c8 -d"${DUR}s" -s "$HERE/bench.lua" "$base/api/auth/token/login/" -- \
    auth=none method=POST body=login creds="$CREDS" users="$READERS" > "$WORK/login.out" 2>&1 &
LOGIN=$!
sleep 0.5
taskset -c 1 wrk -t1 -c64 -d"$(( DUR - 1 ))s" -s "$HERE/bench.lua" "$base/api/private/" -- \
    auth=token creds="$CREDS" users="$READERS" > "$WORK/reads.out" 2>&1
wait "$LOGIN"
echo "reads (GET /api/private/, 64 connections) during a login flood (8 connections):"
grep '^BENCH' "$WORK/reads.out" | tr ' ' '\n' | grep -E '^(rps|p50_us|p99_us|non2xx)='
echo "logins meanwhile:"
grep '^BENCH' "$WORK/login.out" | tr ' ' '\n' | grep -E '^(rps|p50_us|p99_us|non2xx)='
grep VmHWM "/proc/$SERVER/status" || true
