#!/usr/bin/env bash
# Scripting throughput, latency and CPU cost per call: EVALSHA of lock scripts and of a
# ten-call script, Lodestone against redis-server, with redis-benchmark. Not a test:
# numbers depend on the machine and on its load.
#
#   scripts/bench-scripting.sh [--record] [--quick]
#
# Scripts (loaded once with SCRIPT LOAD, run with EVALSHA; keys random over 100000):
#   lock-cycle  SET key token NX PX 30000, then the compare-and-delete release
#               (docs/LOCKS.md): a whole acquire and release in one call.
#   release     the compare-and-delete release script on a held lock, with another
#               token: a GET and a comparison, the lock stays (the common "not mine").
#   ten-calls   ten redis.call: INCR of ten declared keys, each drawn at random (so
#               spread over Lodestone's shards).
# Servers as in scripts/bench.sh: lodestone --threads 1 and redis-server pinned to core
# 0, lodestone with its default thread count unpinned; redis-benchmark (-c 50, -P 1
# and -P 16) on core 1. Each figure is the median of BENCH_ROUNDS (default 3)
# interleaved rounds; server CPU is utime+stime from /proc/<pid>/stat.
#
# --record appends a dated section to docs/BENCHMARKS.md.
# --quick uses fewer requests (a smoke run of the script itself).
# BENCH_N / BENCH_N_PIPELINED override the request counts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench.sh"
DEEP=16
COUNTED=calls

RECORD=0
N=${BENCH_N:-100000}
N_PIPELINED=${BENCH_N_PIPELINED:-500000}
ROUNDS=${BENCH_ROUNDS:-3}
while [ $# -gt 0 ]; do
    case "$1" in
        --record) RECORD=1 ;;
        --quick) N=10000; N_PIPELINED=50000 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) die "unknown option $1" ;;
    esac
    shift
done

# Longest a single redis-benchmark run may take before it counts as failed (a server
# that never answers an EVALSHA must not hang the whole run).
RUN_TIMEOUT=${BENCH_RUN_TIMEOUT:-300}
CLOCK_TICKS=$(getconf CLK_TCK)
OUT="$REPO_ROOT/target/bench-scripting"
mkdir -p "$OUT"
RESULTS="$OUT/results.csv"
SERVER_PID=""
declare -A PIDS PORTS SHAS
trap 'for v in "${!PIDS[@]}"; do stop_pid "${PIDS[$v]}"; done' EXIT

LOCK_CYCLE='if redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", 30000) then
    if redis.call("GET", KEYS[1]) == ARGV[1] then
        return redis.call("DEL", KEYS[1])
    end
end
return 0'
RELEASE='if redis.call("GET", KEYS[1]) == ARGV[1] then
    return redis.call("DEL", KEYS[1])
else
    return 0
end'
TEN_CALLS='for i = 1, #KEYS do
    redis.call("INCR", KEYS[i])
end
return #KEYS'
TESTS="lock-cycle release ten-calls"

# The script body of a test.
body() {
    case "$1" in
        lock-cycle) printf '%s' "$LOCK_CYCLE" ;;
        release) printf '%s' "$RELEASE" ;;
        ten-calls) printf '%s' "$TEN_CALLS" ;;
    esac
}

# The EVALSHA arguments after the SHA (redis-benchmark replaces __rand_int__).
call_args() {
    case "$1" in
        lock-cycle) echo "1 lock:__rand_int__ token:__rand_int__" ;;
        release) echo "1 lock:held:__rand_int__ not-the-holder" ;;
        ten-calls)
            local keys="" i
            for _ in 1 2 3 4 5 6 7 8 9 10; do keys="$keys counter:__rand_int__"; done
            echo "10$keys" ;;
    esac
}

# CPU time a process has used so far, in clock ticks (utime + stime).
cpu_ticks() {
    # Fields after the ")" that ends the command name: utime is the 12th, stime 13th.
    sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

# Starts a server variant on core 0 (or unpinned); sets SERVER_PID and PORT (globals:
# the server must be this shell's child, so no command substitution here).
start_variant() {
    local variant=$1 port dir
    port=$(free_port)
    dir=$(mktemp -d "$OUT/data.XXXXXX")
    case "$variant" in
        lodestone-1t)
            taskset -c 0 "$LODESTONE" --port "$port" --dir "$dir" --threads 1 \
                > "$dir/log" 2>&1 & ;;
        lodestone)
            "$LODESTONE" --port "$port" --dir "$dir" > "$dir/log" 2>&1 & ;;
        redis)
            taskset -c 0 redis-server --port "$port" --bind 127.0.0.1 --save "" \
                --appendonly no --dir "$dir" > "$dir/log" 2>&1 & ;;
    esac
    SERVER_PID=$!
    PORT=$port
    wait_ping "$port" || die "$variant did not start"
}

# Loads every script on a server and holds the locks the release test misses.
prepare() {
    local variant=$1 port=$2 test i
    for test in $TESTS; do
        SHAS[$variant,$test]=$(timeout 10 redis-cli -p "$port" SCRIPT LOAD "$(body "$test")" || true)
    done
    # Every lock:held:N is held by "holder" (N below -r 100000), as if taken earlier.
    for i in $(seq 0 99999); do echo "SET lock:held:$(printf '%012d' "$i") holder"; done \
        | redis-cli -p "$port" --pipe > /dev/null
}

# Whether one call of the test's script gives a real reply (not an error, not silence).
probe() {
    local variant=$1 port=$2 test=$3 sha reply
    sha=${SHAS[$variant,$test]}
    # shellcheck disable=SC2046  # the arguments are words on purpose
    reply=$(timeout 10 redis-cli -p "$port" EVALSHA "$sha" \
        $(call_args "$test" | sed 's/__rand_int__/000000000001/g') 2>&1) || reply="ERR timeout"
    if [ -z "$sha" ] || [ -z "$reply" ]; then echo errors; return; fi
    case "$reply" in ERR*|NOSCRIPT*|*"not implemented"*) echo errors ;; *) echo ok ;; esac
}

# One redis-benchmark run; appends "variant,test,P,rps,p50,p99,cpu_us_per_req,replies".
bench_one() {
    local variant=$1 port=$2 test=$3 pipeline=$4 n=$5 before after line replies
    replies=$(probe "$variant" "$port" "$test")
    if [ "$replies" != ok ]; then
        echo "$variant,$test,$pipeline,0,-,-,0,$replies" >> "$RESULTS"
        return 0
    fi
    before=$(cpu_ticks "$SERVER_PID")
    # shellcheck disable=SC2046  # the arguments are words on purpose
    line=$( (timeout "$RUN_TIMEOUT" taskset -c 1 redis-benchmark -p "$port" -c 50 \
        -n "$n" -r 100000 -P "$pipeline" --csv \
        EVALSHA "${SHAS[$variant,$test]}" $(call_args "$test") 2>/dev/null || true) \
        | grep -v '^WARNING' | sed -n '2p' | tr -d '"')
    after=$(cpu_ticks "$SERVER_PID")
    if [ -z "$line" ]; then
        echo "$variant,$test,$pipeline,0,-,-,0,errors" >> "$RESULTS"
        return 0
    fi
    # The test name (the whole command line) may not contain commas: take the numbers
    # from the end of the row.
    awk -F, -v v="$variant" -v t="$test" -v p="$pipeline" -v n="$n" -v r="$replies" \
        -v ticks=$((after - before)) -v hz="$CLOCK_TICKS" \
        '{printf "%s,%s,%s,%s,%s,%s,%.3f,%s\n", v, t, p, $(NF-6), $(NF-3), $(NF-1), ticks / hz * 1e6 / n, r}' \
        <<< "$line" >> "$RESULTS"
}

start_all() {
    local variant
    for variant in lodestone-1t lodestone redis; do
        start_variant "$variant"
        PIDS[$variant]=$SERVER_PID
        PORTS[$variant]=$PORT
        prepare "$variant" "$PORT"
        log "== $variant on port $PORT"
    done
    SERVER_PID=""
}

main() {
    command -v redis-benchmark >/dev/null || die "redis-benchmark is missing (apt-get install redis-tools)"
    command -v taskset >/dev/null || die "taskset is missing (apt-get install util-linux)"
    LODESTONE=$(build_lodestone release)
    rm -rf "$OUT"/data.*
    : > "$RESULTS"
    start_all
    run_rounds
    medians > "$OUT/medians.csv"
    mv "$OUT/medians.csv" "$RESULTS"
    table script calls call | tee "$OUT/table.md"
    if [ "$RECORD" = 1 ]; then
        {
            echo
            echo "## Scripting, $(date -u +%Y-%m-%d)"
            echo
            machine
            echo
            cat "$OUT/table.md"
        } >> "$REPO_ROOT/docs/BENCHMARKS.md"
        log "appended to docs/BENCHMARKS.md"
    fi
}

main
