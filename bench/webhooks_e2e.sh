#!/usr/bin/env bash
# Webhook end to end: signed participant_joined events for real
# participants, sent at a steady ~1,000/s to `estrade serve`, queued in
# Redis and applied by `estrade worker` (both release builds). Reports the
# acks (wrk) and the event -> applied latency measured in PostgreSQL
# (processed_at - received_at of every inbox row), then checks that every
# event was applied and every participant is present.
#
# Usage: bench/webhooks_e2e.sh [duration=30s] [connections=20] [delay_ms=20]
#   Each wrk connection waits delay_ms after each answer, so the rate is
#   about connections / (delay + latency): 20 / 20 ms ≈ 1,000 events/s.
# Needs: wrk, python3, psql, PostgreSQL at $ADMIN_URL
# (default postgres://postgres@127.0.0.1:5432/postgres), Redis at $REDIS_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-30s} connections=${2:-20} delay_ms=${3:-20}
admin_url=${ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
db=estrade_bench_e2e
port=18093 stub_port=18094
key=benchkey secret=bench-secret-0123456789abcdef0123456789
secs=${duration%s}
events=$(( secs * 1000 * 12 / 10 + 6000 ))
rooms=200
command -v wrk >/dev/null || { echo "wrk is required: apt-get install wrk" >&2; exit 1; }

cargo build --release --quiet --locked -p estrade -p estrade-livekit-stub
psql -q "$admin_url" -c "drop database if exists $db" -c "create database $db"
work=$(mktemp -d)
echo "signing $events webhooks"
python3 bench/sign_webhooks.py "$key" "$secret" "$events" > "$work/signed"

export DATABASE_URL=${admin_url%/*}/$db REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
export LIVEKIT_URL=http://127.0.0.1:$stub_port LIVEKIT_API_KEY=$key LIVEKIT_API_SECRET=$secret
export ESTRADE_LISTEN=127.0.0.1:$port ESTRADE_METRICS_LISTEN=127.0.0.1:0
export ESTRADE_PUBLIC_URL=http://127.0.0.1:$port ESTRADE_PARTICIPANT_TOKEN_SECRET=$secret ESTRADE_LOG=warn
export ESTRADE_REDIS_NAMESPACE=bench-e2e-$$
# The sessions are seeded in PostgreSQL only: the stand-in has no room for
# them, and scheduled reconciliation would rightly end them all
# (room_vanished). It is not what this bench measures.
export ESTRADE_RECONCILE_EVERY_S=0
target/release/estrade migrate
echo "seeding $rooms live sessions and $events invited learners"
psql -q "$DATABASE_URL" <<SQL
insert into accounts (id, name, role) values ('00000000-0000-0000-0000-000000000001', 'Bench teacher', 'teacher');
insert into sessions (teacher_id, title, room_name, join_code, status, started_at, max_learners)
  select '00000000-0000-0000-0000-000000000001', 'Bench', 'estrade-bench-' || r, lpad(r::text, 6, '0'), 'live', now(), 1000
    from generate_series(0, $rooms - 1) r;
insert into participants (session_id, kind, identity, display_name)
  select s.id, 'learner', 'l-bench' || lpad(i::text, 9, '0'), 'Learner'
    from generate_series(0, $events - 1) i
    join sessions s on s.room_name = 'estrade-bench-' || (i % $rooms);
SQL
target/release/livekit-stub --port $stub_port --key $key --secret $secret > /dev/null &
stub=$!
target/release/estrade serve 2> "$work/serve.err" &
api=$!
ESTRADE_LOG=${WORKER_LOG:-warn} target/release/estrade worker 2> "$work/worker.err" &
worker=$!
# KEEP_DB=1 keeps the database for a closer look afterwards.
cleanup() {
  kill $api $worker $stub 2>/dev/null; wait 2>/dev/null
  redis-cli -u "$REDIS_URL" --scan --pattern "$ESTRADE_REDIS_NAMESPACE:*" | xargs -r -n 1000 redis-cli -u "$REDIS_URL" del > /dev/null
  [ -n "${KEEP_DB:-}" ] || psql -q "$admin_url" -c "drop database if exists $db" >/dev/null
}
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

# Warm-up: the worker's connection pool and apalis consumer start cold
# (the first second sees up to ~1 s of latency while ~36 PostgreSQL backends
# are forked); measure the steady state after 5 s at the same rate, and
# report the warm-up separately.
echo "warm-up: 5s at the same rate"
tail -n +$(( events - 6000 )) "$work/signed" > "$work/warmup"
SIGNED="$work/warmup" DELAY_MS=$delay_ms wrk -t1 -c"$connections" -d5s \
  -s bench/webhooks_e2e.lua "http://127.0.0.1:$port/webhooks/livekit" > /dev/null
head -n $(( events - 6000 )) "$work/signed" > "$work/measured"
mark=$(psql -tA "$DATABASE_URL" -c "select now()")

echo "wrk: $duration, $connections connections, ${delay_ms} ms between requests per connection"
SIGNED="$work/measured" DELAY_MS=$delay_ms wrk -t1 -c"$connections" -d"$duration" --latency \
  -s bench/webhooks_e2e.lua "http://127.0.0.1:$port/webhooks/livekit" | tee "$work/wrk.out"

echo "waiting for the worker to apply every stored event"
for _ in $(seq 600); do
  pending=$(psql -tA "$DATABASE_URL" -c "select count(*) from webhook_inbox where status <> 'processed'")
  [ "$pending" -eq 0 ] && break
  sleep 0.1
done
psql "$DATABASE_URL" -v mark="$mark" <<'SQL'
select case when received_at >= :'mark' then 'measured' else 'warm-up' end as phase,
       count(*) as events,
       round(count(*) / extract(epoch from max(received_at) - min(received_at))::numeric, 0) as events_per_s,
       round((1000 * percentile_cont(0.5) within group (order by extract(epoch from processed_at - received_at)))::numeric, 1) as p50_ms,
       round((1000 * percentile_cont(0.99) within group (order by extract(epoch from processed_at - received_at)))::numeric, 1) as p99_ms,
       round((1000 * max(extract(epoch from processed_at - received_at)))::numeric, 1) as max_ms,
       count(*) filter (where applied_via = 'inbox') as swept
  from webhook_inbox where status = 'processed'
 group by 1 order by 1;
SQL
rows=$(psql -tA "$DATABASE_URL" -c "select count(*) from webhook_inbox")
present=$(psql -tA "$DATABASE_URL" -c "select count(*) from participants where presence = 'present'")
echo "inbox rows: $rows; participants present: $present"
if [ "$rows" -eq 0 ] || [ "$present" -ne "$rows" ]; then echo "MISMATCH: not every event was applied"; exit 1; fi
echo "every stored event was applied"
