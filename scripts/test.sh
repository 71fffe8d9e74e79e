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
