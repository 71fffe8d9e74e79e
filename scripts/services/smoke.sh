#!/usr/bin/env bash
# Installs the distributed backend's test servers, starts each on free
# loopback ports in a temp dir, checks each answers (daprd through its state
# and pub/sub APIs against the Redis and Kafka started here), and stops them
# all, even on failure. Ends with "N passed, N failed"; exit 1 if any failed.
# SMOKE_KEEP=1 keeps the temp dir (logs) even on success.
set -euo pipefail
cd "$(dirname "$0")"
. ./common.sh

passed=0 failed=0 finished=
check() { # check NAME COMMAND...: one line per check (and, on failure, why)
    local name=$1; shift
    echo "== $name" >>"$tmp/checks.log"
    if "$@" >"$tmp/check.out" 2>&1; then
        echo "ok   $name"; passed=$((passed + 1))
    else
        echo "FAIL $name: $(tail -1 "$tmp/check.out")"; failed=$((failed + 1))
    fi
    cat "$tmp/check.out" >>"$tmp/checks.log"
}

tmp=$(mktemp -d)
chmod 755 "$tmp" # the postgres user must reach $tmp/postgres
cleanup() {
    if [ -z "$finished" ]; then # aborted by an error or a signal: still one summary line
        failed=$((failed + 1)); echo "FAIL smoke run aborted"; echo "$passed passed, $failed failed"
    fi
    stop_pid "$tmp/daprd.pid"
    ./kafka.sh stop "$tmp/kafka" || true
    ./redis.sh stop "$tmp/redis" || true
    ./postgres.sh stop "$tmp/postgres" || true
    if [ "$failed" = 0 ] && [ -z "${SMOKE_KEEP:-}" ]; then rm -rf "$tmp"; else echo "logs kept in $tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM # so that EXIT's cleanup runs on ^C or kill too

used=" "
port() { # a free port not handed out before in this run
    local p
    while p=$(free_port); [[ $used == *" $p "* ]]; do :; done
    used+="$p "; echo "$p"
}
pg_port=$(port) redis_port=$(port) kafka_port=$(port) kafka_cport=$(port)
http_port=$(port) grpc_port=$(port) internal_port=$(port) metrics_port=$(port)

for s in postgres redis kafka daprd; do check "$s install" "./$s.sh" install; done
command -v curl >/dev/null || apt_install curl

check "postgres start" ./postgres.sh start "$tmp/postgres" "$pg_port"
pg_select_1() { [ "$(psql -h 127.0.0.1 -p "$pg_port" -U postgres -d todo -tAc 'SELECT 1')" = 1 ]; }
check "postgres SELECT 1 on todo" pg_select_1

check "redis start" ./redis.sh start "$tmp/redis" "$redis_port"
redis_ping() { [ "$(redis-cli -h 127.0.0.1 -p "$redis_port" PING)" = PONG ]; }
check "redis PING" redis_ping

check "kafka start" ./kafka.sh start "$tmp/kafka" "$kafka_port" "$kafka_cport"
check "kafka create topic" ./kafka.sh topics "$kafka_port" --create --topic smoke-topic --partitions 1 --replication-factor 1
topic_listed() { ./kafka.sh topics "$kafka_port" --list | grep -qx smoke-topic; }
check "kafka list topics" topic_listed

# daprd with a Redis state store and a Kafka pub/sub pointing at the above;
# every listener on loopback (daprd's defaults are all interfaces, metrics 9090).
mkdir -p "$tmp/resources"
cat >"$tmp/resources/statestore.yaml" <<YAML
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.redis
  version: v1
  metadata:
    - name: redisHost
      value: "127.0.0.1:$redis_port"
    - name: redisPassword
      value: ""
YAML
cat >"$tmp/resources/pubsub.yaml" <<YAML
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: pubsub
spec:
  type: pubsub.kafka
  version: v1
  metadata:
    - name: brokers
      value: "127.0.0.1:$kafka_port"
    - name: authType
      value: "none"
    - name: disableTls
      value: "true"
    - name: consumerGroup
      value: "smoke"
    - name: initialOffset
      value: "oldest"
YAML
daprd=$(./daprd.sh path)
"$daprd" --app-id smoke --dapr-http-port "$http_port" --dapr-grpc-port "$grpc_port" \
    --dapr-listen-addresses 127.0.0.1 --dapr-internal-grpc-port "$internal_port" \
    --dapr-internal-grpc-listen-address 127.0.0.1 \
    --metrics-port "$metrics_port" --metrics-listen-address 127.0.0.1 \
    --resources-path "$tmp/resources" >"$tmp/daprd.log" 2>&1 &
echo $! >"$tmp/daprd.pid"
dapr="http://127.0.0.1:$http_port/v1.0"
# healthz/outbound answers 204 once the components are initialised.
outbound_ready() {
    for _ in $(seq 300); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$dapr/healthz/outbound")" = 204 ] && return 0
        kill -0 "$(cat "$tmp/daprd.pid")" 2>/dev/null || { echo "daprd exited (see $tmp/daprd.log)"; return 1; }
        sleep 0.2
    done
    echo "daprd not ready after 60s (see $tmp/daprd.log)"; return 1
}
check "daprd healthz/outbound 204" outbound_ready
check "daprd state save" \
    curl -sf -X POST "$dapr/state/statestore" -H 'content-type: application/json' \
    -d '[{"key":"smoke","value":{"n":42}}]'
state_read_back() { [ "$(curl -sf "$dapr/state/statestore/smoke")" = '{"n":42}' ]; }
check "daprd state read back" state_read_back
publish() {
    [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$dapr/publish/pubsub/smoke-events" \
        -H 'content-type: application/json' -d '{"hello":"kafka"}')" = 204 ]
}
check "daprd publish (204)" publish
# The event really reached Kafka: the topic's end offset is 1.
event_in_kafka() {
    java -cp "$CACHE/kafka-$KAFKA_VERSION/libs/*" org.apache.kafka.tools.GetOffsetShell \
        --bootstrap-server "127.0.0.1:$kafka_port" --topic smoke-events | grep -qx smoke-events:0:1
}
check "kafka received the event" event_in_kafka

finished=1
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
