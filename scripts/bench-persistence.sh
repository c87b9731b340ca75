#!/usr/bin/env bash
# Persistence: BGSAVE, memory during a BGSAVE under writes, loading at startup and
# throughput with the AOF, Lodestone against redis-server. Not a test: numbers depend
# on the machine and on its load.
#
#   scripts/bench-persistence.sh [--record] [--quick] [--lodestone PATH] [--dry-run]
#
# Data, the same on every server, built with EVAL loops (the script is in this file):
# 1,000,000 strings of 100 bytes ("value:N" padded with zero bytes, as DEBUG POPULATE
# makes them, but named key:%012d like redis-benchmark's __rand_int__ keys, so that the
# writers below overwrite existing keys instead of adding new ones), 1,000 hashes of
# 100 fields, 1,000 lists of 100 elements, 1,000 sorted sets of 100 members and 100
# streams of 1,000 entries. Servers start with --save "" --appendonly no unless stated.
#
# 1. BGSAVE time: wall time from BGSAVE to INFO's rdb_bgsave_in_progress:0 (polled
#    every 10 ms) with nothing else running, and the size of dump.rdb. Redis notices its
#    child's exit in serverCron (hz 10), so its time includes up to 0.1 s of that.
#    "extra PSS" is what 2 measures, here without writes.
# 2. Extra memory during BGSAVE under writes: a writer (redis-benchmark -t set -r <keys>
#    -d 100 -c 50 -P 16) overwrites random existing strings. It starts 1 s before
#    BGSAVE, so even a short BGSAVE runs wholly under writes, and is stopped (by PID)
#    when the BGSAVE ends. Every 10 ms a sampler sums the PSS (/proc/PID/smaps_rollup)
#    of the server and its children (Redis's fork child): PSS shares a page among the
#    processes mapping it, so the sum counts the pages parent and child still share
#    once and the copies the writes cause in full. extra = peak PSS during the BGSAVE
#    - the sample just before it, also as % of that baseline. RSS summed the same way
#    for reference (it counts Redis's shared pages twice). rdb_last_cow_size: for
#    Lodestone the most bytes of old values kept at once (no fork: a write to a key the
#    snapshot has not reached first encodes the old value into a side buffer), for
#    Redis the child's private dirty memory. Writer ops/s: total_commands_processed
#    over the BGSAVE.
# 3. Load time at startup: the dump.rdb of 1 copied into an empty directory, the server
#    started on it, time until PING answers PONG (both answer -LOADING meanwhile), and
#    DBSIZE after to confirm. Also each server on the other's file ("file from").
# 4. Throughput with the AOF: redis-benchmark -t set / -t incr -r <keys> -d 100 -c 50
#    at -P 1 and -P 16 against servers without AOF, with appendonly yes appendfsync
#    everysec (both write before replying, everysec fsyncs once a second), and, at
#    -P 16 only, appendfsync always. Every run starts from an empty server: FLUSHALL,
#    then BGREWRITEAOF so the AOF starts small (not timed); auto-aof-rewrite-percentage
#    is 0 so no rewrite runs during a run. Requests/s, p50/p99, server CPU per request;
#    ratios to the same server without AOF and to redis-server in the same mode.
#
# Servers as in scripts/bench.sh: lodestone --threads 1 and redis-server pinned to core
# 0 (taskset: the snapshot thread and the fork child stay on it too), lodestone with its
# default thread count unpinned; redis-benchmark, the writer and the sampler on core 1.
# Every part takes the median of BENCH_ROUNDS (default 3) rounds, each round visiting
# the servers in turn.
#
# --record appends a dated section to docs/BENCHMARKS.md.
# --quick uses a tenth of the data and of the requests (a smoke run).
# --lodestone PATH uses that binary instead of building target/release/lodestone.
# --dry-run runs redis-server in place of both lodestone variants, to try the script
#   itself (the "lodestone" rows then measure redis-server; --record is refused).
# BENCH_KEYS overrides the number of strings; BENCH_N / BENCH_N_PIPELINED /
# BENCH_N_ALWAYS the requests per run at -P 1, at -P 16, and with appendfsync always.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench.sh"
DEEP=16
COUNTED=requests

RECORD=0
DRY_RUN=0
LODESTONE=""
SCALE=1
ROUNDS=${BENCH_ROUNDS:-3}
while [ $# -gt 0 ]; do
    case "$1" in
        --record) RECORD=1 ;;
        --quick) SCALE=10 ;;
        --lodestone) [ $# -ge 2 ] || die "--lodestone needs a path"; LODESTONE=$2; shift ;;
        --dry-run) DRY_RUN=1 ;;
        -h|--help) sed -n '2,55p' "$0"; exit 0 ;;
        *) die "unknown option $1" ;;
    esac
    shift
done
[ "$DRY_RUN" = 1 ] && [ "$RECORD" = 1 ] && die "--dry-run measures redis-server twice: not recorded"

KEYS=${BENCH_KEYS:-$((1000000 / SCALE))}
N=${BENCH_N:-$((200000 / SCALE))}
N_PIPELINED=${BENCH_N_PIPELINED:-$((1000000 / SCALE))}
N_ALWAYS=${BENCH_N_ALWAYS:-$((100000 / SCALE))}
# "kind count size": the collections (count divided by SCALE; size elements each).
COLLECTIONS=("hash 1000 100" "list 1000 100" "zset 1000 100" "stream 100 1000")
# Strings per EVAL while loading.
CHUNK=50000
VARIANTS="lodestone-1t lodestone redis"
MODES="no everysec always"
TESTS="set incr"
# Seconds the writer of part 2 runs before BGSAVE.
WARMUP=1
# Longest one step (a load, a BGSAVE, a benchmark run) may take before it counts as
# failed: a server that never answers must not hang the whole run.
RUN_TIMEOUT=${BENCH_RUN_TIMEOUT:-300}
CLOCK_TICKS=$(getconf CLK_TCK)
OUT="$REPO_ROOT/target/bench-persistence"
mkdir -p "$OUT"
PY="$OUT/persistence.py"
SAVES="$OUT/bgsave.csv"
LOADS="$OUT/load.csv"
RESULTS="$OUT/aof.csv"
SERVER_PID=""
PORT=""
STARTED_AT=""
declare -A PIDS PORTS DIRS
declare -a STARTED=()

cleanup() {
    local pid
    for pid in "${STARTED[@]}"; do stop_pid "$pid"; done
    # The dumps and AOFs are large; the logs stay.
    rm -rf "$OUT"/data.*/appendonlydir "$OUT"/data.*/*.rdb "$OUT"/dump-*.rdb
}
trap cleanup EXIT

# Builds the data: strings first (key:%012d, value "value:N" zero-padded to ARGV[4]
# bytes), then collections kind:1..kind:last of ARGV[4] elements. Returns the count.
LOAD_SCRIPT=$(cat <<'LUA'
local kind, first, last, m = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
for i = first, last do
    if kind == 'string' then
        local v = 'value:' .. i
        redis.call('SET', string.format('key:%012d', i), v .. string.rep('\0', m - #v))
    elseif kind == 'stream' then
        local key = 'stream:' .. i
        for j = 1, m do
            redis.call('XADD', key, j .. '-1', 'event', 'click', 'user', 'u' .. (j % 1000))
        end
    else
        local key, a = kind .. ':' .. i, {}
        for j = 1, m do
            if kind == 'hash' then
                a[#a + 1] = 'field:' .. j
                a[#a + 1] = 'value:' .. i .. ':' .. j
            elseif kind == 'list' then
                a[#a + 1] = 'item:' .. i .. ':' .. j
            else
                a[#a + 1] = j * 1.5
                a[#a + 1] = 'member:' .. j
            end
        end
        if kind == 'hash' then
            redis.call('HSET', key, unpack(a))
        elseif kind == 'list' then
            redis.call('RPUSH', key, unpack(a))
        else
            redis.call('ZADD', key, unpack(a))
        end
    end
end
return last - first + 1
LUA
)

# The sampler, the PING waiter and the tables (written to $PY by main).
write_helper() {
    cat > "$PY" <<'PY'
import csv, os, socket, statistics, sys, time

class RespError(str):
    pass

class Conn:
    def __init__(self, port, timeout):
        self.sock = socket.create_connection(("127.0.0.1", int(port)), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")

    def call(self, *args):
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            a = str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(parts))
        return self.reply()

    def reply(self):
        line = self.file.readline()
        if not line.endswith(b"\r\n"):
            raise EOFError("connection closed")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.file.read(n + 2)[:-2].decode(errors="replace")
        if kind == b"*":
            return [self.reply() for _ in range(max(int(rest), 0))]
        raise ValueError("unexpected reply %r" % line)

    def info(self, section):
        text = self.call("INFO", section)
        if not isinstance(text, str) or isinstance(text, RespError):
            raise RuntimeError("INFO %s: %s" % (section, text))
        return dict(l.split(":", 1) for l in text.splitlines() if ":" in l and not l.startswith("#"))

def word(x):
    """Text that fits one CSV field of a status."""
    return str(x).replace(",", ";").replace(" ", "_").replace("\n", "_")[:80]

def descendants(pid):
    parents = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                parents.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out

def memory(pid):
    """PSS and RSS in kB summed over the process and its descendants."""
    pss = rss = 0
    for p in [pid] + descendants(pid):
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1])
        except OSError:
            pass
    return pss, rss

def bgsave(port, pid, timeout):
    """BGSAVE, sampling memory every 10 ms until it is over. Prints status,secs,
    base_pss_kb,peak_pss_kb,base_rss_kb,peak_rss_kb,peak_current_cow,rdb_last_cow_size,
    ops_per_s,samples."""
    pid, timeout = int(pid), float(timeout)
    c = Conn(port, timeout)
    ops0 = int(c.info("stats").get("total_commands_processed", 0))
    base_pss, base_rss = memory(pid)
    start = time.monotonic()
    reply = c.call("BGSAVE")
    if isinstance(reply, RespError) or "started" not in str(reply).lower():
        print("reply:%s,0,0,0,0,0,0,0,0,0" % word(reply))
        return
    peak_pss, peak_rss, peak_cow, samples, status = base_pss, base_rss, 0, 0, "ok"
    tick = start
    while True:
        tick += 0.01
        delay = tick - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            tick = time.monotonic()
        pss, rss = memory(pid)
        peak_pss, peak_rss, samples = max(peak_pss, pss), max(peak_rss, rss), samples + 1
        p = c.info("persistence")
        peak_cow = max(peak_cow, int(p.get("current_cow_size", 0)))
        if p.get("rdb_bgsave_in_progress") == "0":
            break
        if time.monotonic() - start > timeout:
            status = "timeout"
            break
    secs = time.monotonic() - start
    ops1 = int(c.info("stats").get("total_commands_processed", 0))
    p = c.info("persistence")
    if status == "ok" and p.get("rdb_last_bgsave_status") != "ok":
        status = "bgsave-status-" + word(p.get("rdb_last_bgsave_status"))
    print("%s,%.3f,%d,%d,%d,%d,%d,%s,%.0f,%d" % (status, secs, base_pss, peak_pss, base_rss,
          peak_rss, peak_cow, p.get("rdb_last_cow_size", 0), (ops1 - ops0) / secs, samples))

def exited(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True

def pong(port, started, timeout, pid):
    """Waits until PING answers PONG. Prints status,secs since `started` (Unix time),
    -LOADING replies seen."""
    started, timeout, pid = float(started), float(timeout), int(pid)
    loading = 0
    while True:
        if time.time() - started > timeout or exited(pid):
            print("%s,0,%d" % ("timeout" if not exited(pid) else "exited", loading))
            return
        try:
            c = Conn(port, timeout)
        except OSError:
            time.sleep(0.01)
            continue
        try:
            while not exited(pid) and time.time() - started <= timeout:
                r = c.call("PING")
                if r == "PONG":
                    print("ok,%.3f,%d" % (time.time() - started, loading))
                    return
                if isinstance(r, RespError) and r.startswith("LOADING"):
                    loading += 1
                else:
                    print("reply:%s,0,%d" % (word(r), loading))
                    return
                time.sleep(0.01)
        except (OSError, EOFError):
            time.sleep(0.01)

# --- Tables -------------------------------------------------------------------------

def rows_of(path):
    with open(path) as f:
        return list(csv.reader(f))

def med(xs):
    return statistics.median(xs) if xs else None

def ratio(a, b):
    return "%.2f" % (a / b) if a is not None and b else "-"

def fmt(x, spec):
    return "-" if x is None else spec % x

def status_of(rs):
    bad = [r for r in rs if r != "ok"]
    return "ok" if not bad else "%s (%d of %d)" % (bad[0], len(bad), len(rs))

def table_bgsave(path, part):
    """Part 1 (no writes) or 2 (under writes) from rows part,variant,round,status,secs,
    base_pss,peak_pss,base_rss,peak_rss,peak_cow,last_cow,ops,samples,size."""
    by = {}
    for r in rows_of(path):
        if r[0] == part:
            by.setdefault(r[1], []).append(r)
    med_of = {}
    for v, rs in by.items():
        ok = [[float(x) for x in r[4:]] for r in rs if r[3] == "ok"]
        m = {}
        if ok:
            col = lambda i: med([o[i] for o in ok])
            m = dict(secs=col(0), base_pss=col(1), peak_pss=col(2), base_rss=col(3),
                     peak_rss=col(4), peak_cow=col(5), last_cow=col(6), ops=col(7),
                     size=col(9), extra_pss=med([o[2] - o[1] for o in ok]),
                     extra_rss=med([o[4] - o[3] for o in ok]),
                     extra_pct=med([100 * (o[2] - o[1]) / o[1] for o in ok if o[1] > 0]))
        med_of[v] = (m, status_of([r[3] for r in rs]))
    base = med_of.get("redis", ({}, ""))[0]
    mib = lambda kb: fmt(None if kb is None else kb / 1024, "%.1f")
    mibb = lambda b: fmt(None if b is None else b / 1048576, "%.1f")
    if part == "1":
        print("| server | BGSAVE s | dump.rdb MiB | extra PSS MiB (no writes) | time vs redis | size vs redis | status |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for v, (m, st) in med_of.items():
            print("| %s | %s | %s | %s | %s | %s | %s |" % (
                v, fmt(m.get("secs"), "%.3f"), mibb(m.get("size")), mib(m.get("extra_pss")),
                ratio(m.get("secs"), base.get("secs")), ratio(m.get("size"), base.get("size")), st))
    else:
        print("| server | BGSAVE s | writer ops/s | PSS before MiB | PSS peak MiB | extra PSS MiB | extra PSS % | RSS before MiB | RSS peak MiB | extra RSS MiB | rdb_last_cow_size MiB | peak current_cow_size MiB | extra PSS vs redis | status |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for v, (m, st) in med_of.items():
            print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                v, fmt(m.get("secs"), "%.3f"), fmt(m.get("ops"), "%.0f"), mib(m.get("base_pss")),
                mib(m.get("peak_pss")), mib(m.get("extra_pss")), fmt(m.get("extra_pct"), "%.1f"),
                mib(m.get("base_rss")), mib(m.get("peak_rss")), mib(m.get("extra_rss")),
                mibb(m.get("last_cow")), mibb(m.get("peak_cow")),
                ratio(m.get("extra_pss"), base.get("extra_pss")), st))

def table_load(path, expected):
    """Part 3 from rows variant,from,round,status,secs,loading_replies,dbsize."""
    by = {}
    for r in rows_of(path):
        status = r[3]
        if status == "ok" and r[6] != expected:
            status = "DBSIZE-" + r[6]
        by.setdefault((r[0], r[1]), []).append((status, r))
    med_of = {}
    for k, rs in by.items():
        ok = [r for s, r in rs if s == "ok"]
        med_of[k] = (med([float(r[4]) for r in ok]), med([float(r[5]) for r in ok]),
                     ok[-1][6] if ok else rs[-1][1][6], status_of([s for s, _ in rs]))
    base = med_of.get(("redis", "redis"), (None,))[0]
    print("| server | file from | load s | DBSIZE (expected %s) | -LOADING replies | load vs redis on its file | status |" % expected)
    print("|---|---|---:|---:|---:|---:|---|")
    for (v, source), (secs, loading, dbsize, st) in med_of.items():
        print("| %s | %s | %s | %s | %s | %s | %s |" % (
            v, source, fmt(secs, "%.3f"), dbsize, fmt(loading, "%.0f"), ratio(secs, base), st))

def table_aof(path, variants, modes):
    """Part 4 from rows variant,mode,test,P,rps,p50,p99,cpu_us_per_req,replies."""
    by = {}
    for r in rows_of(path):
        by.setdefault((r[2], int(r[3]), r[1], r[0]), []).append(r)
    med_of = {}
    for k, rs in by.items():
        ok = [[float(x) for x in r[4:8]] for r in rs if r[8] == "ok"]
        med_of[k] = ([med([o[i] for o in ok]) for i in range(4)] if ok else [None] * 4,
                     status_of([r[8] for r in rs]))
    names = {"no": "no AOF", "everysec": "everysec", "always": "always"}
    print("| test | P | appendfsync | server | requests/s | p50 ms | p99 ms | server CPU µs/req | vs no AOF | vs redis | replies |")
    print("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---|")
    tests = list(dict.fromkeys(k[0] for k in med_of))
    for test in tests:
        for p in sorted({k[1] for k in med_of if k[0] == test}):
            for mode in modes:
                for v in variants:
                    if (test, p, mode, v) not in med_of:
                        continue
                    m, st = med_of[(test, p, mode, v)]
                    no = med_of.get((test, p, "no", v), ([None],))[0][0]
                    redis = med_of.get((test, p, mode, "redis"), ([None],))[0][0]
                    print("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                        test.upper(), p, names[mode], v, fmt(m[0], "%.0f"), fmt(m[1], "%.3f"),
                        fmt(m[2], "%.3f"), fmt(m[3], "%.2f"),
                        ratio(m[0], no) if mode != "no" else "-",
                        ratio(m[0], redis), st))

if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    try:
        if cmd == "bgsave":
            bgsave(*args)
        elif cmd == "pong":
            pong(*args)
        elif cmd == "table-bgsave":
            table_bgsave(*args)
        elif cmd == "table-load":
            table_load(*args)
        elif cmd == "table-aof":
            table_aof(args[0], args[1].split(), args[2].split())
        else:
            sys.exit("unknown command " + cmd)
    except (OSError, EOFError, RuntimeError, ValueError) as e:
        if cmd.startswith("table"):
            raise
        # One CSV line the caller records as failed.
        fields = {"bgsave": 10, "pong": 3}[cmd]
        print(",".join(["error:" + word(type(e).__name__ + ":" + str(e))] + ["0"] * (fields - 1)))
PY
}

# CPU time a process has used so far, in clock ticks (utime + stime).
cpu_ticks() {
    # Fields after the ")" that ends the command name: utime is the 12th, stime 13th.
    sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

# Starts a server variant in a directory, with extra arguments (the AOF mode), and does
# not wait for it; sets SERVER_PID, PORT and STARTED_AT (Unix time just before the
# start). Globals: the server must be this shell's child, so no command substitution.
# With --dry-run the lodestone variants are redis-servers.
start_variant() {
    local variant=$1 dir=$2 kind=$1 port
    shift 2
    port=$(free_port)
    [ "$DRY_RUN" = 1 ] && [ "$variant" != redis ] && kind=redis-as-$variant
    STARTED_AT=$EPOCHREALTIME
    case "$kind" in
        lodestone-1t)
            taskset -c 0 "$LODESTONE" --port "$port" --dir "$dir" --threads 1 --save "" "$@" \
                >> "$dir/log" 2>&1 & ;;
        lodestone)
            "$LODESTONE" --port "$port" --dir "$dir" --save "" "$@" >> "$dir/log" 2>&1 & ;;
        redis|redis-as-lodestone-1t)
            taskset -c 0 redis-server --port "$port" --bind 127.0.0.1 --save "" \
                --dir "$dir" "$@" >> "$dir/log" 2>&1 & ;;
        redis-as-lodestone)
            redis-server --port "$port" --bind 127.0.0.1 --save "" \
                --dir "$dir" "$@" >> "$dir/log" 2>&1 & ;;
    esac
    SERVER_PID=$!
    PORT=$port
    STARTED+=("$SERVER_PID")
}

# Whether a server we started exited because its port was taken between free_port and
# its bind (free_port only sees listeners: a client socket in TIME_WAIT on that
# ephemeral port makes the bind fail too). Such a start is worth another port.
port_taken() {
    local pid=$1 dir=$2 state
    state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $1}')
    case "$state" in ""|Z|X) grep -qi 'address already in use' "$dir/log" ;; *) return 1 ;; esac
}

# Waits until the server answers PONG (bounded); fails early when it exited.
wait_up() {
    local port=$1 pid=$2 state
    for _ in $(seq 1 400); do
        [ "$(timeout 2 redis-cli -p "$port" PING 2>/dev/null)" = "PONG" ] && return 0
        state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $1}')
        case "$state" in ""|Z|X) return 1 ;; esac
        sleep 0.05
    done
    return 1
}

# The persistence arguments of an AOF mode.
mode_args() {
    case "$1" in
        no) echo "--appendonly no" ;;
        *) echo "--appendonly yes --appendfsync $1 --auto-aof-rewrite-percentage 0" ;;
    esac
}

info_field() {
    local port=$1 section=$2 name=$3
    timeout 10 redis-cli -p "$port" INFO "$section" | tr -d '\r' \
        | awk -F: -v n="$name" '$1 == n {print $2}'
}

# --- Data ---------------------------------------------------------------------------

# The number of keys the data set has.
expected_keys() {
    local spec kind count size total=$KEYS
    for spec in "${COLLECTIONS[@]}"; do
        read -r kind count size <<< "$spec"
        total=$((total + count / SCALE))
    done
    echo "$total"
}

eval_load() {
    local port=$1 reply
    shift
    reply=$(timeout "$RUN_TIMEOUT" redis-cli -p "$port" EVAL "$LOAD_SCRIPT" 0 "$@" 2>&1) \
        || reply="failed or timed out: $reply"
    [[ "$reply" =~ ^[0-9]+$ ]] || die "loading ($*) on port $port: $reply"
}

load_data() {
    local variant=$1 port=$2 first last spec kind count size dbsize
    local started=$EPOCHREALTIME
    for ((first = 0; first < KEYS; first += CHUNK)); do
        last=$((first + CHUNK < KEYS ? first + CHUNK - 1 : KEYS - 1))
        eval_load "$port" string "$first" "$last" 100
    done
    for spec in "${COLLECTIONS[@]}"; do
        read -r kind count size <<< "$spec"
        eval_load "$port" "$kind" 1 $((count / SCALE)) "$size"
    done
    dbsize=$(redis-cli -p "$port" DBSIZE)
    [ "$dbsize" = "$EXPECTED" ] || die "$variant has $dbsize keys after loading, not $EXPECTED"
    log "$variant: $dbsize keys loaded in $(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}') s"
}

# --- 1 and 2. BGSAVE, alone and under writes ----------------------------------------

# One BGSAVE sampled by the helper; appends a row to $SAVES.
sample_bgsave() {
    local part=$1 variant=$2 round=$3 line size
    line=$(timeout $((RUN_TIMEOUT + 10)) taskset -c 1 python3 "$PY" bgsave "${PORTS[$variant]}" \
        "${PIDS[$variant]}" "$RUN_TIMEOUT" || echo "error:sampler,0,0,0,0,0,0,0,0,0")
    size=$(stat -c %s "${DIRS[$variant]}/dump.rdb" 2>/dev/null || echo 0)
    echo "$part,$variant,$round,$line,$size" >> "$SAVES"
    log "  $variant: ${line%%,*} $(cut -d, -f2 <<< "$line") s"
}

bgsave_rounds() {
    local round variant
    for round in $(seq "$ROUNDS"); do
        log "BGSAVE: round $round of $ROUNDS"
        for variant in $VARIANTS; do
            sample_bgsave 1 "$variant" "$round"
        done
    done
    for variant in $VARIANTS; do
        cp "${DIRS[$variant]}/dump.rdb" "$OUT/dump-$variant.rdb" 2>/dev/null \
            || log "$variant wrote no dump.rdb"
    done
}

cow_rounds() {
    local round variant writer
    for round in $(seq "$ROUNDS"); do
        log "BGSAVE under writes: round $round of $ROUNDS"
        for variant in $VARIANTS; do
            taskset -c 1 redis-benchmark -p "${PORTS[$variant]}" -t set -r "$KEYS" -d 100 \
                -c 50 -P 16 -n 1000000000 -q > /dev/null 2>&1 &
            writer=$!
            STARTED+=("$writer")
            sleep "$WARMUP"
            kill -0 "$writer" 2>/dev/null || log "  the writer against $variant is not running"
            sample_bgsave 2 "$variant" "$round"
            stop_pid "$writer"
        done
    done
}

# --- 3. Loading ---------------------------------------------------------------------

# "server file-from" pairs.
LOAD_PAIRS=("lodestone-1t lodestone-1t" "lodestone lodestone" "redis redis"
    "lodestone-1t redis" "redis lodestone-1t")

load_rounds() {
    local round pair variant from dir line dbsize pid port
    for round in $(seq "$ROUNDS"); do
        log "loading: round $round of $ROUNDS"
        for pair in "${LOAD_PAIRS[@]}"; do
            read -r variant from <<< "$pair"
            if [ ! -f "$OUT/dump-$from.rdb" ]; then
                echo "$variant,$from,$round,no-file,0,0,0" >> "$LOADS"
                continue
            fi
            dir=$(mktemp -d "$OUT/data.XXXXXX")
            cp "$OUT/dump-$from.rdb" "$dir/dump.rdb"
            for _ in 1 2 3 4 5; do
                # shellcheck disable=SC2046  # the mode's arguments are words on purpose
                start_variant "$variant" "$dir" $(mode_args no)
                pid=$SERVER_PID port=$PORT
                line=$(timeout $((RUN_TIMEOUT + 10)) taskset -c 1 python3 "$PY" pong "$port" \
                    "$STARTED_AT" "$RUN_TIMEOUT" "$pid" || echo "error:waiter,0,0")
                port_taken "$pid" "$dir" || break
                log "  port $port was taken: again on another"
            done
            dbsize=$(timeout 10 redis-cli -p "$port" DBSIZE 2>/dev/null || echo "-")
            [[ "$dbsize" =~ ^[0-9]+$ ]] || dbsize="-"
            echo "$variant,$from,$round,$line,$dbsize" >> "$LOADS"
            log "  $variant on $from's file: ${line%%,*} $(cut -d, -f2 <<< "$line") s, DBSIZE $dbsize"
            stop_pid "$pid"
            rm -f "$dir/dump.rdb"
        done
    done
}

# --- 4. Throughput with the AOF -----------------------------------------------------

# Whether the server answers the test's command with a real reply.
probe() {
    local port=$1 test=$2 reply
    case "$test" in
        set) reply=$(timeout 10 redis-cli -p "$port" SET bench:probe x 2>&1) || reply=timeout
             [ "$reply" = OK ] ;;
        incr) reply=$(timeout 10 redis-cli -p "$port" INCR bench:probe:n 2>&1) || reply=timeout
              [[ "$reply" =~ ^[0-9]+$ ]] ;;
    esac
}

# Empties the server; with the AOF on, rewrites it (so it starts small) and waits.
reset_server() {
    local port=$1 mode=$2 reply
    timeout 60 redis-cli -p "$port" FLUSHALL > /dev/null || return 1
    [ "$mode" = no ] && return 0
    reply=$(timeout 10 redis-cli -p "$port" BGREWRITEAOF 2>&1) || return 1
    case "$reply" in *started*|*scheduled*) ;; *) log "BGREWRITEAOF: $reply"; return 1 ;; esac
    for _ in $(seq 3000); do
        if [ "$(info_field "$port" persistence aof_rewrite_in_progress)" = 0 ] \
            && [ "$(info_field "$port" persistence aof_rewrite_scheduled)" = 0 ]; then
            return 0
        fi
        sleep 0.02
    done
    return 1
}

# One redis-benchmark run; appends "variant,mode,test,P,rps,p50,p99,cpu_us_per_req,replies".
bench_one() {
    local variant=$1 mode=$2 test=$3 pipeline=$4 n=$5 port pid before after line
    port=${PORTS[$variant/$mode]} pid=${PIDS[$variant/$mode]}
    if ! reset_server "$port" "$mode"; then
        echo "$variant,$mode,$test,$pipeline,0,-,-,0,reset-failed" >> "$RESULTS"
        return 0
    fi
    if ! probe "$port" "$test"; then
        echo "$variant,$mode,$test,$pipeline,0,-,-,0,errors" >> "$RESULTS"
        return 0
    fi
    before=$(cpu_ticks "$pid")
    line=$( (timeout "$RUN_TIMEOUT" taskset -c 1 redis-benchmark -p "$port" -c 50 -n "$n" \
        -r "$KEYS" -d 100 -P "$pipeline" -t "$test" --csv 2>/dev/null || true) \
        | grep -v '^WARNING' | sed -n '2p' | tr -d '"')
    after=$(cpu_ticks "$pid")
    if [ -z "$line" ]; then
        echo "$variant,$mode,$test,$pipeline,0,-,-,0,errors" >> "$RESULTS"
        return 0
    fi
    awk -F, -v v="$variant" -v m="$mode" -v t="$test" -v p="$pipeline" -v n="$n" \
        -v ticks=$((after - before)) -v hz="$CLOCK_TICKS" \
        '{printf "%s,%s,%s,%s,%s,%s,%s,%.3f,ok\n", v, m, t, p, $(NF-6), $(NF-3), $(NF-1), ticks / hz * 1e6 / n}' \
        <<< "$line" >> "$RESULTS"
}

aof_rounds() {
    local round pipeline test mode variant n
    for round in $(seq "$ROUNDS"); do
        log "AOF: round $round of $ROUNDS"
        for pipeline in 1 "$DEEP"; do
            for test in $TESTS; do
                for mode in $MODES; do
                    n=$N
                    [ "$pipeline" = 1 ] || n=$N_PIPELINED
                    if [ "$mode" = always ]; then
                        [ "$pipeline" = 1 ] && continue
                        n=$N_ALWAYS
                    fi
                    for variant in $VARIANTS; do
                        bench_one "$variant" "$mode" "$test" "$pipeline" "$n"
                    done
                done
            done
        done
    done
}

# --- The run ------------------------------------------------------------------------

# Starts one server per key ("variant" or "variant/mode") and waits for PONG.
start_servers() {
    local key variant mode attempt
    for key in "$@"; do
        variant=${key%/*} mode=no
        [ "$key" = "$variant" ] || mode=${key#*/}
        DIRS[$key]=$(mktemp -d "$OUT/data.XXXXXX")
        for attempt in 1 2 3 4 5; do
            # shellcheck disable=SC2046  # the mode's arguments are words on purpose
            start_variant "$variant" "${DIRS[$key]}" $(mode_args "$mode")
            wait_up "$PORT" "$SERVER_PID" && break
            if ! port_taken "$SERVER_PID" "${DIRS[$key]}" || [ "$attempt" = 5 ]; then
                die "$key did not start (log: ${DIRS[$key]}/log)"
            fi
            log "port $PORT was taken: $key again on another"
        done
        PIDS[$key]=$SERVER_PID
        PORTS[$key]=$PORT
        log "== $key on port $PORT"
    done
}

stop_servers() {
    local key
    for key in "${!PIDS[@]}"; do stop_pid "${PIDS[$key]}"; done
    PIDS=() PORTS=()
}

persistence_machine() {
    machine | grep -v "^- $COUNTED: "
    echo "- transparent huge pages: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)"
    [ "$DRY_RUN" = 1 ] && echo "- DRY RUN: the lodestone rows are redis-server"
    echo "- lodestone: ${LODESTONE:-none}"
    local spec kind count size collections=""
    for spec in "${COLLECTIONS[@]}"; do
        read -r kind count size <<< "$spec"
        case "$kind" in
            hash) kind="hashes of $size fields" ;;
            list) kind="lists of $size elements" ;;
            zset) kind="sorted sets of $size members" ;;
            stream) kind="streams of $size entries" ;;
        esac
        collections+=", $((count / SCALE)) $kind"
    done
    echo "- data: $KEYS strings of 100 bytes$collections ($EXPECTED keys); servers --save \"\", lodestone-1t and redis on core 0, clients on core 1"
    echo "- BGSAVE under writes: redis-benchmark -t set -r $KEYS -d 100 -c 50 -P 16 from ${WARMUP} s before BGSAVE to its end; memory sampled every 10 ms"
    echo "- AOF: redis-benchmark -c 50 -r $KEYS -d 100, $N requests at -P 1, $N_PIPELINED at -P $DEEP, $N_ALWAYS with appendfsync always; FLUSHALL + BGREWRITEAOF before each run, auto-aof-rewrite-percentage 0"
    echo "- median of $ROUNDS rounds everywhere"
}

main() {
    command -v redis-benchmark >/dev/null || die "redis-benchmark is missing (apt-get install redis-tools)"
    command -v taskset >/dev/null || die "taskset is missing (apt-get install util-linux)"
    if [ "$DRY_RUN" = 0 ]; then
        [ -n "$LODESTONE" ] || LODESTONE=$(build_lodestone release)
        [ -x "$LODESTONE" ] || die "no lodestone binary at $LODESTONE"
    fi
    EXPECTED=$(expected_keys)
    rm -rf "$OUT"/data.* "$OUT"/dump-*.rdb
    : > "$SAVES"
    : > "$LOADS"
    : > "$RESULTS"
    write_helper

    # 1 and 2 on one server per variant, loaded once.
    # shellcheck disable=SC2086  # the variants are words on purpose
    start_servers $VARIANTS
    local variant
    for variant in $VARIANTS; do
        load_data "$variant" "${PORTS[$variant]}"
    done
    bgsave_rounds
    cow_rounds
    stop_servers
    python3 "$PY" table-bgsave "$SAVES" 1 > "$OUT/bgsave.md"
    python3 "$PY" table-bgsave "$SAVES" 2 > "$OUT/cow.md"

    load_rounds
    python3 "$PY" table-load "$LOADS" "$EXPECTED" > "$OUT/load.md"

    local keys=() mode
    for mode in $MODES; do
        for variant in $VARIANTS; do keys+=("$variant/$mode"); done
    done
    start_servers "${keys[@]}"
    aof_rounds
    stop_servers
    python3 "$PY" table-aof "$RESULTS" "$VARIANTS" "$MODES" > "$OUT/aof.md"

    {
        echo
        echo "## Persistence, $(date -u +%Y-%m-%d)"
        echo
        persistence_machine
        echo
        echo "BGSAVE alone (wall time to rdb_bgsave_in_progress:0):"
        echo
        cat "$OUT/bgsave.md"
        echo
        echo "BGSAVE under writes (PSS and RSS summed over the server and its children, sampled every 10 ms):"
        echo
        cat "$OUT/cow.md"
        echo
        echo "Loading dump.rdb at startup (until PING answers PONG):"
        echo
        cat "$OUT/load.md"
        echo
        echo "Throughput with the AOF (redis-benchmark):"
        echo
        cat "$OUT/aof.md"
    } > "$OUT/report.md"
    cat "$OUT/report.md"
    if [ "$RECORD" = 1 ]; then
        cat "$OUT/report.md" >> "$REPO_ROOT/docs/BENCHMARKS.md"
        log "appended to docs/BENCHMARKS.md"
    fi
}

main
