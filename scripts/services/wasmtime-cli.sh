#!/usr/bin/env bash
# wasmtime-cli (`wasmtime serve`, the Bytecode Alliance's reference wasi:http
# server), the bench's peer runtime, built with cargo install into the cache,
# keyed by version (a long compile: ~25 CPU-minutes; up to date: instant).
#   wasmtime-cli.sh install   build into the cache if missing
#   wasmtime-cli.sh path      print the binary's path
set -euo pipefail
. "$(dirname "$0")/common.sh"

root="$CACHE/wasmtime-cli-$WASMTIME_CLI_VERSION"
bin="$root/bin/wasmtime"

install() {
    [ -x "$bin" ] && "$bin" --version | grep -q "^wasmtime $WASMTIME_CLI_VERSION " && return 0
    command -v cargo >/dev/null || die "cargo not found"
    # --locked: the dependency versions wasmtime released with (a newer
    # transitive crate may need a newer Rust than ours). The cargo target
    # dir is private to this build: it must not contend with the workspace's.
    CARGO_TARGET_DIR="$root/target" cargo install --locked --root "$root" \
        wasmtime-cli --version "=$WASMTIME_CLI_VERSION" || die "cargo install wasmtime-cli $WASMTIME_CLI_VERSION failed"
    rm -rf "$root/target"
}

case "${1:-}" in
    install) install ;;
    path) echo "$bin" ;;
    *) die "usage: $0 install | path" ;;
esac
