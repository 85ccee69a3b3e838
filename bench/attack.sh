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
# --seconds long, in --rounds alternating rounds on the same server (quiet, attack, quiet,
# attack, ...: this machine's speed drifts by 10-15% from one round to the next, so a ratio
# of two single phases says little; the report gives medians, each round, and the server's
# CPU in each):
#   quiet      GET /api/private/ (token), 64 connections: the baseline
#   attack     the same reads while bench/attackers.py holds --idle + --trickle connections
#              (from 127.0.1.x, under the per-address cap) and --flooders connections (8) flood
#              POST /api/auth/token/login/ with the right passwords of rotating users
#   (--no-throttle-phase skips) a second server with the credential throttles off, so that
#              every login attempt hashes a password (the worst case: a botnet from many
#              addresses that the per-client limits would not stop): quiet-unthrottled and
#              attack-unthrottled rounds, compared with each other
# Prints a markdown table (also RUN_DIR/attack-<stamp>.md) with, per phase, the server's CPU
# and how busy CPU 1 was: wrk shares CPU 1 with the attackers, so a round with CPU 1 near
# 100% and the server under 100% measured the load side, not the server.
#
# Options: --seconds N (default 15)  --rounds N (3)  --idle N (2500)  --trickle N (2500)
#          --flooders N (8; 0: no login flood)  --port N (8032)  --no-throttle-phase
# (--idle 0 --trickle 0, or --flooders 0, measure what each half of the attack costs.)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
ROOT=$(cd "$HERE/.." && pwd)
RUN=${1:?usage: bench/attack.sh RUN_DIR [--seconds N] [--rounds N] [--idle N] [--trickle N] [--port N]}
shift
DUR=15 ROUNDS=3 IDLE=2500 TRICKLE=2500 FLOODERS=8 PORT=8032 UNTHROTTLED=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds) DUR=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --idle) IDLE=$2; shift 2 ;;
    --trickle) TRICKLE=$2; shift 2 ;;
    --flooders) FLOODERS=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --no-throttle-phase) UNTHROTTLED=0; shift ;;
    *) echo "attack.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
BIN=$ROOT/target/release/lendbook
[[ -x $BIN ]] || { echo "attack.sh: build the release binary first (bench/run.sh does)" >&2; exit 2; }
CREDS=$RUN/creds-lendbook.tsv
split_users "$(wc -l <"$CREDS")"   # the readers of bench/run.sh: READ_USERS
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
  wait_ready "$base/api/public/" "$SERVER" && return 0
  tail -20 "$WORK/server.log" >&2; exit 1
}
stop_server() { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; SERVER=""; }
field() { grep -o " $1=[^ ]*" "$2" | head -1 | cut -d= -f2; }
server_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$SERVER/stat"; }
cpu1_ticks() { awk '$1 == "cpu1" { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat; }  # busy idle
reads() {  # OUTFILE; also OUTFILE.cpu: the server's CPU over the reads, % of one core, and
  # how busy CPU 1 was (wrk and the attackers): near 100%, the load side limited the reads
  local t0 t1 s0 s1 b0 i0 b1 i1
  t0=$(server_ticks); s0=$(date +%s%N); read -r b0 i0 < <(cpu1_ticks)
  taskset -c 1 wrk -t1 -c64 -d"${DUR}s" -s "$HERE/bench.lua" "$base/api/private/" -- \
    auth=token creds="$CREDS" users="$READ_USERS" >"$1" 2>&1
  t1=$(server_ticks); s1=$(date +%s%N); read -r b1 i1 < <(cpu1_ticks)
  awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v ns="$((s1 - s0))" \
    -v b="$((b1 - b0))" -v i="$((i1 - i0))" \
    'BEGIN { printf "%.0f\t%.0f\n", t / hz / (ns / 1e9) * 100, b / (b + i) * 100 }' >"$1.cpu"
}
rss_reset() { echo 5 >"/proc/$SERVER/clear_refs" 2>/dev/null || true; }
rss_peak() { awk '$1 == "VmHWM:" { printf "%.1f", $2 / 1024 }' "/proc/$SERVER/status"; }

attack_phase() {  # NAME ROUND
  local name=$1-$2
  # The attackers share CPU 1 with the wrk that measures the reads, at the same priority: a
  # round whose server CPU is under 100% lost reads to wrk's share of CPU 1, not to the
  # server. (At nice 19 they starve instead: they reconnect late, hold fewer connections and
  # reconnect in bursts.)
  taskset -c 1 python3 "$HERE/attackers.py" --port "$PORT" --idle "$IDLE" --trickle "$TRICKLE" \
    --seconds $(( DUR + 25 )) --status "$WORK/$name-attackers.log" >"$WORK/$name-attackers.json" &
  ATTACK=$!
  # Wait until the connections are held (at most 20 s).
  for _ in $(seq 1 40); do
    held=$(tail -1 "$WORK/$name-attackers.log" 2>/dev/null | grep -o 'held=[0-9]*' | cut -d= -f2 || true)
    [[ ${held:-0} -ge $(( (IDLE + TRICKLE) * 95 / 100 )) ]] && break
    sleep 0.5
  done
  local login=""
  if [[ $FLOODERS -gt 0 ]]; then
    taskset -c 1 wrk -t1 -c"$FLOODERS" -d"$(( DUR + 1 ))s" -s "$HERE/bench.lua" "$base/api/auth/token/login/" -- \
      auth=none method=POST body=login creds="$CREDS" users="$READ_USERS" >"$WORK/$name-login.txt" 2>&1 &
    login=$!
  else
    echo " rps=0 requests=0 non2xx=0" >"$WORK/$name-login.txt"
  fi
  sleep 0.5
  local held_at_start
  held_at_start=$(tail -1 "$WORK/$name-attackers.log" | grep -o 'held=[0-9]*' | cut -d= -f2 || true)
  reads "$WORK/$name-reads.txt"
  local held_at_end
  held_at_end=$(tail -1 "$WORK/$name-attackers.log" | grep -o 'held=[0-9]*' | cut -d= -f2 || true)
  [[ -z $login ]] || wait "$login"
  kill "$ATTACK" 2>/dev/null || true; wait "$ATTACK" 2>/dev/null || true; ATTACK=""
  local l=$WORK/$name-login.txt
  row "$1" "$2" "$WORK/$name-reads.txt" "$held_at_start" "$held_at_end" "$(field rps "$l")" \
    "$(field requests "$l")" "$(field non2xx "$l")"
}

ROWS=$WORK/rows.tsv
: >"$ROWS"
row() {  # PHASE ROUND WRKFILE [HELD_START HELD_END LOGIN_RPS LOGIN_SENT LOGIN_REFUSED]
  local f=$3 rps p99 errs
  rps=$(field rps "$f"); p99=$(field p99_us "$f")
  errs=$(( $(field connect "$f") + $(field read "$f") + $(field write "$f") + $(field timeout "$f") ))
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$rps" "$(field p50_us "$f")" "$p99" \
    "$(field max_us "$f")" "$(field non2xx "$f")" "$errs" "${4:-}" "${5:-}" "${6:-}" "${7:-}" "${8:-}" "$(cat "$f.cpu")" >>"$ROWS"
  echo "== $1 round $2: $(printf '%.0f' "$rps") req/s, p99 $(awk -v u="$p99" 'BEGIN { print u / 1000 }') ms" >&2
}

rounds() {  # SUFFIX: quiet and attack rounds, alternating, on the running server; peak RSS
  # over them all (one reset: the held connections' memory is what the goal bounds)
  local suffix=$1 r
  reads "$WORK/warmup$suffix.txt"
  rss_reset
  for ((r = 1; r <= ROUNDS; r++)); do
    reads "$WORK/quiet$suffix-$r-reads.txt"
    row "quiet$suffix" "$r" "$WORK/quiet$suffix-$r-reads.txt"
    attack_phase "attack$suffix" "$r"
  done
  printf 'rss\t%s\t%s\n' "$suffix" "$(rss_peak)" >>"$ROWS"
}

echo "== reads, quiet and under attack ($IDLE idle + $TRICKLE trickling connections, $FLOODERS login flooders), $ROUNDS rounds each (defaults, throttles on)" >&2
start_server
rounds ""
stop_server

if [[ $UNTHROTTLED -eq 1 ]]; then
  echo "== the same with the credential throttles off (every login hashes a password)" >&2
  start_server LENDBOOK_THROTTLE__SCOPES__LOGIN=off LENDBOOK_THROTTLE__SCOPES__LOGIN_ACCOUNT=off
  rounds "-unthrottled"
  stop_server
fi

out=$RUN/attack-$STAMP.md
{
  echo "Under attack (\`bench/attack.sh\`, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'); lendbook on CPU 0 with its default configuration, wrk and attackers on CPU 1; $ROUNDS alternating rounds of ${DUR} s per phase, medians with the min–max spread; reads: GET /api/private/ with a token, 64 connections):"
  echo
  python3 - "$ROWS" <<'PY'
import statistics, sys
rows, rss = {}, {}
for line in open(sys.argv[1]):
    p = line.rstrip("\n").split("\t")
    if p[0] == "rss":
        rss[p[1]] = p[2]
        continue
    rows.setdefault(p[0], []).append(p)
ms = lambda us: f"{float(us) / 1000:.2f}"
med = lambda xs: statistics.median(float(x) for x in xs)
print("| phase | reads req/s | of quiet | p50 / p99 ms | non-2xx / errors | server CPU | CPU 1 busy | peak RSS MiB | attack |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
detail = []
for phase, rs in rows.items():
    suffix = phase.partition("-")[2]
    suffix = f"-{suffix}" if suffix else ""
    quiet = {r[1]: float(r[2]) for r in rows.get(f"quiet{suffix}", [])}
    rps = [float(r[2]) for r in rs]
    # of quiet: the median of each attack round over the quiet round just before it
    ratio = statistics.median(float(r[2]) / quiet[r[1]] for r in rs)
    note = "no attack"
    if phase.startswith("attack"):
        held = ", ".join(f"{r[8] or 0}→{r[9] or 0}" for r in rs)
        note = (f"held {held}; login flood {med(r[10] for r in rs):,.0f} req/s, "
                f"{sum(int(r[11]) for r in rs):,} sent, {sum(int(r[12]) for r in rs):,} refused (429)")
    print(f"| {phase} | {statistics.median(rps):,.0f} ({min(rps):,.0f}–{max(rps):,.0f}) | {ratio:.0%} | "
          f"{ms(med(r[3] for r in rs))} / {ms(med(r[4] for r in rs))} | "
          f"{sum(int(r[6]) for r in rs)} / {sum(int(r[7]) for r in rs)} | {med(r[13] for r in rs):.0f}% | "
          f"{med(r[14] for r in rs):.0f}% | {rss.get(suffix, '?')} | {note} |")
    for r in rs:
        detail.append(f"| {phase} | {r[1]} | {float(r[2]):,.0f} | {float(r[2]) / quiet[r[1]]:.0%} | "
                      f"{ms(r[3])} / {ms(r[4])} / {ms(r[5])} | {r[6]} / {r[7]} | {r[13]}% | {r[14]}% |")
print()
print("<details><summary>Per round</summary>")
print()
print("| phase | round | reads req/s | of that round's quiet | p50 / p99 / max ms | non-2xx / errors | server CPU | CPU 1 busy |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
print("\n".join(detail))
print()
print("</details>")
PY
} | tee "$out"
echo "(written to $out)" >&2
