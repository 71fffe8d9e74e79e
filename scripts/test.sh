#!/usr/bin/env bash
# The full test suite: native unit tests, then the host with the real
# components over HTTP. Installs what it needs (the wasm32-wasip2 target).
set -euo pipefail
cd "$(dirname "$0")/.."
components/build.sh task-api
components/build.sh test-guest
cargo test --locked
