#!/usr/bin/env bash
# The todo-host container image, built without a Docker daemon.
#   scripts/image.sh OUT                  build OUT/oci (an OCI image layout, tag todo-host) and
#                                         OUT/todo-host.tar (a docker-archive, for `minikube image load`)
#   scripts/image.sh --push REGISTRY OUT  the same, then push it as REGISTRY/todo-host:latest
#   scripts/image.sh --rootfs DIR         build, then only lay out the image's files in DIR (the Dockerfile's step)
#   scripts/image.sh --install-tools      install umoci and skopeo if missing (the tests use skopeo too)
#
# The image: a static (musl) todo-host as its entrypoint, a non-root user
# (65532), no shell, CA certificates for HTTPS registries, /data for the data
# and the OCI cache, and the app itself under /app (spin.toml, the built
# components, migrations, frontend/dist if built). Its default command
# serves that app; spin-operator replaces the command with `up --listen
# 0.0.0.0:80 -f <SpinApp image> ...`, so the same image runs any app pushed
# with `todo-host registry push`. Installs what it needs if missing (the
# rustup musl target, Debian's musl-tools, umoci, skopeo, ca-certificates).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services/common.sh

TARGET=x86_64-unknown-linux-musl
UID_GID=65532:65532
BINARY=target/$TARGET/release/todo-host

need() { # need COMMAND PACKAGE...: install the packages if COMMAND is missing
    local command=$1; shift
    command -v "$command" >/dev/null || apt_install "$@"
}

# The components spin.toml builds (`components/build.sh <package>`, last in
# a command), built.
build_components() {
    local package
    for package in $(sed -n 's/^command = ".*components\/build.sh \([a-z-]*\)"$/\1/p' spin.toml); do
        components/build.sh "$package"
    done
}

# A static todo-host: musl, so the image needs no libc (TLS is rustls with ring).
build_host() {
    rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET"
    need musl-gcc musl-tools
    cargo build --release --locked -p todo-host --target "$TARGET"
}

# rootfs DIR: the image's files, from what is built.
rootfs() {
    local root=$1 source
    mkdir -p "$root"/{usr/local/bin,etc/ssl/certs,data,tmp,app/frontend}
    # Without its DWARF (symbols stay, for backtraces): a quarter of the size.
    need strip binutils
    strip --strip-debug -o "$root/usr/local/bin/todo-host" "$BINARY"
    chmod 0755 "$root/usr/local/bin/todo-host"
    [ -f /etc/ssl/certs/ca-certificates.crt ] || apt_install ca-certificates
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
    echo "todo:x:${UID_GID%:*}:${UID_GID#*:}:todo:/data:/nonexistent" >"$root/etc/passwd"
    echo "todo:x:${UID_GID#*:}:" >"$root/etc/group"
    chmod 1777 "$root/tmp"
    chown "$UID_GID" "$root/data"
    cp spin.toml "$root/app/"
    cp -r migrations "$root/app/"
    for source in $(sed -n 's/^source = "\(.*\)"$/\1/p' spin.toml); do
        install -D -m 0644 "$source" "$root/app/$source"
    done
    # The dashboard's files, mounted into the static-files component: the
    # directory must exist (as under Spin), even when the dashboard is not built.
    mkdir -p "$root/app/frontend/dist"
    if [ -d frontend/dist ]; then cp -r frontend/dist/. "$root/app/frontend/dist/"; fi
}

install_tools() {
    need umoci umoci
    need skopeo skopeo libgpgme11
}

# image OUT: OUT/oci and OUT/todo-host.tar from a fresh rootfs.
image() {
    local out=$1 layout bundle
    install_tools
    layout="$out/oci"
    bundle=$(mktemp -d)
    rm -rf "$layout" "$out/todo-host.tar"
    mkdir -p "$out"
    umoci init --layout "$layout"
    umoci new --image "$layout:todo-host"
    umoci unpack --image "$layout:todo-host" "$bundle/b"
    rootfs "$bundle/b/rootfs"
    umoci repack --image "$layout:todo-host" "$bundle/b"
    umoci config --image "$layout:todo-host" --os linux --architecture amd64 \
        --config.user "$UID_GID" --config.workingdir /data \
        --config.entrypoint /usr/local/bin/todo-host \
        --config.cmd up --config.cmd --listen --config.cmd 0.0.0.0:3000 --config.cmd -f --config.cmd /app/spin.toml \
        --config.env TODO_DATA_DIR=/data --config.env HOME=/data \
        --config.env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
        --config.exposedports 80/tcp --config.exposedports 3000/tcp \
        --config.label org.opencontainers.image.title=todo-host
    umoci gc --layout "$layout"
    rm -rf "$bundle"
    skopeo copy --quiet "oci:$layout:todo-host" "docker-archive:$out/todo-host.tar:todo-host:latest"
    echo "$layout (tag todo-host), $out/todo-host.tar"
}

# push OUT REGISTRY: the built image as REGISTRY/todo-host:latest (plain HTTP on loopback).
push() {
    local out=$1 registry=$2 tls=true
    case "$registry" in 127.0.0.1:* | localhost:* | localhost) tls=false ;; esac
    skopeo copy --quiet --dest-tls-verify="$tls" "oci:$out/oci:todo-host" "docker://$registry/todo-host:latest"
    echo "$registry/todo-host:latest"
}

case "${1:-}" in
    --install-tools) install_tools ;;
    --rootfs) [ $# = 2 ] || die "usage: $0 --rootfs DIR"; build_components; build_host; rootfs "$2" ;;
    --push) [ $# = 3 ] || die "usage: $0 --push REGISTRY OUT"
        build_components; build_host; image "$3"; push "$3" "$2" ;;
    -* | "") die "usage: $0 OUT | --push REGISTRY OUT | --rootfs DIR" ;;
    *) [ $# = 1 ] || die "usage: $0 OUT"; build_components; build_host; image "$1" ;;
esac
