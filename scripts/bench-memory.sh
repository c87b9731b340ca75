#!/usr/bin/env bash
# Memory per element of collections: Lodestone against redis-server, same data, RSS
# measured from /proc after loading. Not a test: allocator and page behaviour vary.
#
#   scripts/bench-memory.sh [--record]
#
# Data sets (the issue's): one list of 1,000,000 short elements; 100,000 hashes of 10
# fields; 10,000 sorted sets of 100 members. Each data set is loaded into a fresh pair
# of servers (lodestone --threads 1 and redis-server, no persistence) through
# `redis-cli --pipe`. Two figures per server: RSS growth (after loading minus the empty
# server: what the data costs) and total RSS after loading (what the machine sees).
# --record appends the table to docs/BENCHMARKS.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

RECORD=0
[ "${1:-}" = "--record" ] && RECORD=1
OUT="$REPO_ROOT/target/bench-memory"
mkdir -p "$OUT"
declare -a STARTED=()
trap 'for p in "${STARTED[@]}"; do stop_pid "$p"; done' EXIT

rss_kb() {
    awk '/^VmRSS:/{print $2}' "/proc/$1/status"
}

# Writes the RESP commands of a data set to a file.
generate() {
    python3 - "$1" "$2" <<'PY'
import sys
name, path = sys.argv[1], sys.argv[2]
def cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)
with open(path, "wb") as f:
    if name == "list":
        for start in range(0, 1_000_000, 1000):
            f.write(cmd("RPUSH", "biglist", *("item:%d" % i for i in range(start, start + 1000))))
    elif name == "hashes":
        for h in range(100_000):
            fields = []
            for i in range(10):
                fields += ["field%d" % i, "value:%d" % (h * 10 + i)]
            f.write(cmd("HSET", "hash:%d" % h, *fields))
    elif name == "zsets":
        for z in range(10_000):
            args = []
            for i in range(100):
                args += [str(i * 1.5), "member:%d" % i]
            f.write(cmd("ZADD", "zset:%d" % z, *args))
PY
}

# Loads a data set into a fresh server; prints "rss_growth_kb rss_total_kb encoding".
measure() {
    local variant=$1 file=$2 probe_key=$3 port dir pid before after
    port=$(free_port)
    dir=$(mktemp -d "$OUT/data.XXXXXX")
    case "$variant" in
        lodestone) taskset -c 0 "$LODESTONE" --port "$port" --dir "$dir" --threads 1 > "$dir/log" 2>&1 & ;;
        redis) taskset -c 0 redis-server --port "$port" --bind 127.0.0.1 --save "" \
                   --appendonly no --dir "$dir" > "$dir/log" 2>&1 & ;;
    esac
    pid=$!
    STARTED+=("$pid")
    wait_ping "$port" || die "$variant did not start"
    before=$(rss_kb "$pid")
    redis-cli -p "$port" --pipe < "$file" > "$dir/pipe.log"
    after=$(rss_kb "$pid")
    echo "$((after - before)) $after $(redis-cli -p "$port" OBJECT ENCODING "$probe_key")"
    stop_pid "$pid"
}

main() {
    LODESTONE=$(build_lodestone release)
    local table="$OUT/table.md" set file elements key l r
    {
        echo "| data set | elements | RSS growth lodestone | RSS growth redis | growth ratio | bytes/element lodestone | bytes/element redis | total RSS lodestone | total RSS redis | total ratio | encodings (lodestone / redis) |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    } > "$table"
    for set in list hashes zsets; do
        file="$OUT/$set.resp"
        generate "$set" "$file"
        case "$set" in
            list) elements=1000000; key=biglist ;;
            hashes) elements=1000000; key=hash:0 ;;
            zsets) elements=1000000; key=zset:0 ;;
        esac
        read -r l lt lenc <<< "$(measure lodestone "$file" "$key")"
        read -r r rt renc <<< "$(measure redis "$file" "$key")"
        awk -v s="$set" -v n="$elements" -v l="$l" -v r="$r" -v lt="$lt" -v rt="$rt" \
            -v le="$lenc" -v re="$renc" 'BEGIN {
            printf "| %s | %d | %.1f MiB | %.1f MiB | %.2f | %.1f | %.1f | %.1f MiB | %.1f MiB | %.2f | %s / %s |\n",
                s, n, l / 1024, r / 1024, (r > 0 ? l / r : 0), l * 1024 / n, r * 1024 / n,
                lt / 1024, rt / 1024, (rt > 0 ? lt / rt : 0), le, re }' >> "$table"
    done
    cat "$table"
    if [ "$RECORD" = 1 ]; then
        {
            echo
            echo "## $(date -u +%Y-%m-%d) memory per element"
            echo
            echo "- commit: $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown); redis-server $(redis-server --version | sed 's/^Redis server v=//;s/ .*//')"
            echo "- VmRSS before and after loading; servers pinned to core 0, lodestone --threads 1"
            echo
            cat "$table"
        } >> "$REPO_ROOT/docs/BENCHMARKS.md"
        log "appended to docs/BENCHMARKS.md"
    fi
}

main
