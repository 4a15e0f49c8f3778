#!/usr/bin/env bash
# Runs the benchmarks of docs/benchmarks.md on this machine, each scenario with its
# ceiling measured in the same run, and writes bench/results.md.
#
#   bash bench/run.sh            # PostgreSQL at $IDCARD_BENCH_POSTGRES_URL (default local)
#   DURATION=60s bash bench/run.sh
#   DAY_SCALE=0 bash bench/run.sh   # without the national day (about 35 minutes at scale 1)
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
# The issue's flow target is sustained for 5 minutes.
FLOW_DURATION=${FLOW_DURATION:-300s}
# The national peak day (100,000 applications, 30,000 loss reports, 1,000,000
# verifications) times DAY_SCALE; 0 skips it.
DAY_SCALE=${DAY_SCALE:-1}
CONCURRENCY=${CONCURRENCY:-32}
# Citizens prepared (imported before the clock starts); a run that uses them all up stops
# early and says so: raise these with the durations.
SUBMIT_POOL=${SUBMIT_POOL:-20000}
FLOW_POOL=${FLOW_POOL:-40000}
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

# A deployment runs PostgreSQL's default, autovacuum on. A server with it off (a CI
# configuration, say) never gathers statistics on the fresh databases, and the planner
# then sorts every pending outbox message on each relay claim: delivery crawls once a
# backlog builds. Turn it on for the run; the setting is restored at exit.
AUTOVACUUM_SET=
if [ "$(psql -tA "$(psql_url postgres)" -c "SHOW autovacuum")" = "off" ]; then
    echo "autovacuum is off on this server: turning it on for the run (restored at exit)"
    psql -q "$(psql_url postgres)" -c "ALTER SYSTEM SET autovacuum = on" -c "SELECT pg_reload_conf()" >/dev/null
    AUTOVACUUM_SET=1
fi
clean_up() {
    stop_stack
    if [ -n "$AUTOVACUUM_SET" ]; then
        psql -q "$(psql_url postgres)" -c "ALTER SYSTEM RESET autovacuum" -c "SELECT pg_reload_conf()" >/dev/null || true
    fi
}
trap clean_up EXIT

# A fresh stack on PostgreSQL; prints its RSS in KiB once it is up.
start_stack() {
    local name=$1
    for db in acceptance review production status; do
        psql -q "$(psql_url postgres)" -c "DROP DATABASE IF EXISTS idcard_$db" >/dev/null
    done
    rm -rf "${WORK:?}/${name:?}"
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

day_rss=0
if [ "$DAY_SCALE" != "0" ]; then
    echo "== national day (scale $DAY_SCALE, $CONCURRENCY applications in flight)"
    start_stack day
    load day --scenario national-day --scale "$DAY_SCALE" --concurrency "$CONCURRENCY" --settle 600s
    day_rss=$(rss_kib "$STACK_PID")
    stop_stack
fi

python3 - "$WORK" "$OUT" "$pgbench_tps" "$pgbench_lat" "$idle_rss" "$submit_rss" "$verify_rss" "$flow_rss" "$day_rss" <<'PY'
import json, sys, platform, datetime, os
work, out, pg_tps, pg_lat, idle, submit_rss, verify_rss, flow_rss, day_rss = sys.argv[1:]
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
    row(f"flow (applications to collection, sustained {flow['duration_s']:.0f} s)", flow, None, flow_extra),
    "",
    f"Stack memory (RSS, all four services): idle {mib(idle)}, after submit {mib(submit_rss)}, "
    f"after verify {mib(verify_rss)}, after flow {mib(flow_rss)}.",
    "",
]
if os.path.exists(os.path.join(work, "day.json")):
    day = j("day")
    d, losses, ver, back, jur = day["day"], day["loss_reports"], day["verifications"], day["backlog"], day["jurisdictions"]
    lag = day.get("relay_lag") or {}
    eff = losses["in_effect_latency"]
    drained = back.get("outboxes_empty_after_day_s")
    lines += [
        f"## National day (scale {d['scale']}: {d['applications']} applications, {d['loss_reports']} loss reports, "
        f"{d['verifications']} verifications)",
        "",
        "| figure | value |",
        "|---|---|",
        f"| the day's work done in | {d['duration_s'] / 60:.1f} min ({d['duration_s']:.0f} s) |",
        f"| applications collected | {day['ok']} of {day['count']} ({day['throughput_per_s']:.1f}/s), lost {day['lost']}, "
        f"duplicated {day['duplicated']} |",
        f"| application end to end | p50 {day['p50_ms'] / 1000:.2f} s, p99 {day['p99_ms'] / 1000:.2f} s |",
        f"| jurisdictions | {jur['with_collected_applications']} provincial bureaus, {jur['collected_min']} to "
        f"{jur['collected_max']} applications each |",
        f"| loss reports in effect | {losses['in_effect']} of {losses['taken']} ({losses['per_s']:.1f}/s), report to "
        f"REPORTED_LOST p50 {eff['p50_ms']:.0f} ms, p99 {eff['p99_ms']:.0f} ms; not in effect {losses['not_in_effect']}, "
        f"duplicated {losses['duplicated']} |",
        f"| verifications | {ver['ok']} ({ver['per_s']:.0f}/s): "
        + ", ".join(f"{k} {v}" for k, v in sorted(ver['answers'].items())) + " |",
        f"| peak backlog | {back['peak_outbox_pending']:.0f} messages in the outboxes at {back['peak_outbox_pending_at_s']:.0f} s; "
        f"oldest waiting {back['peak_oldest_pending_s']:.1f} s at worst |",
        f"| outboxes empty after the day | {'%.1f s' % drained if drained is not None else 'not within --settle'} |",
        f"| relay lag | p50 {lag.get('p50_ms', 'n/a')} ms, p99 {lag.get('p99_ms', 'n/a')} ms |",
        f"| errors | {sum(day['errors'].values()) if day['errors'] else 0} |",
        f"| stack memory after the day | {mib(day_rss)} |",
        "",
    ]
with open(out, "w") as f:
    f.write("\n".join(lines))
print("\n".join(lines))
PY
