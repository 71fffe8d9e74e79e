#!/usr/bin/env bash
# The full test suite: native unit tests, then the host with the real
# components over HTTP, then the dashboard. Installs what it needs (the
# wasm32-wasip2 target, Debian's chromium, the npm packages).
set -euo pipefail
cd "$(dirname "$0")/.."
for package in task-api notification-handler recurring-handler reminder-checker test-guest; do
    components/build.sh "$package"
done
cargo test --locked

# The host's suites again with PostgreSQL as the `sql` backend: a private
# server on a loopback port of its own (Debian's package, installed if
# missing), stopped on exit; each test host gets a fresh database on it.
. scripts/services/common.sh
pg_dir=$(mktemp -d)
chmod 755 "$pg_dir"
trap 'scripts/services/postgres.sh stop "$pg_dir/pg" || true; rm -rf "$pg_dir"' EXIT
pg_port=$(free_port)
scripts/services/postgres.sh start "$pg_dir/pg" "$pg_port"
TODO_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/todo" \
    cargo test --locked -p todo-host -- --include-ignored

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
