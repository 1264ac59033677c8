#!/usr/bin/env bash
# Join storm: POST /v1/join against live sessions, with real PostgreSQL
# (fsync on, every join committed before its answer), real Redis and the
# in-process LiveKit stand-in. Reports requests/s and latency percentiles,
# then checks that every 200 left a participant row.
#
# Usage: bench/join.sh [duration=10s] [connections=32] [sessions=200]
# Needs: wrk (apt-get install wrk), PostgreSQL at $ADMIN_URL
# (default postgres://postgres@127.0.0.1:5432/postgres), Redis at $REDIS_URL.
# See docs/PERFORMANCE.md for results and how to read them.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10s} connections=${2:-32} sessions=${3:-200}
admin_url=${ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
db=estrade_bench_join
port=18090
command -v wrk >/dev/null || { echo "wrk is required: apt-get install wrk" >&2; exit 1; }

cargo build --release --quiet --locked -p estrade
psql -q "$admin_url" -c "drop database if exists $db" -c "create database $db"
export DATABASE_URL=${admin_url%/*}/$db
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
export ESTRADE_LOG=warn ESTRADE_LOG_FORMAT=json
# The storm comes from one address with one code per session: lift the
# per-code and minting ceilings so the benchmark measures the join itself.
export ESTRADE_JOINS_PER_CODE_PER_MIN=1000000 ESTRADE_TOKEN_MINTS_PER_S=1000000
work=$(mktemp -d)
target/release/estrade dev --listen 127.0.0.1:$port > "$work/dev.out" 2>"$work/dev.err" &
dev=$!
trap 'kill $dev 2>/dev/null; wait $dev 2>/dev/null; psql -q "$admin_url" -c "drop database if exists $db" >/dev/null' EXIT
for _ in $(seq 100); do grep -q "teacher key" "$work/dev.out" 2>/dev/null && break; sleep 0.1; done
teacher=$(awk '/^ *teacher key/ {print $3}' "$work/dev.out")
api=http://127.0.0.1:$port

echo "creating $sessions live sessions of 1000 learners"
for _ in $(seq "$sessions"); do
  id=$(curl -sf -H "Authorization: Bearer $teacher" -H 'content-type: application/json' \
    -d '{"title":"Bench","max_learners":1000}' $api/v1/sessions | sed 's/.*"id":"\([^"]*\)".*/\1/')
  started=$(curl -sf -X POST -H "Authorization: Bearer $teacher" $api/v1/sessions/$id/start)
  echo "$started" | sed 's/.*"join_code":"\([0-9]*\)".*/\1/' >> "$work/codes"
done
before=$(psql -tA "$DATABASE_URL" -c "select count(*) from participants where kind = 'learner'")

echo "wrk: $duration, $connections connections, 1 thread, against $api/v1/join"
CODES="$work/codes" wrk -t1 -c"$connections" -d"$duration" --latency -s bench/join.lua "$api/v1/join" | tee "$work/wrk.out"

after=$(psql -tA "$DATABASE_URL" -c "select count(*) from participants where kind = 'learner'")
total=$(awk '/requests in/ {print $1}' "$work/wrk.out")
non2xx=$(awk '/Non-2xx/ {print $5}' "$work/wrk.out"); non2xx=${non2xx:-0}
echo "joins answered 200: $((total - non2xx)); participant rows written: $((after - before))"
ok=$((total - non2xx)) rows=$((after - before))
if [ "$ok" -eq 0 ]; then echo "no join succeeded: see $work"; exit 1; fi
# wrk stops counting at the deadline while up to one request per connection
# is still in flight; those may commit too.
if [ "$rows" -ge "$ok" ] && [ "$rows" -le $((ok + connections)) ]; then
  echo "every 200 counted is a committed row ($((rows - ok)) more committed in flight at the deadline)"
else
  echo "MISMATCH: $ok answers 200, $rows rows"; exit 1
fi
