#!/usr/bin/env bash
# Reconciliation at scale: 1,000 live sessions with 60 learners each, all
# connected to the LiveKit stand-in (in the benchmark process), against a
# release `estrade serve` with real PostgreSQL and Redis. Runs
# reconciliation through `POST /v1/admin/reconcile`: first with every
# presence webhook lost, then with no drift, then with a share of the
# participants put out of line behind Estrade's back (permissions,
# attributes, departures), then again. Prints each run's duration,
# LiveKit calls and repairs.
#
# Usage: bench/reconcile.sh [rooms=1000] [per_room=60] [drift=0.05]
# Needs PostgreSQL at $ADMIN_URL (default
# postgres://postgres@127.0.0.1:5432/postgres) and Redis at $REDIS_URL.
# See docs/PERFORMANCE.md for results and how to read them.
set -euo pipefail
cd "$(dirname "$0")/.."
rooms=${1:-1000} per_room=${2:-60} drift=${3:-0.05}
. bench/lib.sh
bench_setup estrade_bench_reconcile
target/release/estrade-bench reconcile --rooms "$rooms" --per-room "$per_room" --drift "$drift"
