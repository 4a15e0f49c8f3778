#!/usr/bin/env bash
# Runs the benchmarks of docs/benchmarks.md on this machine, each scenario with its
# ceiling measured in the same run, and writes bench/results.md.
#
#   bash bench/run.sh            # PostgreSQL at $IDCARD_BENCH_POSTGRES_URL (default local)
#   DURATION=60s bash bench/run.sh
#
# It DROPS and recreates the databases idcard_acceptance, idcard_review,
# idcard_production, idcard_status and idcard_bench_pgbench on that server, and uses
# a scratch data directory. Needs: cargo, psql, pgbench, python3.
set -euo pipefail
cd "$(dirname "$0")/.."

PG=${IDCARD_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
# TLS to a database on the same host buys nothing and, with sqlx 0.9 (no TCP_NODELAY on
# its socket), costs a delayed ACK (~40 ms) per statement larger than one TLS record:
# see docs/benchmarks.md. Set PGSSLMODE=prefer to measure it.
export PGSSLMODE=${PGSSLMODE:-disable}
DURATION=${DURATION:-20s}
FLOW_DURATION=${FLOW_DURATION:-30s}
CONCURRENCY=${CONCURRENCY:-32}
# Citizens prepared (imported before the clock starts); a run that uses them all up stops
# early and says so: raise these with the durations.
SUBMIT_POOL=${SUBMIT_POOL:-20000}
FLOW_POOL=${FLOW_POOL:-6000}
WORK=${WORK:-$(mktemp -d /tmp/idcard-bench.XXXXXX)}
OUT=bench/results.md
PORTS="--acceptance-port 56051 --review-port 56052 --production-port 56053 --status-port 56054 --probe-ports 56061,56062,56063,56064"
ENDPOINTS="--acceptance-url https://127.0.0.1:56051 --review-url https://127.0.0.1:56052 --production-url https://127.0.0.1:56053 --status-url https://127.0.0.1:56054"
export IDCARD_PROBE_PORTS=56061,56062,56063,56064

cargo build --release -p idctl
IDCTL=$PWD/target/release/idctl
psql_url() { echo "${PG%/}/$1"; }

STACK_PID=
stop_stack() {
    if [ -n "$STACK_PID" ]; then
        kill "$STACK_PID" 2>/dev/null || true
        wait "$STACK_PID" 2>/dev/null || true
        STACK_PID=
    fi
}
trap stop_stack EXIT

# A fresh stack on PostgreSQL; prints its RSS in KiB once it is up.
start_stack() {
    local name=$1
    for db in acceptance review production status; do
        psql -q "$(psql_url postgres)" -c "DROP DATABASE IF EXISTS idcard_$db" >/dev/null
    done
    rm -rf "$WORK/$name"
    mkdir -p "$WORK/$name"
    # shellcheck disable=SC2086
    "$IDCTL" up --data-dir "$WORK/$name/data" --postgres "$PG" $PORTS >"$WORK/$name/up.log" 2>&1 &
    STACK_PID=$!
    for _ in $(seq 1 200); do
        grep -q "stack up" "$WORK/$name/up.log" && break
        sleep 0.3
    done
    grep -q "stack up" "$WORK/$name/up.log" || { cat "$WORK/$name/up.log"; exit 1; }
    sleep 2
    export IDCARD_DATA_DIR=$WORK/$name/data
}
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# Runs `idctl load` with the given arguments; its JSON line goes to $WORK/NAME.json.
load() {
    local name=$1
    shift
    # shellcheck disable=SC2086
    "$IDCTL" $ENDPOINTS load --json "$@" >"$WORK/$name.json"
    cat "$WORK/$name.json"
}

echo "== submit ($DURATION at $CONCURRENCY) and its pgbench ceiling"
start_stack submit
idle_rss=$(rss_kib "$STACK_PID")
load submit --scenario submit --concurrency "$CONCURRENCY" --duration "$DURATION" --pool "$SUBMIT_POOL" --settle 600s
submit_rss=$(rss_kib "$STACK_PID")
# The sizes the real run stored, for the pgbench transaction.
read -r submission fingerprints payload < <(psql -tA -F' ' "$(psql_url idcard_acceptance)" -c \
    "SELECT (SELECT avg(length(submission))::int FROM applications), (SELECT avg(length(fingerprints))::int FROM applications),
            (SELECT avg(length(payload))::int FROM outbox)")
stop_stack
psql -q "$(psql_url postgres)" -c "DROP DATABASE IF EXISTS idcard_bench_pgbench" -c "CREATE DATABASE idcard_bench_pgbench"
"$IDCTL" migrate acceptance --database "$(psql_url idcard_bench_pgbench)" >/dev/null
psql -q "$(psql_url idcard_bench_pgbench)" -f bench/pgbench_setup.sql
pgbench -n -M prepared -c "$CONCURRENCY" -j 2 -T "${DURATION%s}" -r \
    -D submission_bytes="$submission" -D fingerprint_bytes="$fingerprints" -D payload_bytes="$payload" \
    -f bench/submit.pgbench "$(psql_url idcard_bench_pgbench)" >"$WORK/pgbench.txt"
pgbench_tps=$(awk '/^tps/ {print $3}' "$WORK/pgbench.txt")
pgbench_lat=$(awk '/^latency average/ {print $4}' "$WORK/pgbench.txt")
echo "pgbench: $pgbench_tps tps, latency average $pgbench_lat ms"

echo "== verify ($DURATION at $CONCURRENCY) and the empty-handler ceiling"
start_stack verify
"$IDCTL" ceiling --data-dir "$WORK/verify/data" --listen 127.0.0.1:56070 >"$WORK/ceiling.log" 2>&1 &
CEILING_PID=$!
load verify --scenario verify --concurrency "$CONCURRENCY" --duration "$DURATION" --settle 600s
verify_rss=$(rss_kib "$STACK_PID")
# The same calls, cards never imported, against the empty handler.
"$IDCTL" --status-url https://127.0.0.1:56070 load --json --scenario verify --no-prepare \
    --concurrency "$CONCURRENCY" --duration "$DURATION" >"$WORK/ceiling.json"
cat "$WORK/ceiling.json"
kill "$CEILING_PID"
stop_stack

echo "== flow ($FLOW_DURATION at $CONCURRENCY)"
start_stack flow
load flow --scenario flow --concurrency "$CONCURRENCY" --duration "$FLOW_DURATION" --pool "$FLOW_POOL" --settle 600s
flow_rss=$(rss_kib "$STACK_PID")
stop_stack

python3 - "$WORK" "$OUT" "$pgbench_tps" "$pgbench_lat" "$idle_rss" "$submit_rss" "$verify_rss" "$flow_rss" <<'PY'
import json, sys, platform, datetime, os
work, out, pg_tps, pg_lat, idle, submit_rss, verify_rss, flow_rss = sys.argv[1:]
def j(name):
    with open(os.path.join(work, name + ".json")) as f:
        return json.loads(f.read().strip().splitlines()[-1])
submit, verify, ceiling, flow = j("submit"), j("verify"), j("ceiling"), j("flow")
pg_tps = float(pg_tps)
def row(name, r, ceiling=None, extra=""):
    share = f"{100 * r['throughput_per_s'] / ceiling:.0f}%" if ceiling else "-"
    errors = sum(r["errors"].values()) if r["errors"] else 0
    return (f"| {name} | {r['throughput_per_s']:.1f}/s | {share} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['p999_ms']:.2f} | {errors} | {extra} |")
lag = flow.get("relay_lag") or {}
flow_extra = (f"lost {flow.get('lost')}, duplicated {flow.get('duplicated')}, relay lag p99 "
              f"{lag.get('p99_ms', 'n/a')} ms")
mib = lambda kib: f"{int(kib) / 1024:.0f} MiB"
lines = [
    f"# Benchmark results ({datetime.date.today()}, `bash bench/run.sh`)",
    "",
    f"Machine: {os.cpu_count()} cores, {platform.machine()}, {platform.platform()}. PostgreSQL on the same host, "
    "the stack (`idctl up`, four services in one process) and the generator on the same cores.",
    "",
    "| scenario | throughput | of ceiling | p50 ms | p99 ms | p99.9 ms | errors | notes |",
    "|---|---|---|---|---|---|---|---|",
    f"| pgbench, SubmitApplication's transaction | {pg_tps:.1f}/s | ceiling | {float(pg_lat):.2f} (mean) | - | - | 0 | |",
    row("submit", submit, pg_tps),
    row("empty VerifyCard handler (`idctl ceiling`)", ceiling, None, "ceiling"),
    row("verify", verify, ceiling["throughput_per_s"]),
    row("flow (applications to collection)", flow, None, flow_extra),
    "",
    f"Stack memory (RSS, all four services): idle {mib(idle)}, after submit {mib(submit_rss)}, "
    f"after verify {mib(verify_rss)}, after flow {mib(flow_rss)}.",
    "",
]
with open(out, "w") as f:
    f.write("\n".join(lines))
print("\n".join(lines))
PY
