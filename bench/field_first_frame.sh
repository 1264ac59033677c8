#!/usr/bin/env bash
# Join to the teacher's first frame, through the 443-only field
# (client/e2e/field.test.mjs: a campus namespace that lets only TCP to 443
# out, coturn with TLS on 443, the real LiveKit v1.13.5, estrade dev) and
# the same join with the campus firewall lifted, in one run each time. The
# clock runs in the test from the learner's Enter on the join form to the
# first decoded frame of the teacher's video in Chromium. Runs the field
# test RUNS times and prints each pair, then the median of each.
#
# Usage (root; after cargo build -p estrade and npm run build in client/):
#   bench/field_first_frame.sh [runs=3]
# Needs LIVEKIT_SERVER_BIN (default ~/.cache/estrade/livekit-v1.13.5/livekit-server).
# No peer runs here: the Express and FastAPI peers carry no media. See
# docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
export LIVEKIT_SERVER_BIN=${LIVEKIT_SERVER_BIN:-$HOME/.cache/estrade/livekit-v1.13.5/livekit-server}
relay=() open=()
for i in $(seq "$runs"); do
  line=$(scripts/lib/loopback-netns bash -c 'cd client && node --test e2e/field.test.mjs' 2>/dev/null \
    | grep -o 'join to first frame: [0-9]* ms through the relay on 443, [0-9]* ms on an open network' || true)
  [ -n "$line" ] || { echo "run $i: the field test failed" >&2; exit 1; }
  r=$(echo "$line" | sed -E 's/.*: ([0-9]+) ms through.*/\1/')
  o=$(echo "$line" | sed -E 's/.*, ([0-9]+) ms on an open.*/\1/')
  relay+=("$r") open+=("$o")
  echo "run $i: through the relay ${r} ms, open network ${o} ms"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "median of $runs: through the relay $(median "${relay[@]}") ms, open network $(median "${open[@]}") ms"
