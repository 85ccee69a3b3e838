#!/usr/bin/env bash
# Fuzzes lendbook against its own OpenAPI schema: validates /api/schema/ as OpenAPI 3
# (openapi-spec-validator), then lets schemathesis generate requests for every operation
# with a token and fails on any server error or any response that does not match the
# schema (status code, content type, body). At least MIN_REQUESTS requests must be sent.
#
# Tools come from PyPI into target/schema-fuzz-venv; the server is the debug binary on a
# fresh SQLite database in a temporary directory, on a free loopback port.
set -euo pipefail
cd "$(dirname "$0")/.."

MIN_REQUESTS=${MIN_REQUESTS:-2000}
MAX_EXAMPLES=${MAX_EXAMPLES:-50}
VENV=target/schema-fuzz-venv
if [ ! -x "$VENV/bin/st" ] || [ ! -x "$VENV/bin/openapi-spec-validator" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q schemathesis openapi-spec-validator
fi

cargo build -q -p lendbook
work=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
export DATABASE_URL="sqlite://$work/fuzz.sqlite3" LENDBOOK_LOG=warn
password='correct-Horse-7-battery'
target/debug/lendbook migrate >/dev/null
target/debug/lendbook users create --username fuzz --password "$password" --email fuzz@example.com >/dev/null
target/debug/lendbook serve --bind "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    curl -sf "$base/api/public/" >/dev/null && break
    sleep 0.1
done

token=$(curl -sf -X POST "$base/api/login/" -H 'Content-Type: application/json' \
    -d "{\"username\": \"fuzz\", \"password\": \"$password\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
auth="Authorization: Token $token"
# Some rows, so detail routes find objects too.
for i in 1 2 3; do
    curl -sf -X POST "$base/api/v1/friends/" -H "$auth" -H 'Content-Type: application/json' -d "{\"name\": \"friend $i\"}" >/dev/null
    curl -sf -X POST "$base/api/v1/belongings/" -H "$auth" -H 'Content-Type: application/json' -d "{\"name\": \"thing $i\"}" >/dev/null
    curl -sf -X POST "$base/api/v1/borrowings/" -H "$auth" -H 'Content-Type: application/json' -d "{\"what\": $i, \"to_who\": $i}" >/dev/null
done

echo "== OpenAPI 3 validation"
curl -sf "$base/api/schema/?format=json" -o "$work/schema.json"
curl -sf "$base/api/schema/" -o "$work/schema.yaml"
"$VENV/bin/openapi-spec-validator" "$work/schema.json"
"$VENV/bin/openapi-spec-validator" "$work/schema.yaml"

echo "== schemathesis"
# Excluded: what would end the fuzzer's own credentials (logout, password and username
# changes, deleting its user) and, through the same pattern, the reset_password /
# reset_username flows; tests/accounts.rs covers those.
status=0
"$VENV/bin/st" run "$base/api/schema/?format=json" \
    --header "$auth" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$MAX_EXAMPLES" \
    --seed 1 \
    --exclude-path-regex 'logout|set_password|set_username' \
    --exclude-operation-id api_auth_users_me_destroy \
    --exclude-operation-id api_auth_users_id_destroy \
    --report har --report-har-path "$work/requests.har" \
    --no-color || status=$?

requests=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["log"]["entries"]))' "$work/requests.har")
errors=$(python3 -c 'import json,sys; print(sum(e["response"]["status"] >= 500 for e in json.load(open(sys.argv[1]))["log"]["entries"]))' "$work/requests.har")
echo "requests sent: $requests, server errors: $errors"
if [ "$status" -ne 0 ]; then
    echo "schemathesis found failures" >&2
    tail -n 50 "$work/server.log" >&2
    exit 1
fi
if [ "$requests" -lt "$MIN_REQUESTS" ] || [ "$errors" -ne 0 ]; then
    echo "expected at least $MIN_REQUESTS requests and no server error" >&2
    exit 1
fi
echo "fuzz: $requests passed, 0 failed"
