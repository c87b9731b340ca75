#!/usr/bin/env bash
# Throughput, latency and CPU cost per request: Lodestone against redis-server, with
# redis-benchmark. Not a test: numbers depend on the machine and on its load.
#
#   scripts/bench.sh [--record] [--quick]
#
# Servers run on core 0 (taskset), redis-benchmark on core 1, so the client never
# steals the server's core. Three servers: lodestone --threads 1 (pinned),
# lodestone with its default thread count (not pinned: it may use both cores, the
# client's too), and redis-server (pinned, no persistence). Each test runs alone so
# that the server's CPU time (utime+stime from /proc/<pid>/stat) is charged to it.
#
# The three servers run side by side and the tests are interleaved over BENCH_ROUNDS
# rounds (default 3): each figure in the table is the median of its rounds, so a burst
# of load on the machine shifts every server alike instead of one of them.
#
# --record appends a dated section with the machine's description to docs/BENCHMARKS.md.
# --quick uses fewer requests (a smoke run of the script itself).
# BENCH_N / BENCH_N_PIPELINED override the request counts; BENCH_TESTS the test list
# (redis-benchmark -t names); BENCH_VARIANTS the servers (see VARIANTS below). Memory
# per element: scripts/bench-memory.sh. Every server runs without persistence.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench.sh"
DEEP=32
COUNTED=requests

RECORD=0
N=${BENCH_N:-200000}
N_PIPELINED=${BENCH_N_PIPELINED:-2000000}
ROUNDS=${BENCH_ROUNDS:-3}
while [ $# -gt 0 ]; do
    case "$1" in
        --record) RECORD=1 ;;
        --quick) N=20000; N_PIPELINED=200000 ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) die "unknown option $1" ;;
    esac
    shift
done

TESTS=${BENCH_TESTS:-"set get incr mset lpush rpop sadd hset zadd zpopmin lrange_100"}
# lodestone-Nt: --threads N pinned to core 0 (BENCH_VARIANTS="lodestone-1t lodestone-8t
# redis" shows what more threads than cores cost); lodestone: default threads, unpinned.
VARIANTS=${BENCH_VARIANTS:-"lodestone-1t lodestone redis"}
CLOCK_TICKS=$(getconf CLK_TCK)
OUT="$REPO_ROOT/target/bench"
mkdir -p "$OUT"
RESULTS="$OUT/results.csv"
SERVER_PID=""
declare -A PIDS PORTS
trap 'for v in "${!PIDS[@]}"; do stop_pid "${PIDS[$v]}"; done' EXIT

# CPU time a process has used so far, in clock ticks (utime + stime).
cpu_ticks() {
    # Fields after the ")" that ends the command name: utime is the 12th, stime 13th.
    sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

# Starts a server variant on core 0 (or unpinned); sets SERVER_PID and PORT (globals:
# the server must be this shell's child, so no command substitution here).
start_variant() {
    local variant=$1 port dir threads
    port=$(free_port)
    dir=$(mktemp -d "$OUT/data.XXXXXX")
    case "$variant" in
        lodestone-*t)
            # N threads squeezed onto the one core redis-server gets.
            threads=${variant#lodestone-}
            taskset -c 0 "$LODESTONE" --port "$port" --dir "$dir" --threads "${threads%t}" \
                --save "" --appendonly no > "$dir/log" 2>&1 & ;;
        lodestone)
            "$LODESTONE" --port "$port" --dir "$dir" --save "" --appendonly no \
                > "$dir/log" 2>&1 & ;;
        redis)
            taskset -c 0 redis-server --port "$port" --bind 127.0.0.1 --save "" \
                --appendonly no --dir "$dir" > "$dir/log" 2>&1 & ;;
    esac
    SERVER_PID=$!
    PORT=$port
    wait_ping "$port" || die "$variant did not start"
}

# Whether the server answers the benchmarked command with a real reply (not an error).
probe() {
    local port=$1 test=$2 reply
    case "$test" in
        set) reply=$(redis-cli -p "$port" SET bench:probe 1) ;;
        get) reply=$(redis-cli -p "$port" GET bench:probe) ;;
        incr) reply=$(redis-cli -p "$port" INCR bench:probe:n) ;;
        mset) reply=$(redis-cli -p "$port" MSET bench:a 1 bench:b 2) ;;
        lpush) reply=$(redis-cli -p "$port" LPUSH bench:l 1) ;;
        rpop) reply=$(redis-cli -p "$port" RPOP bench:l) ;;
        sadd) reply=$(redis-cli -p "$port" SADD bench:s 1) ;;
        hset) reply=$(redis-cli -p "$port" HSET bench:h f v) ;;
        zadd) reply=$(redis-cli -p "$port" ZADD bench:z 1 m) ;;
        zpopmin) reply=$(redis-cli -p "$port" ZPOPMIN bench:z) ;;
        lrange_100) reply=$(redis-cli -p "$port" LRANGE bench:l 0 99) ;;
    esac
    case "$reply" in ERR*|*"not implemented"*) echo errors ;; *) echo ok ;; esac
}

# One redis-benchmark run; appends "variant,test,P,rps,p50,p99,cpu_us_per_req,replies".
bench_one() {
    local variant=$1 port=$2 test=$3 pipeline=$4 n=$5 before after line
    local replies
    replies=$(probe "$port" "$test")
    before=$(cpu_ticks "$SERVER_PID")
    # (redis-benchmark warns when CONFIG GET is missing; harmless, so hidden.)
    # redis-benchmark stops at the first error reply: such a test gets an empty row.
    line=$( (taskset -c 1 redis-benchmark -p "$port" -c 50 -n "$n" -r 100000 \
        -t "$test" -P "$pipeline" --csv 2>/dev/null || true) | grep -v '^WARNING' \
        | sed -n '2p' | tr -d '"')
    after=$(cpu_ticks "$SERVER_PID")
    if [ -z "$line" ]; then
        echo "$variant,$test,$pipeline,0,-,-,0,$replies" >> "$RESULTS"
        return 0
    fi
    awk -F, -v v="$variant" -v t="$test" -v p="$pipeline" -v n="$n" -v r="$replies" \
        -v ticks=$((after - before)) -v hz="$CLOCK_TICKS" \
        '{printf "%s,%s,%s,%s,%s,%s,%.3f,%s\n", v, t, p, $2, $5, $7, ticks / hz * 1e6 / n, r}' \
        <<< "$line" >> "$RESULTS"
}

start_all() {
    local variant
    for variant in $VARIANTS; do
        start_variant "$variant"
        PIDS[$variant]=$SERVER_PID
        PORTS[$variant]=$PORT
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
    table test requests req | tee "$OUT/table.md"
    if [ "$RECORD" = 1 ]; then
        {
            echo
            echo "## $(date -u +%Y-%m-%d) run"
            echo
            machine
            echo
            cat "$OUT/table.md"
        } >> "$REPO_ROOT/docs/BENCHMARKS.md"
        log "appended to docs/BENCHMARKS.md"
    fi
}

main
