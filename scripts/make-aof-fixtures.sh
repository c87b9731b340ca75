#!/usr/bin/env bash
# Writes golden AOF files with the reference redis-server (Debian's 7.0.15) for the
# crates/aof tests, into tests/fixtures/aof/:
#
#   rewrite.base.aof        the command-form base file (aof-use-rdb-preamble no) of the
#                           data in rewrite.commands (our own data)
#   manifest-start.manifest, manifest-rewrite1.manifest, manifest-rewrite2.manifest
#                           the manifest after start-up and after two BGREWRITEAOFs
#                           (aof-disable-auto-gc yes, so history files are listed)
#   manifest-during-rewrite.manifest
#                           the manifest while a rewrite runs (two incr files)
#   manifest-quoted.manifest  a manifest whose appendfilename needs quoting
#   timestamps.incr.aof     an incr file written with aof-timestamp-enabled yes
#
#   scripts/make-aof-fixtures.sh
#
# Needs redis-server and redis-cli. The files are committed so the tests need neither.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh

out=tests/fixtures/aof
pid=""
dir=""

# Starts redis-server with AOF on in a fresh directory; extra arguments are passed on.
start() {
    dir=$(mktemp -d)
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly yes \
        --dir "$dir" "$@" > "$dir/server.log" 2>&1 &
    pid=$!
    wait_ping "$port" || { stop_pid "$pid"; die "redis-server did not start"; }
    wait_rewrite
}

stop() {
    stop_pid "$pid"
    rm -rf "$dir"
}

# Waits (bounded) until no AOF rewrite is running or scheduled.
wait_rewrite() {
    for _ in $(seq 1 200); do
        if redis-cli -p "$port" INFO persistence | tr -d '\r' |
            grep -q '^aof_rewrite_in_progress:0' &&
            redis-cli -p "$port" INFO persistence | tr -d '\r' |
            grep -q '^aof_rewrite_scheduled:0'; then
            return 0
        fi
        sleep 0.05
    done
    die "AOF rewrite did not finish"
}

rewrite() {
    redis-cli -p "$port" BGREWRITEAOF > /dev/null
    sleep 0.2
    wait_rewrite
}

# The command-form base file.
start --aof-use-rdb-preamble no
grep -v '^#' "$out/rewrite.commands" | sed '/^\s*$/d' | redis-cli -p "$port" > /dev/null
rewrite
cp "$dir"/appendonlydir/appendonly.aof.2.base.aof "$out/rewrite.base.aof"
stop

# Manifests through two rewrites, and an incr file with timestamp annotations.
start --aof-disable-auto-gc yes --aof-timestamp-enabled yes
cp "$dir/appendonlydir/appendonly.aof.manifest" "$out/manifest-start.manifest"
redis-cli -p "$port" SET a 1 > /dev/null
sleep 1.1
redis-cli -p "$port" SET b 2 > /dev/null
redis-cli -p "$port" DEL a > /dev/null
rewrite
cp "$dir/appendonlydir/appendonly.aof.1.incr.aof" "$out/timestamps.incr.aof"
cp "$dir/appendonlydir/appendonly.aof.manifest" "$out/manifest-rewrite1.manifest"
redis-cli -p "$port" SET c 3 > /dev/null
rewrite
cp "$dir/appendonlydir/appendonly.aof.manifest" "$out/manifest-rewrite2.manifest"
stop

# While a rewrite runs, writes go to a new incr file listed after the old one. The
# child is slowed down per key so the manifest can be read in that state; stopping the
# server stops the child.
start
redis-cli -p "$port" SET k v > /dev/null
redis-cli -p "$port" CONFIG SET rdb-key-save-delay 5000000 > /dev/null
redis-cli -p "$port" BGREWRITEAOF > /dev/null
sleep 0.5
cp "$dir/appendonlydir/appendonly.aof.manifest" "$out/manifest-during-rewrite.manifest"
stop

# A file name that needs quoting (space, quotes, tab, non-ASCII).
start --appendfilename $'my "odd"\tfile\xc3\xa9.aof'
cp "$dir"/appendonlydir/*.manifest "$out/manifest-quoted.manifest"
stop

log "wrote $(ls "$out" | wc -l) files in $out"
