#!/usr/bin/env bash
# Floor latencies: a teacher grants the floor (then revokes it) over and
# over while every learner of the session watches the live stream. Measures,
# per grant, the time from sending the request to the LiveKit stand-in
# receiving the UpdateParticipant that lets the learner publish, and to each
# learner's stream delivering the new floor. Real PostgreSQL and Redis; the
# API is a release `estrade serve`; the stand-in and the clients run in the
# benchmark process (one clock for both ends).
#
# Usage: bench/floor.sh [learners=60] [grants=1000]
# Needs PostgreSQL at $ADMIN_URL (default
# postgres://postgres@127.0.0.1:5432/postgres) and Redis at $REDIS_URL.
# See docs/PERFORMANCE.md for results and how to read them.
set -euo pipefail
cd "$(dirname "$0")/.."
learners=${1:-60} grants=${2:-1000}
. bench/lib.sh
bench_setup estrade_bench_floor
target/release/estrade-bench floor --learners "$learners" --grants "$grants"
