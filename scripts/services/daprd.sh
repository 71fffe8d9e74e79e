#!/usr/bin/env bash
# daprd, built from source: no package registry ships it, and
# `go install github.com/dapr/dapr/cmd/daprd@v` fails on Dapr's `replace`
# directives. dapr/daprd/ is a wrapper module that requires Dapr at
# DAPR_VERSION, repeats those replaces and links only our components.
#   daprd.sh install   build into the cache if missing or if dapr/daprd/ changed
#                      (measured on 2 cores shared with another job: cold 9.5 min,
#                      module downloads included; after a change to main.go
#                      ~15 s; up to date: instant)
#   daprd.sh path      print the binary's path
#   daprd.sh local DIR write DIR/resources (dapr/'s files with the local
#                      overlay dapr/local/ over them) and DIR/secrets.json;
#                      run daprd in DIR with --resources-path DIR/resources
set -euo pipefail
. "$(dirname "$0")/common.sh"

src="$here/../../dapr/daprd"
bin="$CACHE/daprd-$DAPR_VERSION/daprd"

# The wrapper's sources: a change to them (say, one more component) rebuilds.
source_hash() { cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -d' ' -f1; }

install() {
    [ -x "$bin" ] && [ "$(cat "$bin.source" 2>/dev/null)" = "$(source_hash)" ] && return 0
    grep -q "github.com/dapr/dapr $DAPR_VERSION\$" "$src/go.mod" ||
        die "dapr/daprd/go.mod does not require github.com/dapr/dapr $DAPR_VERSION (versions.env); update it, its replace lines and go.sum (go mod tidy)"
    command -v go >/dev/null || die "go not found (the wrapper needs Go >= the go line of dapr/daprd/go.mod)"
    # Module and build caches under the cache root beside the binary: a kept
    # machine reuses them, and one `rm -rf` clears it all. -mod=readonly:
    # go.sum is committed, a build never rewrites it. CGO off: a static
    # binary, as Dapr's releases are.
    export GOMODCACHE="$CACHE/go-mod" GOCACHE="$CACHE/go-build" CGO_ENABLED=0
    export GOFLAGS="-modcacherw -buildvcs=false -mod=readonly"
    mkdir -p "$(dirname "$bin")"
    (cd "$src" && go build -trimpath -o "$bin.tmp" \
        -ldflags "-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=${DAPR_VERSION#v} -X github.com/dapr/kit/logger.DaprVersion=${DAPR_VERSION#v}" .) ||
        die "building daprd $DAPR_VERSION failed"
    mv "$bin.tmp" "$bin"
    source_hash >"$bin.source"
}

# The same files as Kubernetes gets, but a file for a secret store: a file
# in dapr/local/ replaces the one of the same name; secrets.json goes beside.
local_resources() {
    local dir=$1 dapr="$here/../../dapr"
    rm -rf "$dir/resources"
    mkdir -p "$dir/resources"
    cp "$dapr"/components/*.yaml "$dapr"/resiliency.yaml "$dapr"/subscriptions.yaml "$dir/resources/"
    cp "$dapr"/local/*.yaml "$dir/resources/"
    cp "$dapr/local/secrets.json" "$dir/"
}

case "${1:-}" in
    install) install ;;
    path) echo "$bin" ;;
    local) [ $# = 2 ] || die "usage: $0 local DIR"; local_resources "$2" ;;
    *) die "usage: $0 install | path | local DIR" ;;
esac
