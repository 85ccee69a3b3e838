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
