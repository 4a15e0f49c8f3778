#!/usr/bin/env bash
# Memory of each service as its own process, as operators deploy them (issue 9: "each
# service under 64 MB resident idle and under 256 MB at full load"), and writes
# bench/processes.md.
#
#   bash bench/processes.sh            # PostgreSQL at $IDCARD_BENCH_POSTGRES_URL (default local)
#   DURATION=60s CONCURRENCY=64 bash bench/processes.sh
#   REPORT_ONLY=1 WORK=/tmp/idcard-processes.XXXXXX bash bench/processes.sh   # rewrite the report
#
# It builds the release binaries, makes a development PKI, token signing key and key file
# in a scratch directory (through `idctl ceiling`, which creates them as `idctl up` does),
# starts the acceptance, review, production and status binaries as four processes wired
# like `idctl up` (every province routed to the one review service, the same relay
# settings), records their idle memory, then runs `idctl load` submit, verify and flow
# against them and records each service's VmRSS after every run and its VmHWM (peak).
#
# It DROPS and recreates the databases ${DB_PREFIX}acceptance, ${DB_PREFIX}review,
# ${DB_PREFIX}production and ${DB_PREFIX}status (DB_PREFIX default idcard_proc_) on that
# server, and uses ports 56051-56054 (gRPC) and 56061-56064 (probes), as bench/run.sh
# does: do not run both at once. On a server with autovacuum off it runs VACUUM ANALYZE on
# those databases every minute in its place (AUTOVACUUM_STANDIN=0: not). Needs: cargo,
# psql, python3.
set -euo pipefail
cd "$(dirname "$0")/.."

PG=${IDCARD_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
# Plaintext to the database on the same host, as bench/run.sh (see docs/benchmarks.md).
export PGSSLMODE=${PGSSLMODE:-disable}
DURATION=${DURATION:-20s}
FLOW_DURATION=${FLOW_DURATION:-$DURATION}
CONCURRENCY=${CONCURRENCY:-32}
SUBMIT_POOL=${SUBMIT_POOL:-20000}
FLOW_POOL=${FLOW_POOL:-6000}
# Seconds between the last service answering and the idle reading.
IDLE_WAIT=${IDLE_WAIT:-5}
# Seconds to wait, after a run, for every outbox to be delivered before the next run.
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-300}
DB_PREFIX=${DB_PREFIX:-idcard_proc_}
# Each service's pool (the services' default): four processes may hold 4 x this many
# connections, idle ones included, until they stop.
DB_MAX_CONNECTIONS=${DB_MAX_CONNECTIONS:-16}
if [ -n "${REPORT_ONLY:-}" ] && [ -z "${WORK:-}" ]; then
    echo "REPORT_ONLY needs WORK=the directory of an earlier run" >&2
    exit 2
fi
WORK=${WORK:-$(mktemp -d /tmp/idcard-processes.XXXXXX)}
DATA=$WORK/data
OUT=bench/processes.md

SERVICES=(acceptance review production status)
declare -A PORT=([acceptance]=56051 [review]=56052 [production]=56053 [status]=56054)
declare -A PROBE=([acceptance]=56061 [review]=56062 [production]=56063 [status]=56064)
url() { echo "https://127.0.0.1:${PORT[$1]}"; }
ENDPOINTS=(--acceptance-url "$(url acceptance)" --review-url "$(url review)"
    --production-url "$(url production)" --status-url "$(url status)")
# For the relay lag `idctl load` reads from the probe ports.
export IDCARD_PROBE_PORTS=56061,56062,56063,56064
psql_url() { echo "${PG%/}/$1"; }

# Every process this script started, by name; stopped on exit.
declare -A PIDS=()
cleanup() {
    local name pid
    for name in "${!PIDS[@]}"; do
        kill "${PIDS[$name]}" 2>/dev/null || true
    done
    for name in "${!PIDS[@]}"; do
        pid=${PIDS[$name]}
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Writes $OUT from the figures under $WORK (memory.tsv, the runs' JSON lines).
report() {
    python3 - "$WORK" "$OUT" <<'PY'
import datetime, json, os, platform, sys
work, out = sys.argv[1:]
services = ["acceptance", "review", "production", "status"]
runs = ["submit", "verify", "flow"]
mem = {}  # (label, service) -> KiB figures from /proc/PID/status
pids = {}
with open(os.path.join(work, "memory.tsv")) as f:
    for line in f:
        label, svc, pid, rss, hwm, anon, file_, threads = line.rstrip("\n").split("\t")
        mem[(label, svc)] = dict(rss=int(rss), hwm=int(hwm), anon=int(anon), file=int(file_), threads=int(threads))
        pids[svc] = int(pid)
def j(name):
    with open(os.path.join(work, name + ".json")) as f:
        return json.loads(f.read().strip().splitlines()[-1])
results = {r: j(r) for r in runs}
def read(name, default="?"):
    try:
        with open(os.path.join(work, name)) as f:
            return f.read().strip()
    except OSError:
        return default
autovacuum = read("autovacuum")
mib = lambda kib: kib / 1024
IDLE_TARGET, LOAD_TARGET = 64, 256
how = ", ".join(f"{r} {results[r]['duration_s']:.0f} s" for r in runs)
lines = [
    f"# Memory per service, separate processes ({datetime.date.today()}, `bash bench/processes.sh`)",
    "",
    f"Machine: {os.cpu_count()} cores, {platform.machine()}, {platform.platform()}; load average "
    f"{read('loadavg')} when the idle figure was read. Release binaries `acceptance`, `review`, `production`, "
    "`status`, each its own process with TLS, tokens and probe ports, on PostgreSQL on the same host "
    "(`PGSSLMODE=disable`); the generator (`idctl load`) on the same cores. One set of processes for "
    f"all three runs, in this order: {how}, {results['submit']['concurrency']} in flight; between runs the "
    "script waits for every outbox to be delivered"
    + {"on": ".",
       "standin": " (this server runs with autovacuum off: a loop in the script ran VACUUM ANALYZE "
                  "on the four databases every minute in its place, see the script).",
       }.get(autovacuum, " (this server runs with autovacuum off, and nothing stood in for it: the "
                         "outbox relays slow down as their backlog grows)."),
    "",
    "RSS is VmRSS from /proc/PID/status, read when the run (`idctl load`) has ended; peak is VmHWM, "
    "the highest RSS since the process started (start-up, preparation and drain included).",
    "",
    "| service | idle RSS MiB | after submit | after verify | after flow | peak RSS (VmHWM) MiB | "
    f"target ({IDLE_TARGET} MiB idle / {LOAD_TARGET} MiB load) met? |",
    "|---|---|---|---|---|---|---|",
]
for svc in services:
    idle = mib(mem[("idle", svc)]["rss"])
    peak = mib(max(m["hwm"] for (label, s), m in mem.items() if s == svc))
    after = [f"{mib(mem[(r, svc)]['rss']):.1f}" for r in runs]
    met = "yes" if idle < IDLE_TARGET and peak < LOAD_TARGET else "**no**"
    lines.append(f"| {svc} | {idle:.1f} | {' | '.join(after)} | {peak:.1f} | {met} ({idle:.0f} / {peak:.0f}) |")
total_idle = sum(mib(mem[("idle", s)]["rss"]) for s in services)
total_peak = sum(mib(max(m["hwm"] for (label, x), m in mem.items() if x == s)) for s in services)
lines += [
    f"| all four | {total_idle:.1f} | "
    + " | ".join(f"{sum(mib(mem[(r, s)]['rss']) for s in services):.1f}" for r in runs)
    + f" | {total_peak:.1f} (sum of peaks) | |",
    "",
    "Where the growth happened: each run's preparation (importing residents or cards through the "
    "review service, which publishes every card to the status service) comes before its clock "
    "starts; `idctl load` reads RSS when its clock starts and stops (MiB, before → after, peak "
    "during the run):",
    "",
    "| service | submit | verify | flow |",
    "|---|---|---|---|",
]
for svc in services:
    cells = []
    for r in runs:
        entry = next((m for m in results[r].get("memory") or [] if m.get("pid") == pids[svc]), None)
        if entry is None or entry.get("rss_before_mib") is None:
            cells.append("n/a")
        else:
            cells.append(f"{entry['rss_before_mib']:.1f} → {entry['rss_after_mib']:.1f} "
                         f"({entry['rss_peak_mib']:.1f})")
    lines.append(f"| {svc} | {' | '.join(cells)} |")
lines += [
    "",
    "What the resident memory is made of (idle → at the end, after the last drain): anonymous "
    "memory (heap, stacks) and file-backed pages (mostly the binary's own code), and threads.",
    "",
    "| service | anonymous MiB | file-backed MiB | threads |",
    "|---|---|---|---|",
]
for svc in services:
    i, e = mem[("idle", svc)], mem[("end", svc)]
    lines.append(f"| {svc} | {mib(i['anon']):.1f} → {mib(e['anon']):.1f} | {mib(i['file']):.1f} → "
                 f"{mib(e['file']):.1f} | {i['threads']} → {e['threads']} |")
lines += ["", "The runs (so the load was real; CPU as a share of one core over the run):", ""]
for r in runs:
    res = results[r]
    errors = sum(res["errors"].values()) if res.get("errors") else 0
    cpu = res.get("cpu") or {}
    per = []
    for svc in services:
        c = cpu.get(f"stack_pid_{pids[svc]}")
        if c:
            per.append(f"{svc} {c['percent']:.0f}%")
    for name in ("postgres", "generator"):
        c = cpu.get(name)
        if c and c["seconds"] > 0:
            per.append(f"{name} {c['percent']:.0f}%")
        elif c:
            # A sum over the live postgres processes: it cannot count backends that exited.
            per.append(f"{name} n/a")
    extra = ""
    if r == "flow":
        lag = res.get("relay_lag") or {}
        extra = (f", lost {res.get('lost')}, duplicated {res.get('duplicated')}, relay lag p99 "
                 f"{lag.get('p99_ms', 'n/a')} ms")
    prepared = res.get("prepared") or {}
    lines.append(f"- {r}: {res['ok']} ok in {res['duration_s']:.1f} s, **{res['throughput_per_s']:.1f}/s**, "
                 f"p99 {res['p99_ms']:.1f} ms, {errors} errors{extra}; CPU {', '.join(per) or 'n/a'}; "
                 f"prepared ({prepared.get('what')}, {prepared.get('count')}) in "
                 f"{prepared.get('seconds', 0):.0f} s; outboxes drained {read('drain-' + r)} s after the run.")
lines += [
    "",
    "Throughput here is lower than in bench/results.md when the machine is shared (two cores for four "
    "services, PostgreSQL, the generator and anything else running); the memory figures depend "
    "little on that.",
    "",
]
with open(out, "w") as f:
    f.write("\n".join(lines))
print("\n".join(lines))
PY
}

# REPORT_ONLY=1 WORK=DIR: rewrite the report from an earlier run's directory.
if [ -n "${REPORT_ONLY:-}" ]; then
    report
    exit 0
fi

for svc in "${SERVICES[@]}"; do
    for port in "${PORT[$svc]}" "${PROBE[$svc]}"; do
        if port_open "$port"; then
            echo "port $port is in use (bench/run.sh or another stack running?)" >&2
            exit 1
        fi
    done
done

cargo build --release -p acceptance -p review -p production -p status -p idctl
BIN=$PWD/target/release
IDCTL=$BIN/idctl
echo "work directory: $WORK"
mkdir -p "$DATA"

echo "== development PKI, token signing key and key file in $DATA"
# `idctl ceiling` creates them (DevSecurity::ensure, as `idctl up` does) before it listens.
"$IDCTL" ceiling --data-dir "$DATA" --listen 127.0.0.1:0 >"$WORK/pki.log" 2>&1 &
PIDS[pki]=$!
for _ in $(seq 1 300); do
    grep -q "empty VerifyCard handler" "$WORK/pki.log" && break
    kill -0 "${PIDS[pki]}" 2>/dev/null || break
    sleep 0.1
done
kill "${PIDS[pki]}" 2>/dev/null || true
wait "${PIDS[pki]}" 2>/dev/null || true
unset 'PIDS[pki]'
for file in keys.txt pki/ca.pem tokens/dev-1.pub.pem; do
    [ -f "$DATA/$file" ] || { echo "no $DATA/$file:" >&2; cat "$WORK/pki.log" >&2; exit 1; }
done
export IDCARD_DATA_DIR=$DATA

# The services keep their pools' connections open: wait until the server has room for
# them (test suites running at the same time hold connections too).
needed=$((4 * DB_MAX_CONNECTIONS + 4))
for _ in $(seq 1 120); do
    free=$(psql -tA "$(psql_url postgres)" -c "SELECT current_setting('max_connections')::int
        - current_setting('superuser_reserved_connections')::int - (SELECT count(*) FROM pg_stat_activity)" 2>/dev/null || echo 0)
    [ "$free" -ge "$needed" ] && break
    echo "  PostgreSQL has $free free connections, the services may need $needed: waiting" >&2
    sleep 5
done
AUTOVACUUM=$(psql -tA "$(psql_url postgres)" -c "SHOW autovacuum")
echo "$AUTOVACUUM" >"$WORK/autovacuum"

echo "== databases ${DB_PREFIX}*"
for svc in "${SERVICES[@]}"; do
    psql -q "$(psql_url postgres)" -c "DROP DATABASE IF EXISTS ${DB_PREFIX}$svc" -c "CREATE DATABASE ${DB_PREFIX}$svc" >/dev/null
done

# Every mainland GB/T 2260 code starts with 1 to 6; one review service serves them all.
ROUTES=1=review,2=review,3=review,4=review,5=review,6=review
# The peers of each service, as `idctl up` wires them (crates/idctl/src/stack.rs).
declare -A PEERS=(
    [acceptance]="review=$(url review)"
    [review]="acceptance=$(url acceptance),production=$(url production),status=$(url status)"
    [production]="acceptance=$(url acceptance)"
    [status]="review=$(url review)"
)

start_service() {
    local svc=$1
    local extra=()
    case $svc in
        acceptance)
            extra=("IDCARD_ROUTES=$ROUTES"
                IDCARD_PRODUCTION_CENTRE=production
                "IDCARD_NOTIFY_FILE=$WORK/notifications-acceptance.jsonl")
            ;;
        review) extra=("IDCARD_NOTIFY_FILE=$WORK/notifications-review.jsonl") ;;
    esac
    env \
        "IDCARD_LISTEN_ADDR=127.0.0.1:${PORT[$svc]}" \
        "IDCARD_PROBE_ADDR=127.0.0.1:${PROBE[$svc]}" \
        "IDCARD_DATABASE_URL=$(psql_url "${DB_PREFIX}$svc")" \
        "IDCARD_INSTANCE_NAME=$svc" \
        "IDCARD_PEERS=${PEERS[$svc]}" \
        "IDCARD_KEY_FILE=$DATA/keys.txt" \
        "IDCARD_TLS_CA_CERT=$DATA/pki/ca.pem" \
        "IDCARD_TLS_CERT=$DATA/pki/$svc.pem" \
        "IDCARD_TLS_KEY=$DATA/pki/$svc.key.pem" \
        "IDCARD_AUTH_PUBLIC_KEYS=dev-1=$DATA/tokens/dev-1.pub.pem" \
        "IDCARD_DB_MAX_CONNECTIONS=$DB_MAX_CONNECTIONS" \
        IDCARD_RELAY_POLL_INTERVAL=200ms \
        IDCARD_RELAY_MAX_BACKOFF=10s \
        IDCARD_SHUTDOWN_GRACE=100ms \
        "${extra[@]}" \
        "$BIN/$svc" >"$WORK/$svc.log" 2>&1 &
    PIDS[$svc]=$!
}

# A service is up once its probe port answers: it binds it after migrating.
wait_ready() {
    local svc=$1
    for _ in $(seq 1 600); do
        if ! kill -0 "${PIDS[$svc]}" 2>/dev/null; then
            echo "$svc exited while starting:" >&2
            cat "$WORK/$svc.log" >&2
            exit 1
        fi
        port_open "${PROBE[$svc]}" && return 0
        sleep 0.1
    done
    echo "$svc did not open its probe port ${PROBE[$svc]} in 60 s:" >&2
    cat "$WORK/$svc.log" >&2
    exit 1
}

status_field() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }

# Appends one line per service to memory.tsv: label service rss hwm anon file threads (KiB).
snapshot() {
    local label=$1 svc pid
    for svc in "${SERVICES[@]}"; do
        pid=${PIDS[$svc]}
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "$svc is no longer running:" >&2
            tail -n 50 "$WORK/$svc.log" >&2
            exit 1
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$svc" "$pid" \
            "$(status_field "$pid" VmRSS)" "$(status_field "$pid" VmHWM)" \
            "$(status_field "$pid" RssAnon)" "$(status_field "$pid" RssFile)" \
            "$(status_field "$pid" Threads)" >>"$WORK/memory.tsv"
        awk -v s="$svc" '$1 == "VmRSS:" {r = $2} $1 == "VmHWM:" {h = $2}
            END {printf "  %-10s RSS %6.1f MiB  peak %6.1f MiB\n", s, r / 1024, h / 1024}' "/proc/$pid/status"
    done
}

# Waits until no outbox holds a pending message (the relays have caught up), so that the
# next run starts from a quiet stack; writes the seconds it took to drain-LABEL.
drain() {
    local label=$1 started=$SECONDS pending count svc
    while :; do
        pending=0
        for svc in "${SERVICES[@]}"; do
            count=$(psql -tA "$(psql_url "${DB_PREFIX}$svc")" \
                -c "SELECT count(*) FROM outbox WHERE state = 'pending'" 2>/dev/null) || count=unknown
            if [ "$count" = unknown ]; then
                pending=unknown
                break
            fi
            pending=$((pending + count))
        done
        [ "$pending" = 0 ] && break
        if [ $((SECONDS - started)) -ge "$DRAIN_TIMEOUT" ]; then
            echo "  $pending messages still pending after ${DRAIN_TIMEOUT}s; going on" >&2
            break
        fi
        sleep 1
    done
    echo "$((SECONDS - started))" >"$WORK/drain-$label"
    echo "  outboxes drained in $((SECONDS - started)) s"
}

# A server with autovacuum off never analyzes the outbox tables: the relays' claim query
# is then planned for an outbox with no pending rows, degrades to a nested loop over every
# pending row (quadratic) once thousands are pending, hits the statement timeout, and the
# relays stall (a 10,000-card import was not published in 10 minutes). Operators' servers
# run autovacuum (PostgreSQL's default); here a loop stands in for it, every
# AUTOVACUUM_INTERVAL seconds (autovacuum_naptime is 1 min), unless AUTOVACUUM_STANDIN=0.
AUTOVACUUM_INTERVAL=${AUTOVACUUM_INTERVAL:-60}
autovacuum_standin() {
    local svc
    while :; do
        for _ in $(seq 1 "$AUTOVACUUM_INTERVAL"); do
            sleep 1
        done
        for svc in "${SERVICES[@]}"; do
            psql -q "$(psql_url "${DB_PREFIX}$svc")" -c "VACUUM ANALYZE" 2>/dev/null || true
        done
    done
}

# Runs `idctl load` with the given arguments; its JSON line goes to $WORK/NAME.json.
load() {
    local name=$1
    shift
    "$IDCTL" "${ENDPOINTS[@]}" load --json "$@" >"$WORK/$name.json" ||
        { echo "idctl load ($name) failed" >&2; exit 1; }
    tail -n 1 "$WORK/$name.json"
}

echo "== starting the four services"
: >"$WORK/memory.tsv"
# Review first: the others deliver to it; each retries until its peers answer anyway.
for svc in review status production acceptance; do
    start_service "$svc"
done
for svc in "${SERVICES[@]}"; do
    wait_ready "$svc"
done
if [ "$AUTOVACUUM" != on ] && [ "${AUTOVACUUM_STANDIN:-1}" != 0 ]; then
    echo "  autovacuum is off on this server: VACUUM ANALYZE every ${AUTOVACUUM_INTERVAL}s stands in for it"
    autovacuum_standin &
    PIDS[autovacuum]=$!
    echo "standin" >"$WORK/autovacuum"
fi
sleep "$IDLE_WAIT"
cut -d' ' -f1-3 /proc/loadavg >"$WORK/loadavg"
echo "== idle (load average $(cat "$WORK/loadavg"))"
snapshot idle

echo "== submit ($DURATION at $CONCURRENCY)"
load submit --scenario submit --concurrency "$CONCURRENCY" --duration "$DURATION" --pool "$SUBMIT_POOL" --settle 600s
snapshot submit
drain submit

echo "== verify ($DURATION at $CONCURRENCY)"
load verify --scenario verify --concurrency "$CONCURRENCY" --duration "$DURATION" --settle 600s
snapshot verify
drain verify

echo "== flow ($FLOW_DURATION at $CONCURRENCY)"
load flow --scenario flow --concurrency "$CONCURRENCY" --duration "$FLOW_DURATION" --pool "$FLOW_POOL" --settle 600s
snapshot flow
drain flow
snapshot end

report
