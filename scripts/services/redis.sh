#!/usr/bin/env bash
# A private Redis for tests, from Debian's packages.
#   redis.sh install          install the server if missing
#   redis.sh start DIR PORT   serve 127.0.0.1:PORT, pid and log in DIR, no persistence
#   redis.sh stop DIR
set -euo pipefail
. "$(dirname "$0")/common.sh"

install() {
    if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
        apt_install redis-server
    fi
    [[ $(redis-server --version) == *v=$REDIS_MAJOR.* ]] ||
        echo "redis.sh: warning: $(redis-server --version), versions.env expects $REDIS_MAJOR" >&2
}

# answers DIR PORT: our redis (its pid file exists and it runs) says PONG.
answers() {
    kill -0 "$(cat "$1/redis.pid")" && [ "$(redis-cli -h 127.0.0.1 -p "$2" ping)" = PONG ]
}

start() {
    local dir=$1 port=$2
    install
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd) # redis resolves --pidfile/--logfile after chdir to --dir
    need_free_port "$port"
    rm -f "$dir/redis.pid" # redis writes it only once it listens: our sign it started
    # --save '' and no AOF: a test server keeps nothing on disk.
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize yes --save '' \
        --appendonly no --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" ||
        die "redis-server did not start (see $dir/redis.log)"
    wait_for 15 "redis on 127.0.0.1:$port (see $dir/redis.log)" answers "$dir" "$port"
}

stop() {
    stop_pid "$1/redis.pid"
}

case "${1:-}" in
    install) install ;;
    start) [ $# = 3 ] || die "usage: $0 start DIR PORT"; start "$2" "$3" ;;
    stop) [ $# = 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
    *) die "usage: $0 install | start DIR PORT | stop DIR" ;;
esac
