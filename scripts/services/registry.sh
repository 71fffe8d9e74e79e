#!/usr/bin/env bash
# A private OCI registry for tests, from Debian's docker-registry package
# (the CNCF distribution registry), on a loopback port, plain HTTP.
#   registry.sh install                    install the server if missing
#   registry.sh start DIR PORT [USER:PASS] serve 127.0.0.1:PORT, storage, config, pid and log in DIR;
#                                          with USER:PASS, only that user may pull or push (htpasswd)
#   registry.sh stop DIR
set -euo pipefail
. "$(dirname "$0")/common.sh"

install() {
    command -v docker-registry >/dev/null || apt_install docker-registry
    [[ $(docker-registry --version) == *" $REGISTRY_MAJOR."* ]] ||
        echo "registry.sh: warning: $(docker-registry --version), versions.env expects $REGISTRY_MAJOR.x" >&2
}

# answers PORT: the registry's API root answers (401 counts: it is up, asking for credentials).
answers() {
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/v2/") || return 1
    [ "$code" = 200 ] || [ "$code" = 401 ]
}

# htpasswd_file DIR USER:PASS: a bcrypt htpasswd file (the only kind the registry takes).
htpasswd_file() {
    command -v htpasswd >/dev/null || apt_install apache2-utils
    htpasswd -Bbn "${2%%:*}" "${2#*:}" >"$1/htpasswd"
}

start() {
    local dir=$1 port=$2 credentials=${3:-}
    install
    mkdir -p "$dir/storage"
    dir=$(cd "$dir" && pwd)
    need_free_port "$port"
    local auth=""
    if [ -n "$credentials" ]; then
        htpasswd_file "$dir" "$credentials"
        auth=$(printf 'auth:\n  htpasswd:\n    realm: todo-test\n    path: %s/htpasswd\n' "$dir")
    fi
    # Deletes allowed so tests can remove what they pushed; no TLS on loopback.
    cat >"$dir/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
$auth
YAML
    docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
    echo $! >"$dir/registry.pid"
    wait_for 15 "the registry on 127.0.0.1:$port (see $dir/registry.log)" answers "$port"
}

stop() {
    stop_pid "$1/registry.pid"
}

case "${1:-}" in
    install) install ;;
    start) [ $# -ge 3 ] && [ $# -le 4 ] || die "usage: $0 start DIR PORT [USER:PASS]"; start "$2" "$3" "${4:-}" ;;
    stop) [ $# = 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
    *) die "usage: $0 install | start DIR PORT [USER:PASS] | stop DIR" ;;
esac
