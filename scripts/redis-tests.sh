#!/usr/bin/env bash
# Runs units of Redis 7.0.15's own Tcl test suite against Lodestone and counts
# [ok]/[err]/[exception]/[skip] per unit. Units under unit/ run in the suite's
# external-server mode, one fresh server per unit; units under integration/ (which
# start their own servers from config files: persistence, restarts) run in its normal
# mode, with Lodestone standing in as src/redis-server.
#
#   scripts/redis-tests.sh [--check] [--record] [--server lodestone|redis]
#                          [--units "unit/type/string ..."] [--unit-timeout SECONDS]
#                          [--debug] [--binary PATH] [--internal]
#
#   --check    fail (exit 1) when a test listed in tests/redis-baseline.txt no longer
#              passes: regressions only, so the suite can run in CI while most of it
#              still fails. A unit that lost a test runs once more; a test that
#              passes then is reported as flaky, not failed.
#   --record   rewrite tests/redis-baseline.txt and the tables in docs/COMPATIBILITY.md
#              from this run.
#   --server   run against the reference redis-server instead (checks the runner and
#              the skip list: every non-skipped test should pass there).
#   --debug    test the debug build (shares the build of `cargo test`) instead of the
#              release build.
#   --binary   test this lodestone binary as is (no build).
#   --internal run every unit in the normal mode (the suite starts the servers),
#              not only those under integration/.
#
# The suite comes from $REDIS_SRC, tests-external/redis-src (gitignored cache), or
# /work/redis-src, else `apt-get source redis`. Tests named in tests/redis-skiplist.txt
# are skipped (each with its reason there); tests tagged needs:repl are left out, since
# Lodestone has no replication.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

UNITS="unit/type/string unit/type/incr unit/keyspace unit/dump unit/expire unit/protocol unit/info-command unit/introspection unit/type/list unit/type/list-2 unit/type/list-3 unit/type/hash unit/type/set unit/type/zset unit/type/stream unit/type/stream-cgroups unit/sort unit/multi unit/pubsub unit/pubsubshard unit/obuf-limits unit/scripting unit/functions integration/rdb integration/aof integration/aof-multi-part"
DEFAULT_UNITS=$UNITS
UNIT_TIMEOUT=600
CHECK=0
RECORD=0
SERVER=lodestone
PROFILE=release
BINARY=""
INTERNAL=0
while [ $# -gt 0 ]; do
    case "$1" in
        --check) CHECK=1 ;;
        --record) RECORD=1 ;;
        --server) SERVER=$2; shift ;;
        --units) UNITS=$2; shift ;;
        --debug) PROFILE=debug ;;
        --binary) BINARY=$2; shift ;;
        --unit-timeout) UNIT_TIMEOUT=$2; shift ;;
        --internal) INTERNAL=1 ;;
        -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
        *) die "unknown option $1" ;;
    esac
    shift
done

SKIPLIST="$REPO_ROOT/tests/redis-skiplist.txt"
BASELINE="$REPO_ROOT/tests/redis-baseline.txt"
COMPAT="$REPO_ROOT/docs/COMPATIBILITY.md"
OUT="$REPO_ROOT/target/redis-tests"
CACHE="$REPO_ROOT/tests-external/redis-src"

# Finds (or fetches) an unpacked Redis 7.0.15 source tree with its tests.
find_redis_source() {
    local dir
    for dir in "${REDIS_SRC:-}" "$CACHE"/redis-7.0.15 /work/redis-src/redis-7.0.15; do
        if [ -n "$dir" ] && [ -f "$dir/tests/test_helper.tcl" ]; then
            echo "$dir"
            return 0
        fi
    done
    log "fetching the Redis source with apt-get source (cached in $CACHE)"
    if ! grep -rqs 'deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        sed -i 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources
    fi
    command -v dpkg-source >/dev/null || apt-get install -y dpkg-dev >&2
    apt-get update >&2
    mkdir -p "$CACHE"
    (cd "$CACHE" && apt-get source redis >&2) || die "apt-get source redis failed"
    dir=$(find "$CACHE" -maxdepth 1 -type d -name 'redis-7.0.*' | head -n 1)
    [ -f "$dir/tests/test_helper.tcl" ] || die "no Redis test suite under $CACHE"
    echo "$dir"
}

# A private copy of the suite, adapted for external mode against Lodestone: the
# per-server `function flush` is tolerated (Lodestone has no scripting), the tools some
# tests call come from Debian's redis-tools, and the first block of unit/pubsubshard
# runs (upstream tags the whole file external:skip because of its second block, which
# sets up a replica), and so does unit/obuf-limits (tagged for its DEBUG-heavy tests,
# which the skip list names).
prepare_suite() {
    local src=$1 suite="$OUT/suite"
    rm -rf "$suite"
    mkdir -p "$suite/src"
    cp -r "$src/tests" "$suite/"
    sed -i 's/^\(\s*\)r function flush$/\1catch {r function flush}/' "$suite/tests/support/server.tcl"
    sed -i '0,/ external:skip/s/ external:skip//' "$suite/tests/unit/pubsubshard.tcl"
    sed -i 's/{"obuf-limits external:skip"}/{"obuf-limits"}/' "$suite/tests/unit/obuf-limits.tcl"
    for tool in redis-cli redis-benchmark redis-server redis-check-aof redis-check-rdb; do
        [ -x "/usr/bin/$tool" ] && ln -sf "/usr/bin/$tool" "$suite/src/$tool"
    done
    grep -v '^\s*#' "$SKIPLIST" | sed '/^\s*$/d' > "$OUT/skipfile.txt"
    echo "$suite"
}

# A copy of the suite for its normal mode, where the test client starts servers
# itself with `src/redis-server <config file> [--flag value...]`: here that is a
# wrapper that execs the server under test with the same arguments (the PID the suite
# waits for in the log is then the server's own). The harness's config files come from
# tests/assets/default.conf, which Lodestone reads as redis.conf. The tools come from
# Debian's redis-tools.
prepare_internal_suite() {
    local src=$1 suite="$OUT/suite-internal" server
    rm -rf "$suite"
    mkdir -p "$suite/src"
    cp -r "$src/tests" "$suite/"
    for tool in redis-cli redis-benchmark redis-check-aof redis-check-rdb; do
        [ -x "/usr/bin/$tool" ] && ln -sf "/usr/bin/$tool" "$suite/src/$tool"
    done
    if [ "$SERVER" = redis ]; then
        server=$(command -v redis-server) || die "redis-server is missing"
    else
        server=$(realpath "$LODESTONE")
    fi
    printf '#!/bin/sh\nexec %q "$@"\n' "$server" > "$suite/src/redis-server"
    chmod +x "$suite/src/redis-server"
    echo "$suite"
}

# Whether a unit runs in the suite's normal mode (it starts its own servers).
is_internal() {
    [ "$INTERNAL" = 1 ] || [[ $1 == integration/* ]]
}

# Stops servers a normal-mode unit left running (a unit killed by the timeout cannot
# stop them): those whose working directory is in the suite's tmp dir, by PID.
stop_leftover_servers() {
    local suite=$1 proc cwd
    for proc in /proc/[0-9]*; do
        cwd=$(readlink "$proc/cwd" 2>/dev/null) || continue
        if [[ $cwd == "$suite/tests/tmp/"* ]]; then
            stop_pid "${proc#/proc/}"
        fi
    done
}

# Starts the server under test on a port; prints "pid port". A port found free can be
# taken by another process before the server binds it, so a failed start is retried on
# another port (three attempts, each given 10 s).
start_server() {
    local port dir pid attempt
    for attempt in 1 2 3; do
        port=$(free_port)
        dir=$(mktemp -d "$OUT/data.XXXXXX")
        if [ "$SERVER" = redis ]; then
            redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
                --enable-debug-command yes --dir "$dir" > "$dir/server.log" 2>&1 &
        else
            "$LODESTONE" --port "$port" --dir "$dir" > "$dir/server.log" 2>&1 &
        fi
        pid=$!
        if wait_ping "$port"; then
            echo "$pid $port"
            return 0
        fi
        stop_pid "$pid"
        log "attempt $attempt: $SERVER did not start on port $port: $(tail -3 "$dir/server.log" | tr '\n' ' ')"
    done
    die "$SERVER did not start (3 attempts)"
}

# Runs one unit in normal mode: the suite starts (and stops) the servers.
run_internal_unit() {
    local suite=$1 unit=$2 log="$OUT/logs/${2//\//_}.log" rc=0
    log "== $unit ($SERVER started by the suite)"
    # Servers take ports from [baseport, baseport+portcount), the suite's control
    # socket from [baseport-32, baseport): start somewhere random, below Linux's
    # ephemeral ports (32768 up), which client sockets may hold at any time (a server
    # that finds its port taken is restarted on another, and the suite then empties
    # its log, losing lines some tests count).
    local baseport attempt
    for attempt in 1 2 3; do
        baseport=$(($(free_port) % 10000 + 21032))
        rc=0
        (cd "$suite" && TERM=dumb timeout --kill-after=10 "$UNIT_TIMEOUT" \
            tclsh tests/test_helper.tcl --single "$unit" \
            --baseport "$baseport" --portcount 1000 \
            --skipfile "$OUT/skipfile.txt" --tags -needs:repl --clients 1 --durable \
            --timeout 120 > "$log" 2>&1) || rc=$?
        stop_leftover_servers "$suite"
        grep -q "couldn't open socket: address already in use" "$log" || break
        log "attempt $attempt: the suite's control port was taken; retrying"
    done
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        echo "[TIMEOUT]: unit killed after ${UNIT_TIMEOUT}s" >> "$log"
    fi
}

# Runs one unit; its log goes to $OUT/logs/<unit>.log.
run_unit() {
    local suite=$1 unit=$2 log="$OUT/logs/${2//\//_}.log" pid port rc=0
    if is_internal "$unit"; then
        run_internal_unit "$INTERNAL_SUITE" "$unit"
        return
    fi
    read -r pid port < <(start_server)
    log "== $unit ($SERVER on port $port)"
    # The suite's own control socket takes a port from [baseport-32, baseport): start
    # the search somewhere random, not at its fixed default, which may still be held.
    # A port found free can be taken before the suite binds it: then try another.
    local baseport attempt
    for attempt in 1 2 3; do
        baseport=$(($(free_port) + 32))
        rc=0
        (cd "$suite" && TERM=dumb timeout --kill-after=10 "$UNIT_TIMEOUT" \
            tclsh tests/test_helper.tcl --host 127.0.0.1 --port "$port" --single "$unit" \
            --baseport "$baseport" \
            --skipfile "$OUT/skipfile.txt" --tags -needs:repl --clients 1 --durable \
            --timeout 120 > "$log" 2>&1) || rc=$?
        grep -q "couldn't open socket: address already in use" "$log" || break
        log "attempt $attempt: the suite's control port was taken; retrying"
    done
    stop_pid "$pid"
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        echo "[TIMEOUT]: unit killed after ${UNIT_TIMEOUT}s" >> "$log"
    fi
}

# Counts one unit's results: "unit ok err exception skip ignore status".
summarise_unit() {
    local unit=$1 log="$OUT/logs/${1//\//_}.log" status
    local ok err exc skip ign
    ok=$(grep -c '^\[ok\]:' "$log" || true)
    err=$(grep -c '^\[err\]:' "$log" || true)
    exc=$(grep -c '^\[exception\]:' "$log" || true)
    skip=$(grep -c '^\[skip\]:' "$log" || true)
    ign=$(grep -c '^\[ignore\]:' "$log" || true)
    if grep -q 'TIMEOUT' "$log"; then
        status=timeout
    elif [ "$exc" -gt 0 ]; then
        status=aborted
    elif grep -q 'All tests passed' "$log"; then
        status=passed
    elif grep -q 'tests failed' "$log"; then
        status=failed
    else
        status=crashed
    fi
    echo "$unit $ok $err $exc $skip $ign $status"
}

# Names of the tests that passed, as "unit<TAB>name".
passing_tests() {
    local unit=$1 log="$OUT/logs/${1//\//_}.log"
    sed -n 's/^\[ok\]: \(.*\) ([0-9]* ms)$/\1/p' "$log" | sed "s|^|$unit\t|" | sort -u
}

markdown_table() {
    echo "| unit | ok | err | exception | skipped (skip list) | ignored (tags) | status |"
    echo "|---|---:|---:|---:|---:|---:|---|"
    while read -r unit ok err exc skip ign status; do
        echo "| $unit | $ok | $err | $exc | $skip | $ign | $status |"
    done < "$OUT/summary.txt"
}

# The units table of COMPATIBILITY.md after a record: this run's rows, and for the
# default units it did not run (a --units subset), their rows from the last record.
recorded_table() {
    local unit row
    markdown_table | head -n 2
    for unit in $DEFAULT_UNITS; do
        row=$(awk -v u="$unit" '$1 == u' "$OUT/summary.txt")
        if [ -n "$row" ]; then
            read -r unit ok err exc skip ign status <<< "$row"
            echo "| $unit | $ok | $err | $exc | $skip | $ign | $status |"
        else
            grep -F "| $unit |" "$COMPAT" | head -n 1 || true
        fi
    done
}

# The skip list as Markdown: each test with the reason comment above it.
skiplist_markdown() {
    awk '/^# /{reason=substr($0,3); next} /^[[:space:]]*$/{next}
         {printf "- `%s`: %s\n", $0, reason}' "$SKIPLIST"
}

# Replaces the text between <!-- NAME:begin --> and <!-- NAME:end --> in a file.
replace_section() {
    local file=$1 name=$2 body=$3 tmp
    tmp=$(mktemp)
    awk -v begin="<!-- $name:begin -->" -v end="<!-- $name:end -->" -v bodyfile="$body" '
        $0 == begin { print; while ((getline line < bodyfile) > 0) print line; skip = 1; next }
        $0 == end { skip = 0 }
        !skip { print }' "$file" > "$tmp"
    mv "$tmp" "$file"
}

record() {
    local tmp
    tmp=$(mktemp)
    { [ -f "$BASELINE" ] && grep -v -F -f <(tr ' ' '\n' <<< "$UNITS" | sed 's/$/\t/') "$BASELINE" || true
      cat "$OUT/passing.txt"; } | sort -u > "$tmp"
    {
        echo "# Upstream Tcl tests that pass against Lodestone (unit<TAB>test name), written by"
        echo "# scripts/redis-tests.sh --record; --check fails when one of them stops passing."
        grep -v '^#' "$tmp" || true
    } > "$BASELINE"
    recorded_table > "$tmp"
    local commit stamp
    commit=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    stamp="Recorded $(date -u +%Y-%m-%d) against $SERVER at commit $commit."
    if [ "$UNITS" != "$DEFAULT_UNITS" ]; then
        # A subset: the other rows keep the date and commit they were recorded at.
        stamp="$(grep -m1 '^Recorded ' "$COMPAT" || true) Re-recorded $(date -u +%Y-%m-%d) at commit $commit: $UNITS."
    fi
    { echo; echo "$stamp"; } >> "$tmp"
    replace_section "$COMPAT" redis-tests "$tmp"
    skiplist_markdown > "$tmp"
    replace_section "$COMPAT" redis-skiplist "$tmp"
    rm -f "$tmp"
    log "recorded $BASELINE and $COMPAT"
}

# Baseline tests of the units run that are not in passing.txt.
missing_tests() {
    local expected
    expected=$(grep -v '^#' "$BASELINE" | grep -F -f <(tr ' ' '\n' <<< "$UNITS" | sed 's/$/\t/') || true)
    comm -23 <(sort -u <<< "$expected" | sed '/^$/d') "$OUT/passing.txt"
}

# The lines a unit's log (or its first run's) gives for a failed test: "[err]: name"
# and the message after it.
failure_lines() {
    local unit=$1 name=$2 log="$OUT/logs/${1//\//_}.log${3:-}"
    grep -F -A3 "[err]: $name" "$log" 2>/dev/null | head -n 4 || true
    grep -F -A3 "[exception]: $name" "$log" 2>/dev/null | head -n 4 || true
}

# Every baseline test of the units run must still pass. A unit that lost one is run
# once more on a fresh server: a 2-core machine under load can miss a timing bound
# that upstream tests hold (for either server). A test that fails twice is a
# regression; one that passes the second time is reported as flaky, with its first
# failure. The report goes to $OUT/check-report.txt (scripts/test.sh prints it last).
check() {
    local suite=$1 missing unit flaky total
    : > "$OUT/check-report.txt"
    missing=$(missing_tests)
    if [ -n "$missing" ]; then
        for unit in $(cut -f1 <<< "$missing" | sort -u); do
            log "rerunning $unit: $(grep -c "^$unit"$'\t' <<< "$missing") baseline test(s) failed"
            mv "$OUT/logs/${unit//\//_}.log" "$OUT/logs/${unit//\//_}.log.first"
            run_unit "$suite" "$unit"
            passing_tests "$unit" >> "$OUT/passing.txt.unsorted"
        done
        sort -u "$OUT/passing.txt.unsorted" > "$OUT/passing.txt"
        flaky=$(comm -23 <(sort -u <<< "$missing") <(missing_tests))
        missing=$(missing_tests)
        if [ -n "$flaky" ]; then
            {
                echo "FLAKY: these baseline tests failed once and passed on a rerun:"
                while IFS=$'\t' read -r unit name; do
                    echo "  $unit: $name"
                    failure_lines "$unit" "$name" .first | sed 's/^/      /'
                done <<< "$flaky"
            } >> "$OUT/check-report.txt"
        fi
    fi
    if [ -n "$missing" ]; then
        {
            echo "REGRESSION: these upstream tests passed before and fail now (twice):"
            while IFS=$'\t' read -r unit name; do
                echo "  $unit: $name"
                failure_lines "$unit" "$name" | sed 's/^/      /'
            done <<< "$missing"
        } >> "$OUT/check-report.txt"
        cat "$OUT/check-report.txt" >&2
        return 1
    fi
    total=$(grep -v '^#' "$BASELINE" | grep -cF -f <(tr ' ' '\n' <<< "$UNITS" | sed 's/$/\t/') || true)
    cat "$OUT/check-report.txt" >&2
    log "no regressions against $BASELINE ($total tests)"
}

main() {
    command -v tclsh >/dev/null || die "tclsh is missing (apt-get install tcl)"
    command -v redis-cli >/dev/null || die "redis-cli is missing (apt-get install redis-tools)"
    rm -rf "$OUT"/data.* "$OUT/logs" "$OUT/check-report.txt"
    mkdir -p "$OUT/logs"
    local src suite
    src=$(find_redis_source)
    suite=$(prepare_suite "$src")
    if [ -n "$BINARY" ]; then
        LODESTONE=$BINARY
    elif [ "$SERVER" = lodestone ]; then
        LODESTONE=$(build_lodestone "$PROFILE")
    fi
    INTERNAL_SUITE=""
    for unit in $UNITS; do
        if is_internal "$unit"; then
            INTERNAL_SUITE=$(prepare_internal_suite "$src")
            break
        fi
    done
    : > "$OUT/summary.txt"
    : > "$OUT/passing.txt.unsorted"
    for unit in $UNITS; do
        run_unit "$suite" "$unit"
        summarise_unit "$unit" >> "$OUT/summary.txt"
        passing_tests "$unit" >> "$OUT/passing.txt.unsorted"
    done
    sort -u "$OUT/passing.txt.unsorted" > "$OUT/passing.txt"
    markdown_table
    log "logs: $OUT/logs/"
    if [ "$RECORD" = 1 ]; then
        record
    fi
    if [ "$CHECK" = 1 ]; then
        check "$suite"
    fi
}

main
