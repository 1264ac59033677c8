#!/usr/bin/env bash
# Live-stream memory: opens many `GET /v1/sessions/{id}/events` streams
# against a release `estrade serve` and reports its resident memory before
# and after (and once a change has reached every stream). Real PostgreSQL
# and Redis; the clients run in the benchmark process.
#
# Usage: bench/sse_memory.sh [streams=10000] [sessions=10]
# Needs PostgreSQL at $ADMIN_URL (default
# postgres://postgres@127.0.0.1:5432/postgres) and Redis at $REDIS_URL.
# See docs/PERFORMANCE.md for results and how to read them.
set -euo pipefail
cd "$(dirname "$0")/.."
streams=${1:-10000} sessions=${2:-10}
# One descriptor per stream on each side (server and client are separate
# processes), plus headroom.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((streams + 1000)) ]; then
  echo "open-file limit $(ulimit -n) is too low for $streams streams" >&2; exit 1
fi
. bench/lib.sh
bench_setup estrade_bench_sse
target/release/estrade-bench sse-memory --streams "$streams" --sessions "$sessions"
