#!/usr/bin/env bash
# Webhook backlog drain: 100,000 events (10 live sessions of 25 learners,
# each connecting 100 times: joined, microphone published, unpublished,
# left) stored in the inbox and queued in Redis as the webhook endpoint does,
# with no worker running; then a release `estrade worker` starts and the
# time until every event is applied is measured in PostgreSQL. Run twice:
# with the queue intact (the consumer and the inbox path together), and with
# Redis emptied first (the inbox path alone, in order per room).
#
# Usage: bench/webhook_backlog.sh [rooms=10] [learners=25] [cycles=100]
# Needs PostgreSQL at $ADMIN_URL (default
# postgres://postgres@127.0.0.1:5432/postgres) and Redis at $REDIS_URL.
# No peer runs here: the Express and FastAPI peers store nothing, so they
# have no backlog to drain. See docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
rooms=${1:-10} learners=${2:-25} cycles=${3:-100}
. bench/lib.sh
for mode in queue inbox; do
  bench_setup "estrade_bench_backlog_$mode"
  flag=()
  [ "$mode" = inbox ] && flag=(--empty-redis)
  echo "== backlog, $mode"
  target/release/estrade-bench --port 18095 backlog --rooms "$rooms" --learners "$learners" --cycles "$cycles" "${flag[@]}"
  psql -q "$admin_url" -c "drop database if exists $bench_db" >/dev/null
done
