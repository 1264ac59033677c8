#!/usr/bin/env bash
# Estrade against the stacks people would use instead, one after the other
# in one run, same wrk load: joins (`POST /v1/join` against Estrade's
# durable join; `POST /join` against the Express + livekit-server-sdk and
# FastAPI + livekit-api peers, which mint from memory and write nothing),
# then LiveKit webhooks (Estrade verifies and commits each event to its
# inbox; the Express peer verifies with WebhookReceiver and stores nothing).
# Prints each system's rate and latency and Estrade's ratios, for each of
# `runs` consecutive runs, then all runs again as one table.
#
# Usage: bench/vs_peers.sh [runs=3] [duration=8s] [connections=32] [sessions=200] [events=120000]
# Needs: wrk, node (the Express peer's packages are installed from
# bench/peers/package-lock.json), python3 (the FastAPI peer's from
# bench/peers/requirements.txt, in a venv under ~/.cache/estrade),
# PostgreSQL at $ADMIN_URL, Redis at $REDIS_URL. Everything on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3} duration=${2:-8s} connections=${3:-32} sessions=${4:-200} events=${5:-120000}
admin_url=${ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
db=estrade_bench_peers
port=18090 stub_port=18092 fastapi_port=18101 express_port=18102 hooks_port=18103
# The peers' LiveKit credentials; Estrade's webhook run uses the same, so
# both verify the very same signed requests.
key=devkey secret=devsecret-devsecret-devsecret-devsecret
command -v wrk >/dev/null || { echo "wrk is required: apt-get install wrk" >&2; exit 1; }

venv=${XDG_CACHE_HOME:-$HOME/.cache}/estrade/peers-venv
[ -d bench/peers/node_modules ] || (cd bench/peers && npm ci --no-audit --no-fund --silent)
if ! "$venv/bin/python" -c 'import fastapi, uvicorn, livekit.api' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r bench/peers/requirements.txt
fi
cargo build --release --quiet --locked -p estrade -p estrade-livekit-stub

work=$(mktemp -d)
pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_all
  psql -q "$admin_url" -c "drop database if exists $db" >/dev/null 2>&1 || true
}
trap cleanup EXIT
fresh_db() {
  psql -q "$admin_url" -c "drop database if exists $db with (force)" -c "create database $db"
  export DATABASE_URL=${admin_url%/*}/$db
}
wait_http() { # url: until it answers at all
  for _ in $(seq 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done
  echo "nothing answers at $1" >&2; exit 1
}
# wrk with the peers' scripts; prints "rate p50 p99" of the 2xx answers.
# Also samples who spends the CPU over the middle of the run, into
# $work/cpu.<label>.
measure() { # label script url envname=file
  local label=$1; shift
  (sleep 1; bench/cpu_by_process.sh "$(( ${duration%s} - 2 ))" > "$work/cpu.$label") &
  env "$3" wrk -t2 -c"$connections" -d"$duration" --latency -s "$1" "$2" > "$work/wrk.out"
  wait $!
  awk '/^OK2XX/ {printf "%.0f %.2f %.2f\n", $2 / ($3 / 1e6), $4, $5; ok = $2} END {if (!ok) exit 1}' "$work/wrk.out" \
    || { cat "$work/wrk.out" >&2; echo "no 2xx answer" >&2; exit 1; }
}
learners() { psql -tA "$DATABASE_URL" -c "select count(*) from participants where kind = 'learner'"; }
ok_of() { awk '/^OK2XX/ {print $2}' "$work/wrk.out"; }
# Every 200 credited is a committed row; a few more may commit for the
# requests still in flight at wrk's deadline (at most one per connection).
check_rows() { # what ok rows
  if [ "$3" -lt "$2" ] || [ "$3" -gt $(($2 + connections)) ]; then
    echo "MISMATCH: $2 $1 answered 200, $3 rows" >&2; exit 1
  fi
}

estrade_joins() {
  fresh_db
  ESTRADE_LOG=warn ESTRADE_JOINS_PER_CODE_PER_MIN=1000000 ESTRADE_TOKEN_MINTS_PER_S=1000000 \
    target/release/estrade dev --listen 127.0.0.1:$port > "$work/dev.out" 2> "$work/dev.err" &
  pids+=($!)
  for _ in $(seq 200); do grep -q "teacher key" "$work/dev.out" 2>/dev/null && break; sleep 0.05; done
  local teacher api=http://127.0.0.1:$port
  teacher=$(awk '/^ *teacher key/ {print $3}' "$work/dev.out")
  : > "$work/links"
  for _ in $(seq "$sessions"); do
    local id
    id=$(curl -sf -H "Authorization: Bearer $teacher" -H 'content-type: application/json' \
      -d '{"title":"Bench","max_learners":1000}' $api/v1/sessions | sed 's/.*"id":"\([^"]*\)".*/\1/')
    # "code link-key": learners join from the link, as the web client does.
    curl -sf -X POST -H "Authorization: Bearer $teacher" $api/v1/sessions/"$id"/start \
      | sed 's/.*"join_code":"\([0-9]*\)".*#k=\([^"]*\)".*/\1 \2/' >> "$work/links"
    echo >> "$work/links"
  done
  local before result
  before=$(learners)
  result=$(JOIN_PATH=/v1/join measure estrade-joins bench/peers/join_codes.lua $api CODES="$work/links")
  cut -d' ' -f1 "$work/links" > "$work/codes"
  check_rows joins "$(ok_of)" $(($(learners) - before))
  stop_all
  echo "$result"
}
express_joins() {
  node bench/peers/express_peer.mjs $express_port & pids+=($!)
  wait_http http://127.0.0.1:$express_port/
  JOIN_PATH=/join measure express-joins bench/peers/join_codes.lua http://127.0.0.1:$express_port CODES="$work/codes"
  stop_all
}
fastapi_joins() {
  (cd bench/peers && exec "$venv/bin/uvicorn" fastapi_peer:app --host 127.0.0.1 --port $fastapi_port \
    --workers 2 --log-level warning --no-access-log) & pids+=($!)
  wait_http http://127.0.0.1:$fastapi_port/
  JOIN_PATH=/join measure fastapi-joins bench/peers/join_codes.lua http://127.0.0.1:$fastapi_port CODES="$work/codes"
  stop_all
}
estrade_webhooks() {
  fresh_db
  (
    export LIVEKIT_URL=http://127.0.0.1:$stub_port LIVEKIT_API_KEY=$key LIVEKIT_API_SECRET=$secret
    export ESTRADE_LISTEN=127.0.0.1:$port ESTRADE_METRICS_LISTEN=127.0.0.1:0 ESTRADE_LOG=warn
    export ESTRADE_PUBLIC_URL=http://127.0.0.1:$port ESTRADE_PARTICIPANT_TOKEN_SECRET=$secret
    export ESTRADE_REDIS_NAMESPACE=bench-peers-$$
    target/release/estrade migrate
    target/release/livekit-stub --port $stub_port --key $key --secret $secret > /dev/null &
    exec target/release/estrade serve 2> "$work/serve.err"
  ) & pids+=($!)
  wait_http http://127.0.0.1:$port/healthz
  local result rows
  result=$(measure estrade-webhooks bench/peers/webhooks.lua http://127.0.0.1:$port EVENTS="$work/signed")
  rows=$(psql -tA "$DATABASE_URL" -c "select count(*) from webhook_inbox")
  check_rows webhooks "$(ok_of)" "$rows"
  pkill -f "livekit-stub --port $stub_port" || true
  stop_all
  # No worker ran: drop the jobs the API queued.
  redis-cli -u "$REDIS_URL" --scan --pattern "bench-peers-$$:*" | xargs -r -n 1000 redis-cli -u "$REDIS_URL" del > /dev/null
  echo "$result"
}
express_webhooks() {
  node bench/peers/express_webhook_peer.mjs $hooks_port & pids+=($!)
  wait_http http://127.0.0.1:$hooks_port/
  measure express-webhooks bench/peers/webhooks.lua http://127.0.0.1:$hooks_port EVENTS="$work/signed"
  stop_all
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

echo "machine: $(nproc) cores, $(awk '/model name/ {$1=$2=$3=""; print; exit}' /proc/cpuinfo | sed 's/^ *//'), commit $(git rev-parse --short HEAD)"
echo "load: wrk -t2 -c$connections -d$duration; joins over $sessions live sessions; $events distinct signed webhooks"
: > "$work/summary"
for run in $(seq "$runs"); do
  echo "== run $run of $runs"
  read -r ej ej50 ej99 < <(estrade_joins)
  read -r xj xj50 xj99 < <(express_joins)
  read -r fj fj50 fj99 < <(fastapi_joins)
  # Signed now: LiveKit's signatures expire after five minutes.
  python3 bench/sign_webhooks.py "$key" "$secret" "$events" > "$work/signed"
  read -r ew ew50 ew99 < <(estrade_webhooks)
  read -r xw xw50 xw99 < <(express_webhooks)
  printf '%-28s %8s/s  p50 %6s ms  p99 %6s ms\n' \
    "joins   Estrade" "$ej" "$ej50" "$ej99" \
    "joins   Express" "$xj" "$xj50" "$xj99" \
    "joins   FastAPI" "$fj" "$fj50" "$fj99" \
    "webhooks Estrade" "$ew" "$ew50" "$ew99" \
    "webhooks Express" "$xw" "$xw50" "$xw99"
  line=$(printf '| %s | %s (p99 %s ms) | %s× | %s× | %s (p99 %s ms) | %s× |' "$run" \
    "$ej" "$ej99" "$(ratio "$ej" "$xj")" "$(ratio "$ej" "$fj")" "$ew" "$ew99" "$(ratio "$ew" "$xw")")
  echo "$line" >> "$work/summary"
  for label in estrade-joins express-joins fastapi-joins estrade-webhooks express-webhooks; do
    echo "cpu, $label: $(head -4 "$work/cpu.$label" | awk '{printf "%s %s s; ", $1, $2}')"
  done
  echo "ratios: joins $(ratio "$ej" "$xj")× Express, $(ratio "$ej" "$fj")× FastAPI; webhooks $(ratio "$ew" "$xw")× Express"
done
echo "== all runs"
echo "| run | Estrade joins/s | vs Express | vs FastAPI | Estrade webhooks/s | vs Express |"
echo "|---|---|---|---|---|---|"
cat "$work/summary"
