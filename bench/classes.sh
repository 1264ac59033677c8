#!/usr/bin/env bash
# Many classes at once, signalling only (issue 21): 50 sessions x 60
# learners by default. Every learner joins (all classes interleaved, 16 in
# flight), connects to the LiveKit stand-in, whose webhooks `estrade
# worker` applies, and watches its class's live stream; then, for the run,
# every class has a hand raised, granted and revoked every two seconds.
# Measures join latency, grant -> UpdateParticipant, grant -> every
# learner's stream, each process's CPU and the API's memory. Real
# PostgreSQL and Redis; release `estrade serve` and `estrade worker`; the
# stand-in and the clients run in the benchmark process (one clock).
#
# Usage: bench/classes.sh [sessions=50] [learners=60] [seconds=120] [every_ms=2000]
# Needs PostgreSQL at $ADMIN_URL (default
# postgres://postgres@127.0.0.1:5432/postgres) and Redis at $REDIS_URL.
# See docs/PERFORMANCE.md for results and how to read them.
set -euo pipefail
cd "$(dirname "$0")/.."
sessions=${1:-50} learners=${2:-60} seconds=${3:-120} every_ms=${4:-2000}
. bench/lib.sh
bench_setup estrade_bench_classes
target/release/estrade-bench classes --sessions "$sessions" --learners "$learners" \
  --seconds "$seconds" --every-ms "$every_ms"
