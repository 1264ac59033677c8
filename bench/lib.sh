# Shared by the Rust-driven benchmarks: builds the release binaries, makes
# a fresh database (dropped on exit), migrates it and exports an admin key
# as ADMIN_KEY, with DATABASE_URL and REDIS_URL for `estrade serve`.
bench_setup() {
  local db=$1
  admin_url=${ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
  cargo build --release --quiet --locked -p estrade -p estrade-bench
  psql -q "$admin_url" -c "drop database if exists $db" -c "create database $db"
  export DATABASE_URL=${admin_url%/*}/$db
  export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
  export ESTRADE_REDIS_NAMESPACE=bench-$db
  # The benchmarks run thousands of classes and learners at once.
  export ESTRADE_MAX_LIVE_SESSIONS_PER_TEACHER=100000 ESTRADE_MAX_LIVE_SESSIONS=100000 ESTRADE_MAX_PARTICIPANTS=10000000
  bench_db=$db
  trap 'psql -q "$admin_url" -c "drop database if exists $bench_db" >/dev/null' EXIT
  ESTRADE_LOG=warn target/release/estrade migrate
  ADMIN_KEY=$(ESTRADE_LOG=warn target/release/estrade admin create-key --name "Bench admin" --role admin)
  export ADMIN_KEY
}
