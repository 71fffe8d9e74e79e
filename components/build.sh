#!/usr/bin/env sh
# Builds one component for wasm32-wasip2 (the `[component.<id>.build]`
# command in spin.toml), installing the rustup target first if it is missing.
# Guests get their own target dir so that a build started from inside another
# cargo command (tests, `todo-host up --build`) never waits on that command's lock.
set -eu
package="$1"
root=$(cd "$(dirname "$0")/.." && pwd)
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "installing the rustup target wasm32-wasip2" >&2
    rustup target add wasm32-wasip2
fi
exec cargo build --quiet --release --target wasm32-wasip2 -p "$package" \
    --config profile.release.debug=false --config profile.release.strip=true \
    --config profile.release.lto=true --config profile.release.codegen-units=1 \
    --manifest-path "$root/Cargo.toml" --target-dir "${WASM_TARGET_DIR:-$root/target/wasm}"
