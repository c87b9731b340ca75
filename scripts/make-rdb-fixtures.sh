#!/usr/bin/env bash
# Writes golden RDB files with the reference redis-server (Debian's 7.0.15) for the
# loader tests: tests/fixtures/rdb/<name>.rdb and, beside it, <name>.expected with what
# a correct load must show (DEBUG DIGEST, then per key: name, OBJECT ENCODING and
# DEBUG DIGEST-VALUE). The data is our own, from tests/fixtures/rdb/<name>.commands.
#
#   scripts/make-rdb-fixtures.sh            # regenerate every fixture
#
# Needs redis-server and redis-cli. Run it again only when the data set changes; the
# files are committed so the tests need no redis-server.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh

for commands in tests/fixtures/rdb/*.commands; do
    name=$(basename "$commands" .commands)
    dir=$(mktemp -d)
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --enable-debug-command yes --dir "$dir" > "$dir/server.log" 2>&1 &
    pid=$!
    wait_ping "$port" || { stop_pid "$pid"; die "redis-server did not start"; }
    grep -v '^#' "$commands" | sed '/^\s*$/d' | redis-cli -p "$port" > /dev/null
    redis-cli -p "$port" SAVE > /dev/null
    {
        echo "digest $(redis-cli -p "$port" DEBUG DIGEST)"
        for db in $(redis-cli -p "$port" INFO keyspace | tr -d '\r' | sed -n 's/^db\([0-9]*\):.*/\1/p'); do
            redis-cli -p "$port" -n "$db" --raw KEYS '*' | sort | while IFS= read -r key; do
                echo "$db $key $(redis-cli -p "$port" -n "$db" --raw OBJECT ENCODING "$key") $(redis-cli -p "$port" -n "$db" --raw DEBUG DIGEST-VALUE "$key")"
            done
        done
    } > "tests/fixtures/rdb/$name.expected"
    cp "$dir/dump.rdb" "tests/fixtures/rdb/$name.rdb"
    stop_pid "$pid"
    rm -rf "$dir"
    log "wrote tests/fixtures/rdb/$name.rdb ($(wc -c < "tests/fixtures/rdb/$name.rdb") bytes)"
done
