#!/usr/bin/env bash
# The full test suite: formatting and lints, every crate's unit tests, then
# the host with the real components over HTTP (on the embedded backend, then
# on the distributed one, with the OCI registry and the container image),
# then the Helm chart on a real control plane, then the dashboard and the
# API for machines. Installs what it needs (the wasm32-wasip2 and musl
# targets, Go-built daprd, etcd, kube-apiserver, spin-operator and Helm,
# Kafka's jars, Debian's PostgreSQL, Redis, docker-registry, umoci, skopeo
# and chromium, the npm and PyPI packages).
set -euo pipefail
cd "$(dirname "$0")/.."
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed | grep -q '^clippy' || rustup component add clippy
cargo fmt --all --check
for package in task-api notification-handler recurring-handler reminder-checker test-guest mcp-server sign-in platform-adapter static-files; do
    components/build.sh "$package"
done
cargo clippy --workspace --all-targets --locked -- -D warnings
# Every crate's unit tests (the guests' natively too), then the host's
# integration tests with the real components on the embedded backend.
cargo test --workspace --locked
# The suites of the platform's components again as Spin runs them: each
# composed with components/platform-adapter (`up --compose-dependencies`),
# on the host's Spin SQLite interface (tests/spin_adapter.rs ran above).
TODO_TEST_COMPOSE=1 cargo test --locked -p todo-host --test task_api --test notifications --test recurring --test reminders

# The host's suites again on the distributed backend: PostgreSQL for `sql`,
# and each test host with its own daprd (dapr/'s files with the local
# overlay) for `state` (Redis) and `pubsub` (Kafka); then the cluster and
# outage tests (tests/distributed.rs, ignored without these servers). Every
# server is private, on loopback ports of its own, installed and built by
# scripts/services/ (cached outside the clone), and stopped on exit.
. scripts/services/common.sh
svc=$(mktemp -d)
chmod 755 "$svc" # the postgres user must reach $svc/pg
stop_services() {
    scripts/services/kafka.sh stop "$svc/kafka" || true
    scripts/services/redis.sh stop "$svc/redis" || true
    scripts/services/postgres.sh stop "$svc/pg" || true
    scripts/services/registry.sh stop "$svc/registry" || true
    rm -rf "$svc"
}
trap stop_services EXIT
scripts/services/daprd.sh install
scripts/services/daprd.sh local "$svc/dapr"
pg_port=$(free_port)
scripts/services/postgres.sh start "$svc/pg" "$pg_port"
redis_port=$(free_port)
scripts/services/redis.sh start "$svc/redis" "$redis_port"
kafka_port=$(free_port)
kafka_cport=$(free_port)
[ "$kafka_port" != "$kafka_cport" ] || kafka_cport=$(free_port)
scripts/services/kafka.sh start "$svc/kafka" "$kafka_port" "$kafka_cport"
scripts/image.sh --install-tools # umoci and skopeo: the image and SpinKube tests use them
registry_port=$(free_port)
scripts/services/registry.sh start "$svc/registry" "$registry_port"
TODO_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/todo" \
TODO_TEST_REDIS="127.0.0.1:$redis_port" \
TODO_TEST_KAFKA="127.0.0.1:$kafka_port" TODO_TEST_KAFKA_DIR="$svc/kafka" TODO_TEST_KAFKA_CONTROLLER_PORT="$kafka_cport" \
TODO_TEST_DAPRD="$(scripts/services/daprd.sh path)" TODO_TEST_DAPR_DIR="$svc/dapr" \
TODO_TEST_REGISTRY="127.0.0.1:$registry_port" \
    cargo test --locked -p todo-host -- --include-ignored

# The Helm chart (chart/): lint and render it with Helm 4 and 3, validate
# every object against Kubernetes' and the CRDs' schemas, then install it on
# a real etcd + kube-apiserver with the real spin-operator and run todo-host
# with the Deployment the operator makes, on the servers above
# (scripts/k8s/ builds the tools from the Go module proxy, cached outside
# the clone).
TODO_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/todo" \
TODO_TEST_REDIS="127.0.0.1:$redis_port" TODO_TEST_KAFKA="127.0.0.1:$kafka_port" \
TODO_TEST_DAPRD="$(scripts/services/daprd.sh path)" \
    scripts/chart-test.sh

# The dashboard (frontend/): its unit tests, the build the host serves at /,
# and its end-to-end tests in Debian's Chromium against the host built above.
[ -x /usr/bin/chromium ] || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }
(
    cd frontend
    npm ci
    npm test
    npm run build
    npm run test:e2e
)

# The API for machines (tests/api, pytest, against a host of their own): the
# OpenAPI document validated and fuzzed by schemathesis, and the MCP server
# driven by the official Python SDK. Installs its pinned Python packages into
# a venv under ~/.cache/todo-system (Python >= 3.12, pyenv's 3.12.1 if needed).
scripts/api-tests.sh
