#!/usr/bin/env bash
# bench/attack.sh — token reads while the server is under attack (issue 15's goal: while
# 5,000 idle or trickling connections are held and 8 clients flood the login endpoint, token
# reads keep >= 80% of their quiet throughput with p99 < 10 ms, and RSS stays < 128 MiB).
#
#   bench/attack.sh RUN_DIR [options]
#
# RUN_DIR is a directory a previous `bench/run.sh` left in target/bench/ (its db/ and
# creds-lendbook.tsv are reused: the database is copied, the run is not changed).
#
# lendbook runs with its default configuration (credential throttles on, access log at INFO,
# metrics on) under `taskset -c 0`; wrk and the attackers run on CPU 1. Phases, each
# --seconds long, one after the other on the same server:
#   quiet      GET /api/private/ (token), 64 connections: the baseline
#   attack     the same reads while bench/attackers.py holds --idle + --trickle connections
#              (from 127.0.1.x, under the per-address cap) and 8 connections flood
#              POST /api/auth/token/login/ with the right passwords of rotating users
#   (--no-throttle-phase skips) attack-unthrottled: the same with the credential throttles
#              off, so that every login attempt hashes a password (the worst case: a
#              botnet from many addresses that the per-client limits would not stop)
# Prints a markdown table (also RUN_DIR/attack-<stamp>.md).
#
# Options: --seconds N (default 15)  --idle N (2500)  --trickle N (2500)  --port N (8032)
#          --no-throttle-phase
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
RUN=${1:?usage: bench/attack.sh RUN_DIR [--seconds N] [--idle N] [--trickle N] [--port N]}
shift
DUR=15 IDLE=2500 TRICKLE=2500 PORT=8032 UNTHROTTLED=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds) DUR=$2; shift 2 ;;
    --idle) IDLE=$2; shift 2 ;;
    --trickle) TRICKLE=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --no-throttle-phase) UNTHROTTLED=0; shift ;;
    *) echo "attack.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
BIN=$ROOT/target/release/lendbook
[[ -x $BIN ]] || { echo "attack.sh: build the release binary first (bench/run.sh does)" >&2; exit 2; }
CREDS=$RUN/creds-lendbook.tsv
USERS=$(wc -l <"$CREDS")
READERS="0:$(( USERS * 9 / 10 ))"
STAMP=$(date -u +%Y%m%d-%H%M%S)
WORK=$(mktemp -d)
SERVER="" ATTACK=""
cleanup() {
  [[ -n $ATTACK ]] && kill "$ATTACK" 2>/dev/null || true
  [[ -n $SERVER ]] && { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }
  rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
base=http://127.0.0.1:$PORT

start_server() {  # extra environment assignments...
  cp "$RUN"/db/lendbook.sqlite3* "$WORK"/ 2>/dev/null || true
  cp "$RUN"/db/*.secret "$WORK"/ 2>/dev/null || true
  (cd "$WORK" && exec env "$@" taskset -c 0 "$BIN" --database-url "sqlite://$WORK/lendbook.sqlite3" \
    serve --bind "127.0.0.1:$PORT") >"$WORK/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do curl -fs -o /dev/null "$base/api/public/" && return 0; sleep 0.1; done
  tail -20 "$WORK/server.log" >&2; exit 1
}
stop_server() { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; SERVER=""; }
field() { grep -o " $1=[^ ]*" "$2" | head -1 | cut -d= -f2; }
reads() {  # OUTFILE
  taskset -c 1 wrk -t1 -c64 -d"${DUR}s" -s "$HERE/bench.lua" "$base/api/private/" -- \
    auth=token creds="$CREDS" users="$READERS" >"$1" 2>&1
}
rss_reset() { echo 5 >"/proc/$SERVER/clear_refs" 2>/dev/null || true; }
rss_peak() { awk '$1 == "VmHWM:" { printf "%.1f", $2 / 1024 }' "/proc/$SERVER/status"; }

attack_phase() {  # NAME
  local name=$1
  rss_reset
  taskset -c 1 python3 "$HERE/attackers.py" --port "$PORT" --idle "$IDLE" --trickle "$TRICKLE" \
    --seconds $(( DUR + 25 )) --status "$WORK/$name-attackers.log" >"$WORK/$name-attackers.json" &
  ATTACK=$!
  # Wait until the connections are held (at most 20 s).
  for _ in $(seq 1 40); do
    held=$(tail -1 "$WORK/$name-attackers.log" 2>/dev/null | grep -o 'held=[0-9]*' | cut -d= -f2)
    [[ ${held:-0} -ge $(( (IDLE + TRICKLE) * 95 / 100 )) ]] && break
    sleep 0.5
  done
  taskset -c 1 wrk -t1 -c8 -d"$(( DUR + 1 ))s" -s "$HERE/bench.lua" "$base/api/auth/token/login/" -- \
    auth=none method=POST body=login creds="$CREDS" users="$READERS" >"$WORK/$name-login.txt" 2>&1 &
  local login=$!
  sleep 0.5
  local held_at_start
  held_at_start=$(tail -1 "$WORK/$name-attackers.log" | grep -o 'held=[0-9]*' | cut -d= -f2)
  reads "$WORK/$name-reads.txt"
  local held_at_end
  held_at_end=$(tail -1 "$WORK/$name-attackers.log" | grep -o 'held=[0-9]*' | cut -d= -f2)
  wait "$login"
  local rss; rss=$(rss_peak)
  kill "$ATTACK" 2>/dev/null || true; wait "$ATTACK" 2>/dev/null || true; ATTACK=""
  local f=$WORK/$name-reads.txt l=$WORK/$name-login.txt
  local lrps lnon
  lrps=$(field rps "$l"); lnon=$(field non2xx "$l")
  row "$name" "$f" "$rss" "held ${held_at_start}→${held_at_end}; login flood $(printf '%.0f' "$lrps") req/s, $(field requests "$l") sent, $lnon refused (429)"
}

ROWS=()
QUIET_RPS=""
row() {  # NAME WRKFILE RSS NOTE
  local rps p50 p99 non2xx errs pct
  rps=$(field rps "$2"); p50=$(field p50_us "$2"); p99=$(field p99_us "$2"); non2xx=$(field non2xx "$2")
  errs=$(( $(field connect "$2") + $(field read "$2") + $(field write "$2") + $(field timeout "$2") ))
  [[ -z $QUIET_RPS ]] && QUIET_RPS=$rps
  pct=$(awk -v a="$rps" -v b="$QUIET_RPS" 'BEGIN { printf "%.0f%%", a / b * 100 }')
  ROWS+=("| $1 | $(printf '%.0f' "$rps") | $pct | $(awk -v u="$p50" 'BEGIN { printf "%.2f", u / 1000 }') / $(awk -v u="$p99" 'BEGIN { printf "%.2f", u / 1000 }') | $non2xx / $errs | $3 | $4 |")
  echo "== $1: $(printf '%.0f' "$rps") req/s ($pct of quiet), p99 $(awk -v u="$p99" 'BEGIN { print u / 1000 }') ms, RSS $3 MiB" >&2
}

echo "== quiet reads (defaults, throttles on)" >&2
start_server
reads "$WORK/warmup.txt"
rss_reset
reads "$WORK/quiet-reads.txt"
row quiet "$WORK/quiet-reads.txt" "$(rss_peak)" "no attack"
echo "== under attack: $IDLE idle + $TRICKLE trickling connections, 8 login flooders" >&2
attack_phase attack
stop_server

if [[ $UNTHROTTLED -eq 1 ]]; then
  echo "== under attack with the credential throttles off (every login hashes a password)" >&2
  start_server LENDBOOK_THROTTLE__SCOPES__LOGIN=off LENDBOOK_THROTTLE__SCOPES__LOGIN_ACCOUNT=off
  reads "$WORK/warmup2.txt"
  attack_phase attack-unthrottled
  stop_server
fi

out=$RUN/attack-$STAMP.md
{
  echo "Under attack (\`bench/attack.sh\`, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs; lendbook on CPU 0 with its default configuration, wrk and attackers on CPU 1; ${DUR} s per phase; reads: GET /api/private/ with a token, 64 connections):"
  echo
  echo "| phase | reads req/s | of quiet | p50 / p99 ms | non-2xx / errors | peak RSS MiB | attack |"
  echo "|---|---:|---:|---:|---:|---:|---|"
  printf '%s\n' "${ROWS[@]}"
} | tee "$out"
echo "(written to $out)" >&2
