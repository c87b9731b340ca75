# Shared helpers for the scripts in scripts/: repo paths, free ports, starting and
# stopping servers by PID (never by name: other servers may run on this machine).

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# A TCP port on 127.0.0.1 that nothing listens on right now, below the kernel's
# ephemeral range (ip_local_port_range starts at 32768): a port there may be held in
# TIME_WAIT by a finished client socket and refuse a listener.
free_port() {
    local port low=20000 high=32700
    for _ in $(seq 1 200); do
        port=$((low + RANDOM % (high - low)))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    die "no free port found"
}

# Waits until a server answers PING on the port (bounded), or fails.
wait_ping() {
    local port=$1 tries=${2:-200}
    for _ in $(seq 1 "$tries"); do
        if [ "$(redis-cli -p "$port" PING 2>/dev/null)" = "PONG" ]; then
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# Stops a process we started, by PID: TERM, then KILL after a bounded wait.
stop_pid() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# Builds the binary (a no-op when it is up to date) and prints its path. The profile
# is "release" unless "debug" is given.
build_lodestone() {
    local profile=${1:-release} flag=--release
    [ "$profile" = debug ] && flag=""
    (cd "$REPO_ROOT" && cargo build $flag --bin lodestone >&2) || die "$profile build failed"
    echo "$REPO_ROOT/target/$profile/lodestone"
}
