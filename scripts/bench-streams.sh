#!/usr/bin/env bash
# Streams: XADD throughput, consumer-group round trips and memory per entry, Lodestone
# against redis-server. Not a test: numbers depend on the machine and on its load.
#
#   scripts/bench-streams.sh [--record] [--quick] [--lodestone PATH] [--dry-run]
#
# 1. XADD, with redis-benchmark (-c 50, -P 1 and -P 32): `XADD bench:xadd * field
#    value` (one stream), `XADD bench:xadd:__rand_int__ * field value` (100000
#    streams), `XADD bench:capped MAXLEN ~ 1000 * field value` (one trimmed stream).
#    Requests/s, p50/p99 and server CPU per request as in scripts/bench.sh; every run
#    starts from an empty server (FLUSHALL, not timed).
# 2. Consumer group, with the stream_bench load generator
#    (crates/lodestone/examples/stream_bench.rs): producers XADD entries carrying their
#    send time; consumers in one group loop XREADGROUP ... COUNT k BLOCK 100 STREAMS s >
#    then XACK. Entries processed per second, the duration of one XREADGROUP+XACK
#    cycle that returned entries, and the delay from XADD to XACK (e2e). "throughput"
#    scenarios produce as fast as the server takes (pipelined 32 deep: a backlog forms,
#    so e2e there is queueing); "latency" scenarios pace the producer (one XADD at a
#    time), so e2e is the latency to read (the cycle there includes time blocked
#    waiting for an entry).
# 3. Memory: 1,000,000 entries (XADD with explicit ids, fields event/user, values like
#    "click"/"u123") loaded into a fresh server; used_memory (INFO) and RSS growth per
#    entry. "distinct" gives every entry its own field names.
#
# Servers as in scripts/bench.sh: lodestone --threads 1 and redis-server pinned to core
# 0, lodestone with its default thread count unpinned; clients on core 1. Parts 1 and 2
# are medians of BENCH_ROUNDS (default 3) interleaved rounds; part 3 compares
# lodestone --threads 1 with redis-server, one load each, like scripts/bench-memory.sh.
# A command the server answers with an error gives a row marked "errors".
#
# --record appends a dated section to docs/BENCHMARKS.md.
# --quick uses a tenth of the requests, entries and memory entries (a smoke run).
# --lodestone PATH uses that binary instead of building target/release/lodestone.
# --dry-run runs redis-server in place of both lodestone variants, to try the script
#   itself (the "lodestone" rows then measure redis-server; --record is refused).
# BENCH_N / BENCH_N_PIPELINED override the XADD request counts, BENCH_TESTS the XADD
# tests (xadd xadd-keys xadd-maxlen), BENCH_MEMORY_ENTRIES the memory entry count.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench.sh"
DEEP=32
COUNTED=requests

RECORD=0
DRY_RUN=0
LODESTONE=""
SCALE=1
N=${BENCH_N:-200000}
N_PIPELINED=${BENCH_N_PIPELINED:-2000000}
MEMORY_ENTRIES=${BENCH_MEMORY_ENTRIES:-1000000}
ROUNDS=${BENCH_ROUNDS:-3}
while [ $# -gt 0 ]; do
    case "$1" in
        --record) RECORD=1 ;;
        --quick)
            SCALE=10
            N=${BENCH_N:-20000}
            N_PIPELINED=${BENCH_N_PIPELINED:-200000}
            MEMORY_ENTRIES=${BENCH_MEMORY_ENTRIES:-100000} ;;
        --lodestone) [ $# -ge 2 ] || die "--lodestone needs a path"; LODESTONE=$2; shift ;;
        --dry-run) DRY_RUN=1 ;;
        -h|--help) sed -n '2,37p' "$0"; exit 0 ;;
        *) die "unknown option $1" ;;
    esac
    shift
done
[ "$DRY_RUN" = 1 ] && [ "$RECORD" = 1 ] && die "--dry-run measures redis-server twice: not recorded"

TESTS=${BENCH_TESTS:-"xadd xadd-keys xadd-maxlen"}
# name producers consumers entries count pipeline rate (entries/s in all, 0: unpaced)
SCENARIOS=(
    "throughput-1c 1 1 200000 100 32 0"
    "throughput-10c 1 10 200000 10 32 0"
    "latency-1c 1 1 20000 10 1 5000"
    "latency-10c 1 10 20000 10 1 5000"
)
# Longest one client run may take before it counts as failed (a server that never
# answers must not hang the whole run).
RUN_TIMEOUT=${BENCH_RUN_TIMEOUT:-300}
CLOCK_TICKS=$(getconf CLK_TCK)
OUT="$REPO_ROOT/target/bench-streams"
mkdir -p "$OUT"
RESULTS="$OUT/results.csv"
CONSUME="$OUT/consume.csv"
SERVER_PID=""
declare -A PIDS PORTS
declare -a STARTED=()
trap 'for v in "${!PIDS[@]}"; do stop_pid "${PIDS[$v]}"; done; for p in "${STARTED[@]}"; do stop_pid "$p"; done' EXIT

# CPU time a process has used so far, in clock ticks (utime + stime).
cpu_ticks() {
    # Fields after the ")" that ends the command name: utime is the 12th, stime 13th.
    sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

# Starts a server variant on core 0 (or unpinned); sets SERVER_PID and PORT (globals:
# the server must be this shell's child, so no command substitution here). With
# --dry-run the lodestone variants are redis-servers.
start_variant() {
    local variant=$1 port dir kind=$1
    port=$(free_port)
    dir=$(mktemp -d "$OUT/data.XXXXXX")
    [ "$DRY_RUN" = 1 ] && [ "$variant" != redis ] && kind=redis-as-$variant
    case "$kind" in
        lodestone-1t)
            taskset -c 0 "$LODESTONE" --port "$port" --dir "$dir" --threads 1 \
                > "$dir/log" 2>&1 & ;;
        lodestone)
            "$LODESTONE" --port "$port" --dir "$dir" > "$dir/log" 2>&1 & ;;
        redis|redis-as-lodestone-1t)
            taskset -c 0 redis-server --port "$port" --bind 127.0.0.1 --save "" \
                --appendonly no --dir "$dir" > "$dir/log" 2>&1 & ;;
        redis-as-lodestone)
            redis-server --port "$port" --bind 127.0.0.1 --save "" \
                --appendonly no --dir "$dir" > "$dir/log" 2>&1 & ;;
    esac
    SERVER_PID=$!
    PORT=$port
    wait_ping "$port" || die "$variant did not start"
}

# --- 1. XADD with redis-benchmark -------------------------------------------------

# The command a test sends (redis-benchmark replaces __rand_int__).
xadd_args() {
    case "$1" in
        xadd) echo "XADD bench:xadd * field value" ;;
        xadd-keys) echo "XADD bench:xadd:__rand_int__ * field value" ;;
        xadd-maxlen) echo "XADD bench:capped MAXLEN ~ 1000 * field value" ;;
        *) die "unknown test $1" ;;
    esac
}

# Whether the server answers XADD with an entry id (not an error, not silence).
probe() {
    local port=$1 reply
    reply=$(timeout 10 redis-cli -p "$port" XADD bench:probe '*' field value 2>&1) || reply=timeout
    case "$reply" in [0-9]*-[0-9]*) echo ok ;; *) echo errors ;; esac
}

# One redis-benchmark run; appends "variant,test,P,rps,p50,p99,cpu_us_per_req,replies".
bench_one() {
    local variant=$1 port=$2 test=$3 pipeline=$4 n=$5 before after line replies
    replies=$(probe "$port")
    if [ "$replies" != ok ]; then
        echo "$variant,$test,$pipeline,0,-,-,0,$replies" >> "$RESULTS"
        return 0
    fi
    timeout 60 redis-cli -p "$port" FLUSHALL > /dev/null || true
    before=$(cpu_ticks "$SERVER_PID")
    # shellcheck disable=SC2046  # the arguments are words on purpose
    line=$( (set -f; timeout "$RUN_TIMEOUT" taskset -c 1 redis-benchmark -p "$port" -c 50 \
        -n "$n" -r 100000 -P "$pipeline" --csv $(xadd_args "$test") 2>/dev/null || true) \
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

# --- 2. Consumer group with stream_bench --------------------------------------------

# Every scenario on every server, BENCH_ROUNDS interleaved rounds; appends
# "variant,scenario,paced,status,produced/s,processed/s,entries/cycle,cycle p50,cycle p99,
# e2e p50,e2e p99" (paced: 1 when the producers keep to a rate).
consume_rounds() {
    local round scenario name producers consumers entries count pipeline rate variant line paced
    for round in $(seq "$ROUNDS"); do
        log "consumer group: round $round of $ROUNDS"
        for scenario in "${SCENARIOS[@]}"; do
            read -r name producers consumers entries count pipeline rate <<< "$scenario"
            entries=$((entries / SCALE))
            paced=$((rate > 0 ? 1 : 0))
            for variant in lodestone-1t lodestone redis; do
                if line=$(timeout "$RUN_TIMEOUT" taskset -c 1 "$BENCH" consume "${PORTS[$variant]}" \
                        "$producers" "$consumers" "$entries" "$count" "$pipeline" "$rate" \
                        2> "$OUT/consume.err"); then
                    echo "$variant,$name,$paced,ok,${line// /,}" >> "$CONSUME"
                else
                    log "$variant $name: $(tail -1 "$OUT/consume.err")"
                    echo "$variant,$name,$paced,errors,0,0,0,0,0,0,0" >> "$CONSUME"
                fi
            done
        done
    done
}

# Median per (server, scenario) of the rounds that worked, then a Markdown table with
# ratios to redis-server: the cycle's p99 where the producers are not paced (a cycle
# there is service time), the e2e p99 where they are (a cycle there includes waiting
# for the next entry, and e2e is the latency to read).
consume_table() {
    python3 - "$CONSUME" <<'PY'
import csv, statistics, sys
rows, status, paced = {}, {}, {}
for r in csv.reader(open(sys.argv[1])):
    key = (r[1], r[0])
    paced[r[1]] = r[2] == "1"
    status.setdefault(key, "errors")
    if r[3] == "ok":
        status[key] = "ok"
        rows.setdefault(key, []).append([float(x) for x in r[4:]])
med = {k: [statistics.median(c) for c in zip(*v)] for k, v in rows.items()}
def ratio(m, base, i):
    return "%.2f" % (m[i] / base[i]) if m and base and base[i] else "-"
print("| scenario | server | produced/s | processed/s | entries/cycle | cycle p50 µs | cycle p99 µs | e2e p50 µs | e2e p99 µs | processed/s vs redis | cycle p99 vs redis | e2e p99 vs redis | replies |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for scenario in dict.fromkeys(k[0] for k in status):
    base = med.get((scenario, "redis"))
    for server in ("lodestone-1t", "lodestone", "redis"):
        if (scenario, server) not in status:
            continue
        m = med.get((scenario, server))
        if not m:
            print(f"| {scenario} | {server} | - | - | - | - | - | - | - | - | - | - | errors |")
            continue
        print(f"| {scenario} | {server} | {m[0]:.0f} | {m[1]:.0f} | {m[2]:.1f} | {m[3]:.0f} | {m[4]:.0f} "
              f"| {m[5]:.0f} | {m[6]:.0f} | {ratio(m, base, 1)} "
              f"| {'-' if paced[scenario] else ratio(m, base, 4)} | {ratio(m, base, 6) if paced[scenario] else '-'} | ok |")
PY
}

# --- 3. Memory per entry ------------------------------------------------------------

rss_kb() {
    awk '/^VmRSS:/{print $2}' "/proc/$1/status"
}

used_memory() {
    redis-cli -p "$1" INFO memory | tr -d '\r' | awk -F: '$1 == "used_memory" {print $2}'
}

# Loads a data set into a fresh server; prints "used_growth_bytes rss_growth_kb
# rss_total_kb", or "- - -" when the server refused the entries.
measure() {
    local variant=$1 fields=$2 pid port used_before rss_before len
    start_variant "$variant"
    pid=$SERVER_PID port=$PORT
    STARTED+=("$pid")
    used_before=$(used_memory "$port")
    rss_before=$(rss_kb "$pid")
    if timeout "$RUN_TIMEOUT" taskset -c 1 "$BENCH" load "$port" bench:events \
            "$MEMORY_ENTRIES" "$fields" > /dev/null 2> "$OUT/load.err" \
        && len=$(redis-cli -p "$port" XLEN bench:events) && [ "$len" = "$MEMORY_ENTRIES" ]; then
        echo "$(($(used_memory "$port") - used_before)) $(($(rss_kb "$pid") - rss_before)) $(rss_kb "$pid")"
    else
        log "$variant memory ($fields): $(tail -1 "$OUT/load.err") ${len:+XLEN $len}"
        echo "- - -"
    fi
    stop_pid "$pid"
}

memory_table() {
    local fields lu lg lt ru rg rt
    echo "| entries | field names | used_memory B/entry lodestone | used_memory B/entry redis | used ratio | RSS growth B/entry lodestone | RSS growth B/entry redis | RSS growth ratio | total RSS lodestone | total RSS redis | total ratio |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for fields in same distinct; do
        # (Not in a command substitution: the servers must be this shell's children.)
        measure lodestone-1t "$fields" > "$OUT/measured"
        read -r lu lg lt < "$OUT/measured"
        measure redis "$fields" > "$OUT/measured"
        read -r ru rg rt < "$OUT/measured"
        awk -v n="$MEMORY_ENTRIES" -v f="$fields" -v lu="$lu" -v lg="$lg" -v lt="$lt" \
            -v ru="$ru" -v rg="$rg" -v rt="$rt" '
            function per(b) { return b == "-" ? "-" : sprintf("%.1f", b / n) }
            function mib(kb) { return kb == "-" ? "-" : sprintf("%.1f MiB", kb / 1024) }
            function ratio(a, b) { return (a == "-" || b == "-" || b <= 0) ? "-" : sprintf("%.2f", a / b) }
            BEGIN {
                printf "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", n, f,
                    per(lu), per(ru), ratio(lu, ru),
                    (lg == "-" ? "-" : per(lg * 1024)), (rg == "-" ? "-" : per(rg * 1024)), ratio(lg, rg),
                    mib(lt), mib(rt), ratio(lt, rt)
            }'
    done
}

# --- The run ------------------------------------------------------------------------

start_all() {
    local variant
    for variant in lodestone-1t lodestone redis; do
        start_variant "$variant"
        PIDS[$variant]=$SERVER_PID
        PORTS[$variant]=$PORT
        log "== $variant on port $PORT"
    done
    SERVER_PID=""
}

stop_all() {
    local variant
    for variant in "${!PIDS[@]}"; do stop_pid "${PIDS[$variant]}"; done
    PIDS=()
}

streams_machine() {
    machine
    [ "$DRY_RUN" = 1 ] && echo "- DRY RUN: the lodestone rows are redis-server"
    echo "- lodestone: ${LODESTONE:-none}"
    echo "- XADD tests: $(for t in $TESTS; do printf '`%s`; ' "$(xadd_args "$t")"; done)each from an empty server"
    echo "- consumer-group scenarios (name producers consumers entries COUNT pipeline rate/s): ${SCENARIOS[*]}; entries divided by $SCALE"
    echo "- memory: $MEMORY_ENTRIES entries in one stream, lodestone --threads 1 against redis-server, one load each"
}

main() {
    command -v redis-benchmark >/dev/null || die "redis-benchmark is missing (apt-get install redis-tools)"
    command -v taskset >/dev/null || die "taskset is missing (apt-get install util-linux)"
    if [ "$DRY_RUN" = 0 ]; then
        [ -n "$LODESTONE" ] || LODESTONE=$(build_lodestone release)
        [ -x "$LODESTONE" ] || die "no lodestone binary at $LODESTONE"
    fi
    (cd "$REPO_ROOT" && cargo build --release --quiet -p lodestone --example stream_bench) >&2 \
        || die "stream_bench build failed"
    BENCH="$REPO_ROOT/target/release/examples/stream_bench"
    rm -rf "$OUT"/data.*
    : > "$RESULTS"
    : > "$CONSUME"
    start_all
    run_rounds
    medians > "$OUT/medians.csv"
    mv "$OUT/medians.csv" "$RESULTS"
    table test requests req > "$OUT/xadd.md"
    consume_rounds
    consume_table > "$OUT/consume.md"
    stop_all
    log "memory: $MEMORY_ENTRIES entries"
    memory_table > "$OUT/memory.md"
    {
        echo
        echo "## Streams, $(date -u +%Y-%m-%d)"
        echo
        streams_machine
        echo
        echo "XADD (redis-benchmark):"
        echo
        cat "$OUT/xadd.md"
        echo
        echo "Consumer group (stream_bench consume):"
        echo
        cat "$OUT/consume.md"
        echo
        echo "Memory per entry (stream_bench load):"
        echo
        cat "$OUT/memory.md"
    } > "$OUT/report.md"
    cat "$OUT/report.md"
    if [ "$RECORD" = 1 ]; then
        cat "$OUT/report.md" >> "$REPO_ROOT/docs/BENCHMARKS.md"
        log "appended to docs/BENCHMARKS.md"
    fi
}

main
