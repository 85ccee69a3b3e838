# bench/lib.sh — shell helpers the bench scripts share (sourced, not run).

# wait_ready URL PID: waits until URL answers HTTP with any status (the caller picks a URL
# that needs no credentials), at most 30 s; fails at once if PID has exited.
wait_ready() {
  local i code
  for ((i = 0; i < 300; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" 2>/dev/null) || true
    [[ ${code:-000} != 000 ]] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# split_users N: of N seeded users the last tenth write (POST /api/v1/friends/ makes their
# friend lists grow) and the others read and log in; sets WRITERS, READERS and the wrk
# script's ranges READ_USERS and WRITE_USERS.
split_users() {
  WRITERS=$(( $1 / 10 )); [[ $WRITERS -ge 1 ]] || WRITERS=1
  READERS=$(( $1 - WRITERS )); [[ $READERS -ge 1 ]] || READERS=$1
  READ_USERS="0:$READERS"
  WRITE_USERS="$(( $1 - WRITERS )):$1"
}

# Each endpoint's path, and the wrk script's arguments for it (after split_users).
declare -A EP_PATH=(
  [public]=/api/public/ [private]=/api/private/ [session]=/api/private/
  [borrowings]="/api/v1/borrowings/?limit=20" [friends]=/api/v1/friends/
  [friends-post]=/api/v1/friends/ [login]=/api/auth/token/login/
)
ep_args() {  # ENDPOINT CREDS -> wrk script arguments
  case $1 in
    public) echo "auth=none" ;;
    private|borrowings|friends) echo "auth=token creds=$2 users=$READ_USERS" ;;
    session) echo "auth=session creds=$2 users=$READ_USERS" ;;
    friends-post) echo "auth=token creds=$2 users=$WRITE_USERS method=POST body=friend" ;;
    login) echo "auth=none creds=$2 users=$READ_USERS method=POST body=login" ;;
  esac
}
