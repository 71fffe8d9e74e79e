#!/usr/bin/env bash
# The API tests (tests/api, pytest): the OpenAPI document the host serves,
# validated as OpenAPI 3.1 and fuzzed by schemathesis against the real API,
# and the MCP server driven by the official Python SDK; each against a
# `target/debug/todo-host` the tests start on loopback and stop.
#
# Builds what is missing or stale (the host, the components, the dashboard's
# dist/ with the /api/docs page) and installs the pinned Python packages
# (tests/api/requirements.txt) into a venv cached outside the clone, under
# ~/.cache/todo-system, keyed by those pins and the interpreter. Python must
# be 3.12 or newer (schemathesis on 3.11 trips over a CPython bug): python3
# if it is, else pyenv's 3.12.1.
set -euo pipefail
cd "$(dirname "$0")/.."

python=python3
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
    python="${PYENV_ROOT:-$HOME/.pyenv}/versions/3.12.1/bin/python3"
    [ -x "$python" ] || { echo "api-tests: need Python >= 3.12 (pyenv install 3.12.1)" >&2; exit 1; }
fi
key=$( { cat tests/api/requirements.txt; "$python" --version; } | sha256sum | cut -c1-16)
venv="$HOME/.cache/todo-system/api-tests-venv-$key"
if [ ! -e "$venv/.installed" ]; then
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/api/requirements.txt
    touch "$venv/.installed"
fi

cargo build --quiet -p todo-host
for package in task-api notification-handler recurring-handler reminder-checker mcp-server sign-in; do
    components/build.sh "$package"
done
if [ ! -f frontend/dist/api/docs/index.html ]; then
    (cd frontend && npm ci --no-audit --no-fund && npm run build)
fi

exec "$venv/bin/python" -m pytest tests/api -p no:cacheprovider -ra "$@"
