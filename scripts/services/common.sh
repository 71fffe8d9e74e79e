# shellcheck shell=bash
# Shared by the service scripts (sourced, not run): pinned versions, the cache
# root, and the few helpers every script needs.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$here/versions.env"

# Everything downloaded or built lives here, outside the clone, so CI's fresh
# clone on a kept machine reuses it (same root as .ci/run's cargo cache).
CACHE="${TODO_CACHE:-$HOME/.cache/todo-system}"

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# apt-get update at most once an hour across all scripts: a fresh machine's
# package lists may be empty, but one update per smoke run is plenty.
apt_install() {
    mkdir -p "$CACHE"
    if [ -z "$(find "$CACHE/.apt-updated" -mmin -60 2>/dev/null)" ]; then
        apt-get update -q >/dev/null
        touch "$CACHE/.apt-updated"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
}

# wait_for SECONDS WHAT COMMAND...: retry COMMAND every 0.2 s until it
# succeeds, or fail naming WHAT (and the log to read) after SECONDS.
wait_for() {
    local secs=$1 what=$2; shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || die "$what not ready after ${secs}s"
        sleep 0.2
    done
}

# stop_pid FILE: TERM the process whose pid FILE holds, wait up to 30 s for
# it to exit (then KILL), and remove FILE. Quiet if it is already gone.
stop_pid() {
    local file=$1 pid
    [ -f "$file" ] || return 0
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true # it may have exited meanwhile
        for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$file"
}

# need_free_port PORT: refuse to start on a port something already answers
# on (another engineer's server would otherwise pass our readiness checks).
need_free_port() {
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
        die "127.0.0.1:$1 is already in use"
    fi
}

# free_port: a loopback port nothing listens on, below Linux's ephemeral
# range (32768+) so outgoing connections cannot grab it before we bind it.
free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 12000))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
    done
}
