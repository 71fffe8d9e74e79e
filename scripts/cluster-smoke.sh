#!/usr/bin/env bash
# A smoke test of an installed chart, for anyone with a cluster and kubectl:
# waits for the host's Deployment and its readiness through the ingress,
# signs in with a JWT made from the release's secret, opens the SSE stream,
# creates a task through the ingress, and reads it back on the stream and
# from the API. Ends with "N passed, N failed"; exit 1 if any failed.
#   scripts/cluster-smoke.sh [URL] [NAMESPACE] [RELEASE]
#     URL        the ingress, default http://todo.local (or
#                http://localhost:8080 with kubectl port-forward)
#     NAMESPACE  default todo; RELEASE default todo (the chart's name for
#                the Deployment and Secrets is the release's, "todo" for "todo")
#   scripts/cluster-smoke.sh --token USER [NAMESPACE] [RELEASE]
#     prints a 12-hour JWT for USER, to paste into the dashboard's sign-in
# TODO_AUTH_SECRET names the Secret with the JWT secret when the release
# was installed with auth.existingSecret (default: <release>-auth).
set -euo pipefail
for tool in kubectl curl openssl; do
    command -v "$tool" >/dev/null || { echo "cluster-smoke.sh: $tool is needed" >&2; exit 2; }
done

# token USER SECONDS: a JWT for USER, signed (HS256, as the host verifies)
# with the release's JWT secret.
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
token() {
    local secret head body sig
    secret=$(kubectl -n "$namespace" get secret "${TODO_AUTH_SECRET:-$name-auth}" -o jsonpath="{.data['jwt-secret']}" | openssl base64 -d -A)
    head=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
    body=$(printf '{"sub":"%s","exp":%d}' "$1" $(($(date +%s) + $2)) | b64url)
    sig=$(printf '%s.%s' "$head" "$body" | openssl dgst -sha256 -hmac "$secret" -binary | b64url)
    echo "$head.$body.$sig"
}

if [ "${1:-}" = --token ]; then
    [ $# -ge 2 ] || { echo "usage: $0 --token USER [NAMESPACE] [RELEASE]" >&2; exit 2; }
    user=$2 namespace=${3:-todo} release=${4:-todo}
    [[ $release == *todo* ]] && name=$release || name="$release-todo"
    token "$user" 43200
    exit 0
fi
url=${1:-http://todo.local} namespace=${2:-todo} release=${3:-todo}
url=${url%/}
[[ $release == *todo* ]] && name=$release || name="$release-todo"

passed=0 failed=0
tmp=$(mktemp -d)
stream_pid=
cleanup() { [ -z "$stream_pid" ] || kill "$stream_pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
check() { # check NAME COMMAND...
    local what=$1; shift
    if "$@" >"$tmp/out" 2>&1; then
        echo "ok   $what"; passed=$((passed + 1))
    else
        echo "FAIL $what: $(tail -3 "$tmp/out")"; failed=$((failed + 1))
    fi
}
# until_ok SECONDS COMMAND...: retry every second until COMMAND succeeds.
until_ok() {
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 1
    done
}

# 1. The Deployment (spin-operator's in SpinKube mode, the chart's otherwise:
#    both named after the release) has every replica ready.
check "deployment $namespace/$name rolled out" \
    kubectl -n "$namespace" rollout status "deployment/$name" --timeout=300s
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz")" = 200 ]; }
check "GET $url/readyz answers 200 through the ingress" until_ok 120 ready

# 2. A token for a user of our own, signed with the release's JWT secret.
user="smoke-$(openssl rand -hex 4)"
auth="Authorization: Bearer $(token "$user" 600)"
signed_in() { [ "$(curl -s -o /dev/null -w '%{http_code}' -H "$auth" "$url/api/todos")" = 200 ]; }
check "signed in as $user" signed_in

# 3. The stream first, then the task: its change must come down the stream.
curl -sN -D "$tmp/headers" -H "$auth" -H 'Accept: text/event-stream' "$url/api/stream/tasks" >"$tmp/stream" &
stream_pid=$!
check "the SSE stream opened (200)" until_ok 20 grep -q '^HTTP/[0-9.]* 200' "$tmp/headers"
create() {
    curl -sf -X POST "$url/api/todos" -H "$auth" -H 'content-type: application/json' \
        -d '{"title":"cluster smoke test"}' >"$tmp/task"
    id=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' "$tmp/task")
    [ -n "$id" ]
}
check "POST /api/todos created a task" create
id=${id:-none}
on_stream() { grep -q "\"task_id\":\"$id\"" "$tmp/stream"; }
check "the task's change arrived on the SSE stream" until_ok 20 on_stream
read_back() { curl -sf -H "$auth" "$url/api/todos/$id" | grep -q '"title":"cluster smoke test"'; }
check "GET /api/todos/$id reads it back" read_back
deleted() { [ "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "$auth" "$url/api/todos/$id")" = 204 ]; }
check "the task deleted again" deleted

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
