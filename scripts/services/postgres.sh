#!/usr/bin/env bash
# A private PostgreSQL for tests, from Debian's packages.
#   postgres.sh install           install the server if missing
#   postgres.sh start DIR PORT    initdb into DIR (once), serve 127.0.0.1:PORT,
#                                 trust auth, user postgres, database `todo`
#   postgres.sh stop DIR
set -euo pipefail
. "$(dirname "$0")/common.sh"

# The newest installed server's binaries (Debian keeps them off PATH).
bindir() { printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1; }

install() {
    [ -x "$(bindir)/initdb" ] || apt_install postgresql
    local bin; bin=$(bindir)
    [ -x "$bin/initdb" ] || die "postgresql installed but no initdb under /usr/lib/postgresql"
    [[ $bin == */$POSTGRES_MAJOR/bin ]] || echo "postgres.sh: warning: using $bin, versions.env expects $POSTGRES_MAJOR" >&2
}

# initdb and the server refuse to run as root: run them as the package's
# `postgres` user then, which must own DIR (and be able to reach it).
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
    local dir=$1 port=$2 bin
    install
    bin=$(bindir)
    need_free_port "$port"
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
    as_owner test -w "$dir" || die "user postgres cannot write $dir (is a parent directory closed to it?)"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
        # Loopback TCP only, no Unix socket (so nothing in /var/run is shared
        # with other instances), and durability off: a test server's data is
        # thrown away, so fsync would only slow the tests down.
        cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
        echo "host all all 127.0.0.1/32 trust" >"$dir/data/pg_hba.conf"
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -o "-p $port" -w -t 30 start >/dev/null ||
        die "postgres did not start on port $port (see $dir/postgres.log)"
    wait_for 30 "postgres on 127.0.0.1:$port (see $dir/postgres.log)" \
        "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"
    local psql=("$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qtA)
    [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'todo'")" = 1 ] ||
        "${psql[@]}" -c "CREATE DATABASE todo"
}

stop() {
    local dir=$1
    [ -f "$dir/data/postmaster.pid" ] || return 0
    as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
}

case "${1:-}" in
    install) install ;;
    start) [ $# = 3 ] || die "usage: $0 start DIR PORT"; start "$2" "$3" ;;
    stop) [ $# = 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
    *) die "usage: $0 install | start DIR PORT | stop DIR" ;;
esac
