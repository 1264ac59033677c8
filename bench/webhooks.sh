#!/usr/bin/env bash
# Webhook acks: POST /webhooks/livekit with real signatures (each request a
# distinct event, signed as LiveKit signs it), each acknowledged only after
# its inbox row is committed (fsync) in real PostgreSQL. Reports acks/s and
# latency percentiles, then checks that every 200 counted is a stored row.
#
# Usage: bench/webhooks.sh [duration=10s] [connections=32] [events=120000]
# Needs: wrk, python3, PostgreSQL at $ADMIN_URL
# (default postgres://postgres@127.0.0.1:5432/postgres), Redis at $REDIS_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10s} connections=${2:-32} events=${3:-120000}
admin_url=${ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
db=estrade_bench_webhooks
port=18091 stub_port=18092
key=benchkey secret=bench-secret-0123456789abcdef0123456789
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
# Jobs pushed to Redis (no worker runs here) are removed at the end.
export ESTRADE_REDIS_NAMESPACE=bench-acks-$$
target/release/estrade migrate
target/release/livekit-stub --port $stub_port --key $key --secret $secret > /dev/null &
stub=$!
target/release/estrade serve 2> "$work/serve.err" &
api=$!
cleanup() {
  kill $api $stub 2>/dev/null; wait 2>/dev/null
  redis-cli -u "$REDIS_URL" --scan --pattern "$ESTRADE_REDIS_NAMESPACE:*" | xargs -r -n 1000 redis-cli -u "$REDIS_URL" del > /dev/null
  psql -q "$admin_url" -c "drop database if exists $db" >/dev/null
}
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

echo "wrk: $duration, $connections connections, 1 thread"
SIGNED="$work/signed" wrk -t1 -c"$connections" -d"$duration" --latency -s bench/webhooks.lua \
  "http://127.0.0.1:$port/webhooks/livekit" | tee "$work/wrk.out"

total=$(awk '/requests in/ {print $1}' "$work/wrk.out")
non2xx=$(awk '/Non-2xx/ {print $5}' "$work/wrk.out"); non2xx=${non2xx:-0}
rows=$(psql -tA "$DATABASE_URL" -c "select count(*) from webhook_inbox")
ok=$((total - non2xx))
echo "acks 200: $ok; inbox rows: $rows"
if [ "$ok" -eq 0 ]; then echo "no webhook was acknowledged"; exit 1; fi
if [ "$total" -gt "$events" ]; then echo "more requests than events: raise the event count"; exit 1; fi
# wrk stops counting at the deadline while up to one request per connection
# is still in flight; those may commit too.
if [ "$rows" -ge "$ok" ] && [ "$rows" -le $((ok + connections)) ]; then
  echo "every 200 counted is a stored row ($((rows - ok)) more stored in flight at the deadline)"
else
  echo "MISMATCH: $ok answers 200, $rows rows"; exit 1
fi
