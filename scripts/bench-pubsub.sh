#!/usr/bin/env bash
# Pub/sub throughput and fan-out latency: Lodestone against redis-server, with the
# pubsub_bench load generator (crates/lodestone/examples/pubsub_bench.rs). Not a test:
# numbers depend on the machine and on its load.
#
#   scripts/bench-pubsub.sh [--record] [--quick]
#
# Servers as in scripts/bench.sh: lodestone --threads 1 and redis-server pinned to core
# 0, lodestone with its default thread count unpinned; the load generator on core 1.
# Scenarios: 1 and 100 subscribers, PUBLISH pipelined 32 deep (throughput) and one at a
# time (latency: publisher send to subscriber arrival, every delivery counted). Each
# figure is the median of BENCH_ROUNDS (default 3) interleaved rounds.
#
# --record appends a dated section to docs/BENCHMARKS.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

RECORD=0
SCALE=1
ROUNDS=${BENCH_ROUNDS:-3}
while [ $# -gt 0 ]; do
    case "$1" in
        --record) RECORD=1 ;;
        --quick) SCALE=10 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) die "unknown option $1" ;;
    esac
    shift
done

OUT="$REPO_ROOT/target/bench-pubsub"
mkdir -p "$OUT"
RESULTS="$OUT/results.csv"
declare -A PIDS PORTS
trap 'for v in "${!PIDS[@]}"; do stop_pid "${PIDS[$v]}"; done' EXIT

# name subscribers messages pipeline payload
SCENARIOS=(
    "throughput-1sub 1 200000 32 64"
    "throughput-100sub 100 10000 32 64"
    "latency-1sub 1 20000 1 64"
    "latency-100sub 100 3000 1 64"
)

start_variant() {
    local variant=$1 port dir
    port=$(free_port)
    dir=$(mktemp -d "$OUT/data.XXXXXX")
    case "$variant" in
        lodestone-1t) taskset -c 0 "$LODESTONE" --port "$port" --dir "$dir" --threads 1 > "$dir/log" 2>&1 & ;;
        lodestone) "$LODESTONE" --port "$port" --dir "$dir" > "$dir/log" 2>&1 & ;;
        redis) taskset -c 0 redis-server --port "$port" --bind 127.0.0.1 --save "" \
                   --appendonly no --dir "$dir" > "$dir/log" 2>&1 & ;;
    esac
    PIDS[$variant]=$!
    PORTS[$variant]=$port
    wait_ping "$port" || die "$variant did not start"
    log "== $variant on port $port"
}

run_rounds() {
    local round scenario name subs messages pipeline size variant line
    for round in $(seq "$ROUNDS"); do
        log "round $round of $ROUNDS"
        for scenario in "${SCENARIOS[@]}"; do
            read -r name subs messages pipeline size <<< "$scenario"
            messages=$((messages / SCALE))
            for variant in lodestone-1t lodestone redis; do
                line=$(taskset -c 1 "$BENCH" "${PORTS[$variant]}" "$subs" "$messages" "$pipeline" "$size")
                echo "$variant,$name,${line// /,}" >> "$RESULTS"
            done
        done
    done
}

# Median per (server, scenario), then a Markdown table with ratios to redis-server.
table() {
    python3 - "$RESULTS" <<'PY'
import csv, statistics, sys
rows = {}
for r in csv.reader(open(sys.argv[1])):
    rows.setdefault((r[1], r[0]), []).append([float(x) for x in r[2:]])
med = {k: [statistics.median(c) for c in zip(*v)] for k, v in rows.items()}
print("| scenario | server | published/s | delivered/s | p50 µs | p99 µs | p99.9 µs | delivered/s vs redis | p99 vs redis |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for scenario in dict.fromkeys(k[0] for k in med):
    base = med.get((scenario, "redis"))
    for server in ("lodestone-1t", "lodestone", "redis"):
        m = med.get((scenario, server))
        if not m:
            continue
        ratio = "%.2f" % (m[1] / base[1]) if base and base[1] else "-"
        lat = "%.2f" % (m[3] / base[3]) if base and base[3] else "-"
        print(f"| {scenario} | {server} | {m[0]:.0f} | {m[1]:.0f} | {m[2]:.0f} | {m[3]:.0f} | {m[4]:.0f} | {ratio} | {lat} |")
PY
}

machine() {
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- commit: $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- cores: $(nproc); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "- redis-server: $(redis-server --version | sed 's/^Redis server //')"
    echo "- scenarios (name subscribers messages pipeline payload-bytes): ${SCENARIOS[*]}; messages divided by $SCALE; median of $ROUNDS interleaved rounds"
}

main() {
    command -v taskset >/dev/null || die "taskset is missing (apt-get install util-linux)"
    LODESTONE=$(build_lodestone release)
    (cd "$REPO_ROOT" && cargo build --release --quiet -p lodestone --example pubsub_bench) >&2
    BENCH="$REPO_ROOT/target/release/examples/pubsub_bench"
    rm -rf "$OUT"/data.*
    : > "$RESULTS"
    for variant in lodestone-1t lodestone redis; do start_variant "$variant"; done
    run_rounds
    local report
    report=$( { echo; echo "## Pub/sub, $(date -u '+%Y-%m-%d')"; echo; machine; echo; table; } )
    echo "$report"
    if [ "$RECORD" = 1 ]; then
        echo "$report" >> "$REPO_ROOT/docs/BENCHMARKS.md"
        log "appended to docs/BENCHMARKS.md"
    fi
}

main
