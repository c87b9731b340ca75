# Shared by scripts/bench.sh and scripts/bench-scripting.sh: their results file holds
# rows "server,test,P,rps,p50,p99,cpu_us_per_req,replies", one per round.

# Collapses the rounds: the median of each column per (server, test, depth).
medians() {
    python3 - "$RESULTS" <<'PY'
import csv, statistics, sys
rows = {}
for r in csv.reader(open(sys.argv[1])):
    rows.setdefault((r[0], r[1], r[2]), []).append(r)
def med(values):
    nums = [float(v) for v in values if v not in ("-", "")]
    return statistics.median(nums) if nums else "-"
for (variant, test, p), rs in rows.items():
    cols = [med([r[i] for r in rs]) for i in (3, 4, 5, 6)]
    cols = [("%.3f" % c) if isinstance(c, float) else c for c in cols]
    print(",".join([variant, test, p] + cols + [rs[-1][7]]))
PY
}

# The results as a Markdown table, with lodestone/redis ratios.
# $1: what a row measures (test, script); $2: what it counts (requests, calls); $3: the
# unit of its CPU column (req, call).
table() {
    local what=$1 counted=$2 unit=$3
    echo "| $what | P | server | $counted/s | p50 ms | p99 ms | server CPU µs/$unit | rps ratio vs redis | CPU ratio vs redis | replies |"
    echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---|"
    awk -F, '
        { key = $2 "," $3; rows[NR] = $0
          if ($1 == "redis") { rps[key] = $4; cpu[key] = $7 } }
        END {
            for (i = 1; i <= NR; i++) {
                split(rows[i], f, ","); key = f[2] "," f[3]
                ok = f[4] > 0
                rr = (ok && rps[key] > 0) ? sprintf("%.2f", f[4] / rps[key]) : "-"
                cr = (ok && cpu[key] > 0) ? sprintf("%.2f", f[7] / cpu[key]) : "-"
                rate = ok ? sprintf("%.0f", f[4]) : "-"
                cost = ok ? sprintf("%.2f", f[7]) : "-"
                printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                    toupper(f[2]), f[3], f[1], rate, f[5], f[6], cost, rr, cr, f[8]
            }
        }' <(sort -t, -k3,3n -k2,2 -k1,1 "$RESULTS")
}

# Every test at depths 1 and $DEEP, each round visiting the three servers in turn
# (bench_one, PIDS, PORTS, VARIANTS, TESTS, N, N_PIPELINED and ROUNDS come from the
# caller).
run_rounds() {
    local round pipeline test variant n
    for round in $(seq "$ROUNDS"); do
        log "round $round of $ROUNDS"
        for pipeline in 1 "$DEEP"; do
            n=$N
            [ "$pipeline" = 1 ] || n=$N_PIPELINED
            for test in $TESTS; do
                for variant in ${VARIANTS:-lodestone-1t lodestone redis}; do
                    SERVER_PID=${PIDS[$variant]}
                    bench_one "$variant" "${PORTS[$variant]}" "$test" "$pipeline" "$n"
                done
            done
        done
    done
    SERVER_PID=""
}

# The machine and the run's parameters ($COUNTED: requests or calls).
machine() {
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- commit: $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- cores: $(nproc); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "- memory: $(free -h | awk '/^Mem:/{print $2}'); kernel: $(uname -r)"
    echo "- redis-server: $(redis-server --version | sed 's/^Redis server //')"
    echo "- $COUNTED: $N per test unpipelined, $N_PIPELINED with -P $DEEP; -c 50 -r 100000; median of $ROUNDS interleaved rounds"
}
