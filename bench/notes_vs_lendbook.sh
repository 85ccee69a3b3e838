#!/usr/bin/env bash
# bench/notes_vs_lendbook.sh — does the framework cost the same for any app? Loads
# token-authenticated lists of lendbook and of notes-api under the same conditions: release
# builds, SQLite, the same users and rows per user, both servers pinned to the same CPUs, wrk
# with bench.lua on the others, rounds alternating between the two servers. Two pairs:
#   same shape: lendbook's belongings (id, name) and notes-api's notebooks (id, title);
#   each app's main list: lendbook's borrowings (id, 2 links, 2 datetimes) and notes-api's
#   notes (id, a link, title, body, 2 datetimes: two more strings per row to escape).
#
# Usage: bench/notes_vs_lendbook.sh [options]
#   --quick              smoke test: 20 users, 1 round x 2 s, 1 s warm-up
#   --users N            users per app (default 200)
#   --rows N             list rows per user: belongings and borrowings in lendbook, notebooks
#                        and notes in notes-api
#                        (default 20)
#   -d, --duration SEC   seconds per measured round (default 10)
#   -w, --warmup SEC     warm-up per server (default 2)
#   -r, --rounds N       rounds per server (default 3)
#   -c, --connections N  wrk connections (default 64)
#   --pin MODE           split (servers `taskset -c 0`, wrk `taskset -c 1`; default on 2+
#                        CPUs) or none
#   --out DIR            run directory (default target/bench/notes-<timestamp>)
#   --no-build           use the existing release binaries
#   -h, --help
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
REPO=$(cd "$HERE/.." && pwd)
USERS=200 ROWS=20 DUR=10 WARM=2 ROUNDS=3 CONNS=64 PIN="" OUT="" BUILD=1 QUICK=0

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "notes_vs_lendbook.sh: $*" >&2; exit 2; }
say() { echo "== $*" >&2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --users) USERS=$2; shift 2 ;;
    --rows) ROWS=$2; shift 2 ;;
    -d|--duration) DUR=${2%s}; shift 2 ;;
    -w|--warmup) WARM=${2%s}; shift 2 ;;
    -r|--rounds) ROUNDS=$2; shift 2 ;;
    -c|--connections) CONNS=$2; shift 2 ;;
    --pin) PIN=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
if [[ $QUICK -eq 1 ]]; then USERS=20 DUR=2 WARM=1 ROUNDS=1; fi
if [[ -z $PIN ]]; then if [[ $(nproc) -ge 2 ]]; then PIN=split; else PIN=none; fi; fi
for tool in curl python3 wrk taskset; do command -v "$tool" >/dev/null || die "$tool not found"; done

OUT=${OUT:-$REPO/target/bench/notes-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/db" "$OUT/wrk"
OUT=$(cd "$OUT" && pwd)

if [[ $BUILD -eq 1 ]]; then
  say "cargo build --release -p lendbook -p notes-api"
  (cd "$REPO" && cargo build --release -p lendbook -p notes-api) >"$OUT/build.log" 2>&1 \
    || { tail -30 "$OUT/build.log" >&2; die "build failed (see $OUT/build.log)"; }
fi
declare -A BIN=([lendbook]=$REPO/target/release/lendbook [notes]=$REPO/target/release/notes-api)
declare -A PORT=([lendbook]=8010 [notes]=8011)
# Pairs of lists: NAME LENDBOOK-PATH NOTES-PATH.
PAIRS=("same-shape /api/v1/belongings/ /api/notebooks/" "main-list /api/v1/borrowings/ /api/notes/")
declare -A PID=()
for side in lendbook notes; do [[ -x ${BIN[$side]} ]] || die "${BIN[$side]} not found"; done

cleanup() { local p; for p in "${PID[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM

start() {  # SIDE LOG [CPUS]
  local side=$1 log=$2 cpus=${3:-} cmd url=http://127.0.0.1:${PORT[$1]}
  ss -H -ltn "sport = :${PORT[$side]}" | grep -q . && die "port ${PORT[$side]} is in use"
  if [[ $side == lendbook ]]; then
    cmd=("${BIN[lendbook]}" --database-url "sqlite://$OUT/db/lendbook.sqlite3" serve --bind "127.0.0.1:${PORT[lendbook]}")
  else
    cmd=("${BIN[notes]}" serve)
  fi
  [[ -n $cpus ]] && cmd=(taskset -c "$cpus" "${cmd[@]}")
  # Seeding floods the login endpoints from one client: their limits are off for the run.
  # notes-api's `notebooks` scope (120/min, its throttling example) is off too: lendbook's
  # belongings have no scope, and the load would be all 429s.
  (cd "$OUT/db" && export LENDBOOK_THROTTLE__SCOPES__LOGIN=off LENDBOOK_THROTTLE__SCOPES__REGISTER=off \
     LENDBOOK_THROTTLE__SCOPES__REGISTER_ACCOUNT=off NOTES_THROTTLE__LOGIN=off NOTES_THROTTLE__NOTEBOOKS=off \
     NOTES_DATABASE_URL="sqlite://$OUT/db/notes.sqlite3" NOTES_BIND="127.0.0.1:${PORT[notes]}" \
     NOTES_SECRET_KEY=notes-bench-secret-0123456789abcdef && exec "${cmd[@]}") >"$log" 2>&1 &
  PID[$side]=$!
  wait_ready "$url/api/login/" "${PID[$side]}" && return 0
  tail -20 "$log" >&2; die "$side did not start (see $log)"
}
stop() { kill "${PID[$1]}" 2>/dev/null || true; wait "${PID[$1]}" 2>/dev/null || true; unset "PID[$1]"; }

say "seeding lendbook: $USERS users x $ROWS belongings and borrowings (and 5 friends)"
start lendbook "$OUT/lendbook-seed.log"
python3 "$HERE/seed.py" http --url "http://127.0.0.1:${PORT[lendbook]}" --creds "$OUT/creds-lendbook.tsv" \
  --sqlite "$OUT/db/lendbook.sqlite3" --users "$USERS" --friends 5 --belongings "$ROWS" --borrowings "$ROWS" \
  --prefix lb --password Lend-Bench-pw-7319 --workers 8 >"$OUT/seed-lendbook.json" 2>"$OUT/seed-lendbook.log" \
  || { tail -20 "$OUT/seed-lendbook.log" >&2; die "seeding lendbook failed"; }
stop lendbook
say "seeding notes-api: $USERS users x $ROWS notebooks and notes"
start notes "$OUT/notes-seed.log"
python3 "$HERE/seed_notes.py" --url "http://127.0.0.1:${PORT[notes]}" --creds "$OUT/creds-notes.tsv" \
  --sqlite "$OUT/db/notes.sqlite3" --bin "${BIN[notes]}" --users "$USERS" --notebooks "$ROWS" --notes "$ROWS" \
  >"$OUT/seed-notes.json" 2>"$OUT/seed-notes.log" || { tail -20 "$OUT/seed-notes.log" >&2; die "seeding notes-api failed"; }
stop notes

WRK=(wrk)
if [[ $PIN == split ]]; then
  start lendbook "$OUT/lendbook.log" 0; start notes "$OUT/notes.log" 0; WRK=(taskset -c 1 wrk)
else
  start lendbook "$OUT/lendbook.log"; start notes "$OUT/notes.log"
fi
run_wrk() {  # SIDE PATH SECONDS OUTFILE
  "${WRK[@]}" -t1 -c"$CONNS" -d"$3s" --timeout 30s -s "$HERE/bench.lua" \
    "http://127.0.0.1:${PORT[$1]}$2" -- auth=token "creds=$OUT/creds-$1.tsv" "users=0:$USERS" >"$4" 2>&1 || true
}
field() { grep -o " $1=[^ ]*" <<<"$2" | head -1 | cut -d= -f2; }

say "load: $ROUNDS x ${DUR}s per server and list (+${WARM}s warm-up), -c$CONNS, pin=$PIN"
: >"$OUT/results.tsv"
for pair in "${PAIRS[@]}"; do
  read -r name lb_path notes_path <<<"$pair"
  declare -A LIST=([lendbook]=$lb_path [notes]=$notes_path)
  for side in lendbook notes; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Token $(head -1 "$OUT/creds-$side.tsv" | cut -f3)" \
      "http://127.0.0.1:${PORT[$side]}${LIST[$side]}")
    [[ $code == 200 ]] || die "$side: GET ${LIST[$side]} answered $code"
    [[ $WARM -gt 0 ]] && run_wrk "$side" "${LIST[$side]}" "$WARM" "$OUT/wrk/$name-$side-warmup.txt"
  done
  for ((r = 1; r <= ROUNDS; r++)); do
    for side in lendbook notes; do
      run_wrk "$side" "${LIST[$side]}" "$DUR" "$OUT/wrk/$name-$side-$r.txt"
      line=$(grep '^BENCH ' "$OUT/wrk/$name-$side-$r.txt") || { cat "$OUT/wrk/$name-$side-$r.txt" >&2; die "no wrk result"; }
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$side" "${LIST[$side]}" "$r" "$(field rps "$line")" \
        "$(field p50_us "$line")" "$(field non2xx "$line")" | tee -a "$OUT/results.tsv" >&2
    done
  done
done

python3 - "$OUT/results.tsv" "$USERS" "$ROWS" <<'PY' | tee "$OUT/report.md"
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines() if l]
print(f"{sys.argv[2]} users x {sys.argv[3]} rows each; medians over rounds\n")
print("| pair | app | list | req/s (per round) | p50 ms | non-2xx |\n|---|---|---|---:|---:|---:|")
ratios = []
for pair in dict.fromkeys(r[0] for r in rows):
    med = {}
    for side in ("lendbook", "notes"):
        mine = [r for r in rows if r[0] == pair and r[1] == side]
        med[side] = statistics.median(float(r[4]) for r in mine)
        p50 = statistics.median(float(r[5]) for r in mine) / 1000
        bad = sum(int(r[6]) for r in mine)
        rounds = ", ".join(f"{float(r[4]):.0f}" for r in mine)
        print(f"| {pair} | {side} | GET {mine[0][2]} | {med[side]:.0f} ({rounds}) | {p50:.2f} | {bad} |")
    ratios.append((pair, med["notes"] / med["lendbook"]))
print()
for pair, ratio in ratios:
    print(f"notes-api / lendbook, {pair}: {ratio:.3f}")
PY
say "report: $OUT/report.md"
