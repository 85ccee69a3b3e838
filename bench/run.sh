#!/usr/bin/env bash
# bench/run.sh — reproducible HTTP benchmark of lendbook (optionally against another server).
#
# Builds the release binary, seeds a fresh SQLite database, starts lendbook, loads each
# endpoint with wrk over loopback and prints a markdown report (also written to
# RUN_DIR/report.md). See bench/README.md for the method.
#
# Usage: bench/run.sh [options]
#   --quick                smoke test: 20 users, 2 s rounds, 1 s warm-up (3 rounds)
#   --large                grow the borrowings table to 1,000,000 rows (in SQL, after seeding)
#   --vs URL               also load the server at URL (e.g. the DRF reference,
#                          http://127.0.0.1:8001), seeded through its HTTP API, in
#                          alternating rounds; prints the lendbook/URL ratio per endpoint
#       --vs-name NAME     its name in the report (default reference)
#   --database-url URL     run lendbook on PostgreSQL (e.g. postgres://postgres@127.0.0.1:5432/test):
#                          a fresh database lendbench_<timestamp> is created on that server
#                          (and dropped at the end unless --keep-db); default: SQLite in the run dir
#       --keep-db          keep that PostgreSQL database (bench/pair.sh reuses it)
#   --sides LIST           servers besides --vs, comma-separated (default lendbook,plain,axum):
#                          lendbook: every layer on (throttling with a user rate, access log at
#                                    INFO to a file, metrics, allowed hosts, CORS);
#                          plain:    the same binary and database with those layers off;
#                          axum:     a bare axum hello-world (examples/bare_axum.rs), /api/public/ only
#       --plain-endpoints LIST   the endpoints measured on plain (default public,private)
#   --users N              users to seed (default 1000; 50 with --vs, for both servers)
#   --friends N, --belongings N, --borrowings N
#                          per user (default 20 each)
#   --borrowings-total N   grow the borrowings table to N rows (--large = 1000000)
#       --borrowings-table NAME
#                          the table to grow (default: the one table named like %borrow%)
#   -d, --duration SEC     seconds per measured round (default 10)
#   -w, --warmup SEC       warm-up per endpoint and server before round 1 (default 2)
#   -r, --rounds N         measured rounds per endpoint and server (default 3)
#   -c, --connections N    wrk connections (default 64)
#       --login-connections N
#                          connections for the password-hashing login endpoint (default 8)
#   -t, --threads N        wrk threads (default 1)
#       --timeout SEC      wrk request timeout (default 30)
#       --endpoints LIST   comma-separated subset of: public,private,session,borrowings,
#                          friends,friends-post,login (default all, in that order)
#       --pin MODE         split: lendbook started under `taskset -c 0`, wrk under
#                          `taskset -c 1` (default on 2+ CPUs); none: no pinning
#       --server-cpus L, --client-cpus L
#                          CPU lists for split mode (default 0 and 1)
#       --vs-pid PIDS      the --vs server's PIDs, comma-separated (default: the processes
#                          listening on its port, from `ss -ltnp`)
#       --no-pin-vs        in split mode, leave the --vs server's CPU affinity alone (default:
#                          pin its processes to --server-cpus for the run, restored at exit)
#       --port N           lendbook's port (default 8010)
#       --out DIR          run directory (default target/bench/run-<timestamp>)
#       --no-build         use the existing target/release/lendbook
#       --no-layers        skip the closing bench/layers.sh pass (with plain and split
#                          pinning, run.sh ends by measuring every layer on against off with
#                          both servers loaded at once on the server CPU: a ratio this
#                          machine's drift between rounds does not move)
#   -h, --help
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
REPO=$(cd "$HERE/.." && pwd)
ORIG_CMD="bench/run.sh${*:+ $*}"

QUICK=0
USERS=""
FRIENDS=20
BELONGINGS=20
BORROWINGS=20
BORROW_TOTAL=0
BORROW_TABLE=""
DUR=""
WARM=""
ROUNDS=3
CONNS=64
LOGIN_CONNS=8
THREADS=1
TIMEOUT=30
ENDPOINTS="public,private,session,borrowings,friends,friends-post,login"
PIN=""
SERVER_CPUS=0
CLIENT_CPUS=1
VS_URL=""
VS_PIDS=""
VS_NAME=reference
PIN_VS=1
PORT=8010
OUT=""
BUILD=1
DB_URL=""
KEEP_DB=0
SIDES_ARG="lendbook,plain,axum"
LAYERS=1
PLAIN_EPS="public,private"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "run.sh: $*" >&2; exit 2; }
say() { echo "== $*" >&2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --large) BORROW_TOTAL=1000000; shift ;;
    --borrowings-total) BORROW_TOTAL=$2; shift 2 ;;
    --borrowings-table) BORROW_TABLE=$2; shift 2 ;;
    --vs) VS_URL=${2%/}; shift 2 ;;
    --vs-name) VS_NAME=$2; shift 2 ;;
    --database-url) DB_URL=$2; shift 2 ;;
    --keep-db) KEEP_DB=1; shift ;;
    --sides) SIDES_ARG=$2; shift 2 ;;
    --plain-endpoints) PLAIN_EPS=$2; shift 2 ;;
    --users) USERS=$2; shift 2 ;;
    --friends) FRIENDS=$2; shift 2 ;;
    --belongings) BELONGINGS=$2; shift 2 ;;
    --borrowings) BORROWINGS=$2; shift 2 ;;
    -d|--duration) DUR=${2%s}; shift 2 ;;
    -w|--warmup) WARM=${2%s}; shift 2 ;;
    -r|--rounds) ROUNDS=$2; shift 2 ;;
    -c|--connections) CONNS=$2; shift 2 ;;
    --login-connections) LOGIN_CONNS=$2; shift 2 ;;
    -t|--threads) THREADS=$2; shift 2 ;;
    --timeout) TIMEOUT=${2%s}; shift 2 ;;
    --endpoints) ENDPOINTS=$2; shift 2 ;;
    --pin) PIN=$2; shift 2 ;;
    --server-cpus) SERVER_CPUS=$2; shift 2 ;;
    --client-cpus) CLIENT_CPUS=$2; shift 2 ;;
    --vs-pid) VS_PIDS=${2//,/ }; shift 2 ;;
    --no-pin-vs) PIN_VS=0; shift ;;
    --port) PORT=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --no-layers) LAYERS=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

# ---- defaults that depend on the mode ------------------------------------------------------
if [[ -z $USERS ]]; then
  if [[ $QUICK -eq 1 ]]; then USERS=20; elif [[ -n $VS_URL ]]; then USERS=50; else USERS=1000; fi
fi
if [[ $QUICK -eq 1 ]]; then DUR=${DUR:-2}; WARM=${WARM:-1}; fi
DUR=${DUR:-10}
WARM=${WARM:-2}
NPROC=$(nproc)
if [[ -z $PIN ]]; then if [[ $NPROC -ge 2 ]]; then PIN="split"; else PIN="none"; fi; fi
[[ $PIN == split || $PIN == none ]] || die "--pin must be split or none"
[[ $ROUNDS -ge 1 && $USERS -ge 1 ]] || die "--rounds and --users must be at least 1"
[[ -z $VS_URL || $VS_URL == http://127.* || $VS_URL == http://localhost* || $VS_URL == "http://[::1]"* ]] \
  || die "--vs must be a loopback http:// URL"
ALL_ENDPOINTS=" public private session borrowings friends friends-post login "
IFS=, read -r -a EPS <<<"$ENDPOINTS"
for ep in "${EPS[@]}"; do [[ $ALL_ENDPOINTS == *" $ep "* ]] || die "unknown endpoint '$ep'"; done

IFS=, read -r -a LB_SIDES <<<"$SIDES_ARG"
for sd in "${LB_SIDES[@]}"; do [[ " lendbook plain axum " == *" $sd "* ]] || die "unknown side '$sd'"; done
[[ " ${LB_SIDES[*]} " == *" lendbook "* ]] || die "--sides must include lendbook"
[[ -z $DB_URL || $DB_URL == postgres://* || $DB_URL == postgresql://* ]] || die "--database-url must be postgres://"
[[ -z $DB_URL || $BORROW_TOTAL -eq 0 ]] || die "--large/--borrowings-total grow a SQLite table only"
for tool in curl python3 ss taskset; do command -v "$tool" >/dev/null || die "$tool not found"; done
if ! command -v wrk >/dev/null; then
  say "installing wrk (apt-get install -y wrk)"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; } \
    || die "could not install wrk"
fi

STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=${OUT:-$REPO/target/bench/run-$STAMP}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RESULTS=$OUT/results.tsv
META=$OUT/meta.tsv
: >"$RESULTS"
: >"$META"
meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }

# ---- processes we start, affinities we change: undone at exit ------------------------------
LB_PID=""
EXTRA_PIDS=""
PG_DB=""
declare -A ORIG_AFF=()
cleanup() {
  local pid
  if [[ -n $LB_PID ]]; then kill "$LB_PID" 2>/dev/null || true; wait "$LB_PID" 2>/dev/null || true; fi
  for pid in $EXTRA_PIDS; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  if [[ -n $PG_DB && $KEEP_DB -eq 0 ]]; then psql "$DB_URL" -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true; fi
  for pid in "${!ORIG_AFF[@]}"; do taskset -a -cp "${ORIG_AFF[$pid]}" "$pid" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- build ---------------------------------------------------------------------------------
BIN=$REPO/target/release/lendbook
if [[ $BUILD -eq 1 ]]; then
  say "cargo build --release -p lendbook (and the bare_axum example)"
  (cd "$REPO" && cargo build --release -p lendbook --bin lendbook --example bare_axum) >"$OUT/build.log" 2>&1 \
    || { tail -30 "$OUT/build.log" >&2; die "build failed (see $OUT/build.log)"; }
fi
[[ -x $BIN ]] || die "$BIN not found (build it, or drop --no-build)"
AXUM_BIN=$REPO/target/release/examples/bare_axum

# ---- lendbook server -------------------------------------------------------------------------
DB=$OUT/db/lendbook.sqlite3
LB_URL=http://127.0.0.1:$PORT
mkdir -p "$OUT/db"
if [[ -n $DB_URL ]]; then
  command -v psql >/dev/null || die "psql not found (needed for --database-url)"
  PG_DB="lendbench_${STAMP//-/_}"
  psql "$DB_URL" -qc "CREATE DATABASE $PG_DB" >/dev/null || die "cannot create database $PG_DB on $DB_URL"
  LB_DB_URL="${DB_URL%/*}/$PG_DB"
  echo "$LB_DB_URL" >"$OUT/db/database-url"   # for bench/pair.sh
else
  LB_DB_URL="sqlite://$DB"
fi

# The layers the goals are about, on (lendbook) and off (plain). The user rate is far above
# what the load sends per user or per address (the benchmark measures the counting, not
# refusals): one address sends every /api/public/ request.
cat >"$OUT/layers-on.toml" <<'TOML'
access_log = true
[metrics]
enabled = true
[throttle]
user = "100000/s"
[server]
allowed_hosts = ["127.0.0.1", "localhost"]
[cors]
allowed_origins = ["https://app.example.com"]
allow_credentials = true
TOML
cat >"$OUT/layers-off.toml" <<'TOML'
access_log = false
[metrics]
enabled = false
TOML

spawn_lendbook() {  # LOGFILE PORT CONFIG [taskset CPUs]; sets SPAWNED
  local log=$1 port=$2 config=$3 cpus=${4:-}
  ss -H -ltn "sport = :$port" | grep -q . && die "port $port is in use (pass --port)"
  local cmd=("$BIN" --config "$config" --database-url "$LB_DB_URL" serve --bind "127.0.0.1:$port")
  [[ -n $cpus ]] && cmd=(taskset -c "$cpus" "${cmd[@]}")
  # The run directory is the working directory, so no stray ./lendbook.toml is read (and a
  # PostgreSQL run's secret file, ./lendbook.secret, lands there).
  # One client seeds a thousand users and floods the login endpoint: the credential
  # endpoints' default limits (README, "Under attack") would refuse it, so they are off here.
  (cd "$OUT/db" && export LENDBOOK_THROTTLE__SCOPES__LOGIN=off \
     LENDBOOK_THROTTLE__SCOPES__REGISTER=off LENDBOOK_THROTTLE__SCOPES__REGISTER_ACCOUNT=off \
     && exec "${cmd[@]}") >"$log" 2>&1 &
  SPAWNED=$!
  wait_ready "http://127.0.0.1:$port/api/public/" "$SPAWNED" || { tail -20 "$log" >&2; die "lendbook did not start (see $log)"; }
}

start_lendbook() {  # LOGFILE [taskset CPUs]
  spawn_lendbook "$1" "$PORT" "$OUT/layers-on.toml" "${2:-}"
  LB_PID=$SPAWNED
}

stop_lendbook() {
  [[ -n $LB_PID ]] || return 0
  kill "$LB_PID" 2>/dev/null || true
  wait "$LB_PID" 2>/dev/null || true
  LB_PID=""
}

# ---- seeding ---------------------------------------------------------------------------------
PASSWORD="Lend-Bench-pw-7319"
PREFIX="b${STAMP//-/}u"   # unique per run: a --vs server may already hold earlier runs' users
seed_args=(--users "$USERS" --friends "$FRIENDS" --belongings "$BELONGINGS" --borrowings "$BORROWINGS"
           --prefix "$PREFIX" --password "$PASSWORD")

say "seeding lendbook: $USERS users x ($FRIENDS friends, $BELONGINGS belongings, $BORROWINGS borrowings)"
start_lendbook "$OUT/lendbook-seed.log"   # unpinned: logins hash passwords on every core
if [[ -n $DB_URL ]]; then clone=(--pg "$LB_DB_URL"); else clone=(--sqlite "$DB"); fi
python3 "$HERE/seed.py" http --url "$LB_URL" --creds "$OUT/creds-lendbook.tsv" "${clone[@]}" \
  "${seed_args[@]}" --workers 8 >"$OUT/seed-lendbook.json" 2>"$OUT/seed-lendbook.log" \
  || { tail -20 "$OUT/seed-lendbook.log" >&2; die "seeding lendbook failed"; }
stop_lendbook
say "  $(cat "$OUT/seed-lendbook.json")"
if [[ $BORROW_TOTAL -gt 0 ]]; then
  grep -q '"lending": true' "$OUT/seed-lendbook.json" \
    || die "--large/--borrowings-total: lendbook has no lending endpoints to seed borrowings through"
  say "growing the borrowings table to $BORROW_TOTAL rows"
  python3 "$HERE/seed.py" grow --sqlite "$DB" --total "$BORROW_TOTAL" ${BORROW_TABLE:+--table "$BORROW_TABLE"} >"$OUT/grow.json" 2>>"$OUT/seed-lendbook.log" \
    || { tail -5 "$OUT/seed-lendbook.log" >&2; die "growing borrowings failed"; }
fi

if [[ -n $VS_URL ]]; then
  say "seeding $VS_URL through its HTTP API (same counts)"
  curl -sf -o /dev/null --max-time 5 "$VS_URL/api/public/" || die "$VS_URL/api/public/ does not answer 2xx"
  python3 "$HERE/seed.py" http --url "$VS_URL" --creds "$OUT/creds-vs.tsv" "${seed_args[@]}" --workers 4 \
    >"$OUT/seed-vs.json" 2>"$OUT/seed-vs.log" || { tail -20 "$OUT/seed-vs.log" >&2; die "seeding $VS_URL failed"; }
  say "  $(cat "$OUT/seed-vs.json")"
fi

# ---- the servers under load ------------------------------------------------------------------
say "starting lendbook for the benchmark$([[ $PIN == split ]] && echo " (taskset -c $SERVER_CPUS)")"
if [[ $PIN == split ]]; then start_lendbook "$OUT/lendbook.log" "$SERVER_CPUS"; else start_lendbook "$OUT/lendbook.log"; fi

SIDES=(lendbook)
declare -A URL=([lendbook]=$LB_URL) PIDS=([lendbook]=$LB_PID) CREDS=([lendbook]=$OUT/creds-lendbook.tsv)
srv_cpus=""; [[ $PIN == split ]] && srv_cpus=$SERVER_CPUS
if [[ " ${LB_SIDES[*]} " == *" plain "* ]]; then
  say "starting lendbook with the layers off (port $((PORT + 1)))"
  spawn_lendbook "$OUT/plain.log" $((PORT + 1)) "$OUT/layers-off.toml" "$srv_cpus"
  SIDES+=(plain); URL[plain]=http://127.0.0.1:$((PORT + 1)); PIDS[plain]=$SPAWNED
  CREDS[plain]=$OUT/creds-lendbook.tsv; EXTRA_PIDS+=" $SPAWNED"
fi
if [[ " ${LB_SIDES[*]} " == *" axum "* ]]; then
  [[ -x $AXUM_BIN ]] || die "$AXUM_BIN not found (cargo build --release -p lendbook --example bare_axum)"
  say "starting bare axum (port $((PORT + 2)))"
  if [[ -n $srv_cpus ]]; then taskset -c "$srv_cpus" "$AXUM_BIN" "127.0.0.1:$((PORT + 2))" >"$OUT/axum.log" 2>&1 &
  else "$AXUM_BIN" "127.0.0.1:$((PORT + 2))" >"$OUT/axum.log" 2>&1 & fi
  pid=$!
  wait_ready "http://127.0.0.1:$((PORT + 2))/api/public/" "$pid" || die "bare axum did not start"
  SIDES+=(axum); URL[axum]=http://127.0.0.1:$((PORT + 2)); PIDS[axum]=$pid
  CREDS[axum]=$OUT/creds-lendbook.tsv; EXTRA_PIDS+=" $pid"
fi
if [[ -n $VS_URL ]]; then
  SIDES+=(vs)
  URL[vs]=$VS_URL
  CREDS[vs]=$OUT/creds-vs.tsv
  if [[ -z $VS_PIDS ]]; then
    vs_port=${VS_URL#*://}; vs_port=${vs_port%%/*}; vs_port=${vs_port##*:}
    VS_PIDS=$(ss -H -ltnp "sport = :$vs_port" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -un | tr '\n' ' ')
  fi
  PIDS[vs]=${VS_PIDS% }
  [[ -n ${PIDS[vs]} ]] || say "WARNING: no PID found for $VS_URL: no CPU or RSS figures for it (pass --vs-pid)"
  VS_AFF=""
  for pid in ${PIDS[vs]}; do
    aff=$(taskset -pc "$pid" 2>/dev/null | awk '{ print $NF }') || continue
    VS_AFF+="$pid:$aff "
    if [[ $PIN == split && $aff != "$SERVER_CPUS" ]]; then
      if [[ $PIN_VS -eq 1 ]]; then
        say "pinning $VS_URL's pid $pid (affinity $aff) to CPU $SERVER_CPUS for the run"
        ORIG_AFF[$pid]=$aff
        taskset -a -cp "$SERVER_CPUS" "$pid" >/dev/null || die "taskset failed for pid $pid"
      else
        say "WARNING: $VS_URL's pid $pid runs on CPUs $aff, not $SERVER_CPUS (--no-pin-vs)"
      fi
    fi
  done
fi

split_users "$USERS"

# endpoint -> "METHOD PATH" (paths and wrk script arguments: bench/lib.sh)
declare -A EP_LABEL=(
  [public]="GET /api/public/"
  [private]="GET /api/private/ (token)"
  [session]="GET /api/private/ (session cookie)"
  [borrowings]="GET /api/v1/borrowings/?limit=20"
  [friends]="GET /api/v1/friends/"
  [friends-post]="POST /api/v1/friends/"
  [login]="POST /api/auth/token/login/"
)
ep_conns() { if [[ $1 == login ]]; then echo "$LOGIN_CONNS"; else echo "$CONNS"; fi; }

preflight() {  # ENDPOINT SIDE -> HTTP status of one request like the load's first
  local ep=$1 side=$2 creds=${CREDS[$2]} url="${URL[$2]}${EP_PATH[$1]}"
  local line user tok sid
  line=$(sed -n "1p" "$creds"); [[ $ep == friends-post ]] && line=$(sed -n "$USERS p" "$creds")
  IFS=$'\t' read -r user _ tok sid <<<"$line"
  local args=(-s -o "$OUT/preflight.body" -w '%{http_code}' --max-time 60 -H 'Accept: application/json')
  case $ep in
    public) ;;
    private|borrowings|friends) args+=(-H "Authorization: Token $tok") ;;
    session) args+=(-H "Cookie: sessionid=$sid") ;;
    friends-post) args+=(-H "Authorization: Token $tok" -H 'Content-Type: application/json' -d '{"name":"preflight"}') ;;
    login) args+=(-H 'Content-Type: application/json' -d "{\"username\":\"$user\",\"password\":\"$PASSWORD\"}") ;;
  esac
  local code
  code=$(curl "${args[@]}" "$url" 2>/dev/null) || true
  echo "${code:-000}"
}

WRK=(wrk)
[[ $PIN == split ]] && WRK=(taskset -c "$CLIENT_CPUS" wrk)
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() {  # sum of utime+stime over PIDS (all threads)
  local t=0 pid v
  for pid in "$@"; do
    v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null) || continue
    t=$((t + v))
  done
  echo "$t"
}
reset_hwm() { local pid; for pid in "$@"; do echo 5 >"/proc/$pid/clear_refs" 2>/dev/null || HWM_RESET=0; done; }
hwm_kib() {
  local t=0 pid v
  for pid in "$@"; do
    v=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$pid/status" 2>/dev/null) || continue
    t=$((t + ${v:-0}))
  done
  echo "$t"
}
HWM_RESET=1
w0=0 w1=0
sys_cpu() {  # "busy total" jiffies over all CPUs; busy = user + nice + system, the fields that
  # processes' utime/stime add up to (interrupt and softirq time, e.g. loopback networking, and
  # steal are left out)
  awk '$1 == "cpu" { t = 0; for (i = 2; i <= 9; i++) t += $i; print $2 + $3 + $4, t; exit }' /proc/stat
}
cpu_list() {  # "0-2,5" -> "0 1 2 5"
  local part parts out=()
  IFS=, read -ra parts <<<"$1"
  for part in "${parts[@]}"; do
    if [[ $part == *-* ]]; then out+=("$(seq -s ' ' "${part%-*}" "${part#*-}")"); else out+=("$part"); fi
  done
  echo "${out[*]}"
}
steal_ticks() {  # jiffies the hypervisor took from the server's CPUs (all CPUs when unpinned):
  # a virtual machine's stalls show up as p99 and max latency that no server-side change moves
  local cpus
  if [[ $PIN == split ]]; then cpus=" $(cpu_list "$SERVER_CPUS") "; else cpus=""; fi
  awk -v cpus="$cpus" '$1 ~ /^cpu[0-9]+$/ { n = substr($1, 4); if (cpus == "" || index(cpus, " " n " ")) t += $9 }
    END { print t + 0 }' /proc/stat
}
child_cpu_s() {  # VAR: user+sys seconds of this shell's finished children, from bash's `times`,
  # which must run in this shell (in a $(...) subshell it would see only that subshell's children)
  times >"$OUT/times.tmp"
  printf -v "$1" '%s' "$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub(/s$/, "", a[2]); t += a[1] * 60 + a[2] } print t }' "$OUT/times.tmp")"
}

run_wrk() {  # ENDPOINT SIDE SECONDS OUTFILE
  local ep=$1 side=$2
  # shellcheck disable=SC2046
  "${WRK[@]}" -t"$THREADS" -c"$(ep_conns "$ep")" -d"$3s" --timeout "${TIMEOUT}s" -s "$HERE/bench.lua" \
    "${URL[$side]}${EP_PATH[$ep]}" -- $(ep_args "$ep" "${CREDS[$side]}") >"$4" 2>&1 || true
}

settle() {  # PIDS: wait (at most 60 s) until the server is idle again. When wrk stops, requests
  # already queued (a slow server has up to -c of them) are still being worked off; they must
  # not eat into the next round, which may be the other server's on the same CPU.
  local i a b
  [[ $# -gt 0 ]] || return 0
  for ((i = 0; i < 300; i++)); do
    a=$(cpu_ticks "$@"); sleep 0.2; b=$(cpu_ticks "$@")
    # under 5% of a core over 200 ms (1 tick at 100 Hz) counts as idle
    (( (b - a) * 100 <= CLK_TCK * 1 )) && break
  done
  (( i >= 5 )) && say "  (waited $((i / 5)) s for the server to work off queued requests)"
  return 0
}

field() { grep -o " $1=[^ ]*" <<<"$2" | head -1 | cut -d= -f2; }

# ---- report header -------------------------------------------------------------------------
model=$(lscpu 2>/dev/null | awk -F: '/^Model name/ { gsub(/^[ \t]+/, "", $2); print $2; exit }')
mem=$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo "?")
[[ -n $(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null) ]] && rev+="+dirty"
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta command "$ORIG_CMD"
meta machine "$NPROC CPUs (nproc), ${model:-unknown CPU} (lscpu), $mem RAM, Linux $(uname -r); $(wrk --version 2>&1 | head -1 | awk '{ print $1, $2 }')"
if [[ $PIN == split ]]; then
  meta mode "split: servers on CPU $SERVER_CPUS (lendbook started under \`taskset -c $SERVER_CPUS\`), wrk on CPU $CLIENT_CPUS (\`taskset -c $CLIENT_CPUS wrk\`); loopback"
else
  meta mode "none: no pinning, servers and wrk share all $NPROC CPUs (whole machine); loopback"
fi
meta conns "$CONNS"
meta load "wrk -t$THREADS -c$CONNS (login: -c$LOGIN_CONNS) --timeout ${TIMEOUT}s, $ROUNDS rounds x ${DUR}s per endpoint and server after a ${WARM}s warm-up$([[ -n $VS_URL ]] && echo ", servers alternating round by round"); medians, req/s spread min–max"
data="$USERS users x ($FRIENDS friends, $BELONGINGS belongings, $BORROWINGS borrowings)"
[[ $BORROW_TOTAL -gt 0 ]] && data+="; lendbook's borrowings grown to $BORROW_TOTAL rows in SQL ($((BORROW_TOTAL / USERS)) per user; the --vs server keeps $((USERS * BORROWINGS)))"
data+="; reads and logins rotate over the first $READERS users, POST /api/v1/friends/ over the last $WRITERS"
meta data "$data"
meta sides "$(IFS=,; echo "${SIDES[*]}")"
if [[ -n $DB_URL ]]; then dbdesc="PostgreSQL database $PG_DB on ${DB_URL#*@} (same machine, unpinned)"; else dbdesc="SQLite (WAL) at $DB"; fi
meta database "$([[ -n $DB_URL ]] && echo postgres || echo sqlite)"
meta name.lendbook lendbook
meta about.lendbook "release build of $rev, $dbdesc, every layer on ($OUT/layers-on.toml: throttling with a user rate of 100000/s, access log at INFO to a file, metrics, allowed hosts, CORS), pid $LB_PID"
if [[ -n ${PIDS[plain]:-} ]]; then
  meta name.plain "layers off"
  meta about.plain "the same binary and database with the access log, metrics, throttling rates, allowed hosts and CORS off ($OUT/layers-off.toml), pid ${PIDS[plain]}; measured on: $PLAIN_EPS"
fi
if [[ -n ${PIDS[axum]:-} ]]; then
  meta name.axum "bare axum"
  meta about.axum "examples/bare_axum.rs: axum::serve with one route answering the same JSON, no middleware (pid ${PIDS[axum]}); /api/public/ only"
fi
if [[ -n $VS_URL ]]; then
  meta name.vs "$VS_NAME"
  VS_AFF=${VS_AFF% }
  meta about.vs "$VS_URL, pids ${PIDS[vs]:-?} (affinity at start: ${VS_AFF:-?}), seeded over HTTP"
fi
for ep in "${EPS[@]}"; do meta "endpoint.$ep" "${EP_LABEL[$ep]}"; done

# ---- load ------------------------------------------------------------------------------------
say "load: ${EPS[*]}; $ROUNDS x ${DUR}s (+${WARM}s warm-up), -c$CONNS, pin=$PIN"
mkdir -p "$OUT/wrk"
printf '%-14s %-10s %5s %11s %9s %9s %7s %6s %6s %6s %6s\n' endpoint server round req/s p50_ms p99_ms non2xx errors srv wrk other >&2
for ep in "${EPS[@]}"; do
  active=()
  for side in "${SIDES[@]}"; do
    [[ $side == plain && ",$PLAIN_EPS," != *",$ep,"* ]] && continue
    [[ $side == axum && $ep != public ]] && continue
    code=$(preflight "$ep" "$side")
    if [[ $code != 2* ]]; then
      reason="HTTP $code on pre-flight"
      [[ $code == 404 ]] && reason="HTTP 404 (endpoint not there)"
      printf 'skip\t%s\t%s\t%s\n' "$ep" "$side" "$reason" >>"$RESULTS"
      say "  $ep on $side skipped: $reason $(head -c 120 "$OUT/preflight.body" | tr -d '\n')"
      continue
    fi
    active+=("$side")
    # shellcheck disable=SC2086
    reset_hwm ${PIDS[$side]}
    if [[ $WARM -gt 0 ]]; then
      run_wrk "$ep" "$side" "$WARM" "$OUT/wrk/$ep-$side-warmup.txt"
      # shellcheck disable=SC2086
      settle ${PIDS[$side]}
    fi
  done
  for ((r = 1; r <= ROUNDS; r++)); do
    for side in "${active[@]+"${active[@]}"}"; do
      f=$OUT/wrk/$ep-$side-$r.txt
      # shellcheck disable=SC2086
      t0=$(cpu_ticks ${PIDS[$side]}); read -r b0 _ < <(sys_cpu); child_cpu_s w0; st0=$(steal_ticks); s0=$(date +%s%N)
      run_wrk "$ep" "$side" "$DUR" "$f"
      s1=$(date +%s%N); st1=$(steal_ticks); child_cpu_s w1; read -r b1 _ < <(sys_cpu)
      # shellcheck disable=SC2086
      t1=$(cpu_ticks ${PIDS[$side]})
      line=$(grep '^BENCH ' "$f" || true)
      [[ -n $line ]] || { cat "$f" >&2; die "wrk gave no result for $ep on $side (see $f)"; }
      rps=$(field rps "$line"); p50=$(field p50_us "$line"); p99=$(field p99_us "$line")
      non2xx=$(field non2xx "$line"); reqs=$(field requests "$line"); pmax=$(field max_us "$line")
      steal_ms=$(( (st1 - st0) * 1000 / CLK_TCK ))
      errs=$(( $(field connect "$line") + $(field read "$line") + $(field write "$line") + $(field timeout "$line") ))
      # CPU, % of one core over the round's wall time: the server's processes; wrk; and
      # everything else on the machine (other processes: a busy host skews the numbers).
      read -r cpu wcpu other < <(awk -v a="$t0" -v b="$t1" -v w0="$w0" -v w1="$w1" -v b0="$b0" -v b1="$b1" \
        -v hz="$CLK_TCK" -v ns=$((s1 - s0)) -v known="${PIDS[$side]:+1}" 'BEGIN {
          wall = ns / 1e9; srv = (b - a) / hz; wrk = w1 - w0; busy = (b1 - b0) / hz
          o = busy - srv - wrk; if (o < 0) o = 0
          if (known) printf "%.0f %.0f %.0f\n", srv / wall * 100, wrk / wall * 100, o / wall * 100
          else printf "? %.0f ?\n", wrk / wall * 100 }')
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$ep" "$side" "$rps" "$p50" "$p99" "$non2xx" "$errs" "$reqs" "$cpu" "$wcpu" "$other" "$pmax" "$steal_ms" >>"$RESULTS"
      printf '%-14s %-10s %5s %11.1f %9.2f %9.2f %7s %6s %5s%% %5s%% %5s%%\n' "$ep" "$side" "$r" "$rps" "$(awk -v u="$p50" 'BEGIN { print u / 1000 }')" \
        "$(awk -v u="$p99" 'BEGIN { print u / 1000 }')" "$non2xx" "$errs" "$cpu" "$wcpu" "$other" >&2
      # shellcheck disable=SC2086
      settle ${PIDS[$side]}
      if [[ $non2xx != 0 ]]; then say "  first non-2xx: $(grep -o 'first_bad=.*' <<<"$line" | cut -d= -f2-)"; fi
    done
  done
  for side in "${active[@]+"${active[@]}"}"; do
    # shellcheck disable=SC2086
    printf 'mem\t%s\t%s\t%s\n' "$ep" "$side" "$(hwm_kib ${PIDS[$side]})" >>"$RESULTS"
  done
done
[[ $HWM_RESET -eq 1 ]] || meta note "VmHWM could not be reset (/proc/PID/clear_refs): peak RSS is since each process started"

rm -f "$OUT/layers.tsv"
if [[ $LAYERS -eq 1 && -n ${PIDS[plain]:-} && $PIN == split ]]; then
  lb_eps=()
  for ep in public private; do [[ ",$ENDPOINTS," == *",$ep,"* ]] && lb_eps+=("$ep"); done
  if [[ ${#lb_eps[@]} -gt 0 ]]; then
    say "layers: every layer on against off, both servers loaded at once (bench/layers.sh)"
    "$HERE/layers.sh" "$OUT" --variants on,off --endpoints "$(IFS=,; echo "${lb_eps[*]}")" \
      --connections "$CONNS" --server-cpus "$SERVER_CPUS" --client-cpus "$CLIENT_CPUS" \
      --port $((PORT + 30)) --binary "$BIN" >/dev/null || say "WARNING: bench/layers.sh failed"
  fi
fi

python3 "$HERE/report.py" "$OUT" >"$OUT/report.md"
echo
cat "$OUT/report.md"
echo
say "report: $OUT/report.md (raw wrk output in $OUT/wrk/)"
