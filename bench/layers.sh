#!/usr/bin/env bash
# bench/layers.sh — what each layer costs, measured with both servers loaded at once.
#
#   bench/layers.sh RUN_DIR [options]
#
# RUN_DIR is a directory a previous `bench/run.sh` left in target/bench/ (its database,
# creds-lendbook.tsv, layers-on.toml and layers-off.toml are reused; nothing in it changes
# but the report this writes).
#
# Why a second method: bench/run.sh measures lendbook with every layer on and off in
# alternating rounds, and on a virtual machine whose speed drifts by 20-50% from one 10 s
# round to the next (bare axum ran at 43k, 67k and 91k req/s in three rounds of one run),
# the ratio of two rounds taken seconds apart measures the drift as much as the layers.
# Here the server with the layers off and the server under test run on the same CPU at the
# same time, each loaded by its own wrk (both wrk on the client CPU; which starts first
# alternates; a fresh pair of servers per variant), so whatever the machine
# does it does to both. Each server's throughput is divided by the CPU time it got
# (/proc/PID/task/*/schedstat, nanoseconds): requests per CPU-second, whose ratio is the
# throughput ratio of two servers each alone on a core — the layers' cost — and does not
# depend on how the scheduler happened to split the core. A control pair (layers off
# against layers off) shows what the method reads as "no difference".
#
# Variants (--variants, comma-separated; default all): on (every layer, layers-on.toml),
# log (the access log at INFO, to a file), metrics, throttle (the user rate), hosts
# (allowed hosts), cors, and off (the control: what the method reads as no difference).
#
# Options: --endpoints LIST (public,private; also session, borrowings, friends)  --seconds N (4)  --reps N (5)
#          --connections N (64 per server)  --port N (8040; the variant takes the next one)
#          --server-cpus L (0)  --client-cpus L (1)  --binary PATH (target/release/lendbook)
# Prints a markdown table (also RUN_DIR/layers-<stamp>.md): per endpoint and variant, the
# median ratio of requests per CPU-second to the layers-off server's, with the min-max over
# the reps and each side's req/s while sharing the core; RUN_DIR/layers.tsv holds the same
# for bench/run.sh's report (which runs this with --variants on,off unless --no-layers).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
ROOT=$(cd "$HERE/.." && pwd)
RUN=${1:?usage: bench/layers.sh RUN_DIR [--variants LIST] [--endpoints LIST] [--seconds N] [--reps N]}
shift
VARIANTS=on,log,metrics,throttle,hosts,cors,off
ENDPOINTS=public,private
DUR=4 REPS=5 CONNS=64 PORT=8040 SERVER_CPUS=0 CLIENT_CPUS=1
BIN=$ROOT/target/release/lendbook
while [[ $# -gt 0 ]]; do
  case $1 in
    --variants) VARIANTS=$2; shift 2 ;;
    --endpoints) ENDPOINTS=$2; shift 2 ;;
    --seconds) DUR=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --server-cpus) SERVER_CPUS=$2; shift 2 ;;
    --client-cpus) CLIENT_CPUS=$2; shift 2 ;;
    --binary) BIN=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
die() { echo "layers.sh: $*" >&2; exit 1; }
[[ -d $RUN ]] || die "no run directory $RUN"
RUN=$(cd "$RUN" && pwd)
[[ -x $BIN ]] || die "no binary at $BIN (cargo build --release -p lendbook)"
[[ -f $RUN/layers-on.toml && -f $RUN/layers-off.toml ]] || die "$RUN is not a bench/run.sh run directory"
CREDS=$RUN/creds-lendbook.tsv
if [[ -f $RUN/db/database-url ]]; then DB_URL=$(cat "$RUN/db/database-url"); else DB_URL="sqlite://$RUN/db/lendbook.sqlite3"; fi
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"

STAMP=$(date -u +%Y%m%d-%H%M%S)
WORK=$RUN/layers-$STAMP
mkdir -p "$WORK"
REPORT=$RUN/layers-$STAMP.md

# One configuration per layer: the layers-off file plus that layer's lines of layers-on.toml.
layer_config() {  # VARIANT -> path
  local v=$1 f=$WORK/$1.toml
  case $v in
    on) cp "$RUN/layers-on.toml" "$f" ;;
    off) cp "$RUN/layers-off.toml" "$f" ;;
    log) printf 'access_log = true\n[metrics]\nenabled = false\n' >"$f" ;;
    metrics) printf 'access_log = false\n[metrics]\nenabled = true\n' >"$f" ;;
    throttle) printf 'access_log = false\n[metrics]\nenabled = false\n[throttle]\nuser = "100000/s"\n' >"$f" ;;
    hosts) printf 'access_log = false\n[metrics]\nenabled = false\n[server]\nallowed_hosts = ["127.0.0.1", "localhost"]\n' >"$f" ;;
    cors) printf 'access_log = false\n[metrics]\nenabled = false\n[cors]\nallowed_origins = ["https://app.example.com"]\nallow_credentials = true\n' >"$f" ;;
    *) die "unknown variant $v (on, log, metrics, throttle, hosts, cors, off)" ;;
  esac
  echo "$f"
}

declare -A SPORT SPID
PIDS=()
cleanup() {  # the servers still running (each pair is stopped after its variant)
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

start() {  # NAME CONFIG PORT
  local name=$1 config=$2 port=$3
  ss -H -ltn "sport = :$port" | grep -q . && die "port $port is in use (pass --port)"
  # As bench/run.sh starts it: the credential endpoints' default limits off (the seeding
  # logged everyone in from one address), the run's database, its directory as working dir.
  (cd "$WORK" && export LENDBOOK_THROTTLE__SCOPES__LOGIN=off \
     LENDBOOK_THROTTLE__SCOPES__REGISTER=off LENDBOOK_THROTTLE__SCOPES__REGISTER_ACCOUNT=off \
     && exec taskset -c "$SERVER_CPUS" "$BIN" --config "$config" --database-url "$DB_URL" \
       serve --bind "127.0.0.1:$port") >"$WORK/$name.log" 2>&1 &
  SPID[$name]=$!
  SPORT[$name]=$port
  PIDS+=($!)
  wait_ready "http://127.0.0.1:$port/api/public/" "${SPID[$name]}" && return 0
  tail -5 "$WORK/$name.log" >&2
  die "lendbook ($name) did not start"
}

cpu_ns() {  # PID -> nanoseconds on a CPU, all threads
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ t += $1 } END { printf "%d\n", t }'
}

# The users rotate as in bench/run.sh: readers, the last tenth left out.
split_users "$(wc -l <"$CREDS")"
load() {  # NAME ENDPOINT SECONDS OUT
  # shellcheck disable=SC2046
  taskset -c "$CLIENT_CPUS" wrk -t1 -c"$CONNS" -d"$3s" --timeout 30s -s "$HERE/bench.lua" \
    "http://127.0.0.1:${SPORT[$1]}${EP_PATH[$2]}" -- $(ep_args "$2" "$CREDS") >"$4" 2>&1 || true
}
requests() { grep -o 'requests=[0-9]*' "$1" | head -1 | cut -d= -f2; }

IFS=, read -ra VLIST <<<"$VARIANTS"
IFS=, read -ra ELIST <<<"$ENDPOINTS"
for ep in "${ELIST[@]}"; do
  [[ " public private session borrowings friends " == *" $ep "* ]] \
    || die "endpoint $ep: public, private, session, borrowings or friends (the reads)"
done
stop() {  # NAME
  kill "${SPID[$1]}" 2>/dev/null || true
  wait "${SPID[$1]}" 2>/dev/null || true
}

# For bench/run.sh's report: endpoint, variant, median %, min %, max %, reps.
TSV=$RUN/layers.tsv
: >"$TSV"
rows=()
for ep in "${ELIST[@]}"; do
  for v in "${VLIST[@]}"; do
    # A fresh pair for each variant, started and warmed alike (connections, caches, the
    # throttle's histories), so neither side has served more than the other.
    start base "$(layer_config off)" "$PORT"
    start "$v" "$(layer_config "$v")" $((PORT + 1))
    load base "$ep" 1 "$WORK/warm-base"; load "$v" "$ep" 1 "$WORK/warm-$v"
    ratios=() base_rps=() var_rps=()
    for ((r = 1; r <= REPS; r++)); do
      a0=$(cpu_ns "${SPID[base]}"); b0=$(cpu_ns "${SPID[$v]}")
      # Which wrk starts first alternates, so that neither side always gets the head start.
      if ((r % 2)); then first=base second=$v; else first=$v second=base; fi
      load "$first" "$ep" "$DUR" "$WORK/$ep-$v-$r-$first" & lp=$!
      load "$second" "$ep" "$DUR" "$WORK/$ep-$v-$r-$second"
      wait "$lp"
      a1=$(cpu_ns "${SPID[base]}"); b1=$(cpu_ns "${SPID[$v]}")
      na=$(requests "$WORK/$ep-$v-$r-base"); nb=$(requests "$WORK/$ep-$v-$r-$v")
      [[ -n $na && -n $nb ]] || die "wrk gave no result (see $WORK/$ep-$v-$r-*)"
      read -r ratio ra rb < <(python3 -c "
a, b = $na / max($a1 - $a0, 1), $nb / max($b1 - $b0, 1)
print(f'{b / a * 100:.1f} {$na / $DUR:.0f} {$nb / $DUR:.0f}')")
      ratios+=("$ratio"); base_rps+=("$ra"); var_rps+=("$rb")
      echo "  $ep $v rep $r: $ratio% (layers off $ra req/s, $v $rb req/s, sharing the core)" >&2
    done
    stop base; stop "$v"
    rows+=("$(python3 - "$ep" "$v" "${ratios[*]}" "${base_rps[*]}" "${var_rps[*]}" "$TSV" <<'EOF'
import statistics, sys
ep, v, ratios, base, var, tsv = sys.argv[1:]
r = [float(x) for x in ratios.split()]
b = [float(x) for x in base.split()]
w = [float(x) for x in var.split()]
names = {"on": "every layer on", "log": "access log", "metrics": "metrics", "throttle": "user-rate throttle",
         "hosts": "allowed hosts", "cors": "CORS", "off": "layers off (control)"}
eps = {"public": "`GET /api/public/`", "private": "`GET /api/private/` (token)", "session": "`GET /api/private/` (session)",
       "borrowings": "`GET /api/v1/borrowings/?limit=20`", "friends": "`GET /api/v1/friends/`"}
print(f"| {eps.get(ep, ep)} | {names[v]} | {statistics.median(r):.1f}% ({min(r):.1f}–{max(r):.1f}) "
      f"| {statistics.median(b):,.0f} | {statistics.median(w):,.0f} |")
with open(tsv, "a") as f:
    print(ep, v, statistics.median(r), min(r), max(r), len(r), sep="\t", file=f)
EOF
)")
  done
done

{
  echo "## What each layer costs: both servers loaded at once"
  echo
  echo "\`bench/layers.sh $RUN\`, $(date -u '+%Y-%m-%d %H:%M UTC'), $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'),"
  echo "$(lscpu 2>/dev/null | awk -F: '/^Model name/ { gsub(/^[ \t]+/, "", $2); print $2; exit }'), $(nproc) CPUs; both servers on CPU $SERVER_CPUS, each loaded by its own wrk"
  echo "($CONNS connections) on CPU $CLIENT_CPUS, $REPS reps of $DUR s per variant. Ratio: the variant's requests per"
  echo "CPU-second over the layers-off server's in the same rep (median, min–max over the reps)."
  echo
  echo "| endpoint | variant | of layers off | layers off req/s (sharing) | variant req/s (sharing) |"
  echo "|---|---|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
} | tee "$REPORT"
echo "report: $REPORT" >&2
