# Shared by scripts/test and scripts/dev: make PostgreSQL and Redis answer,
# installing and starting them when they are absent. Source it; it defines
# functions and changes nothing by itself.

# Bold on a terminal; plain text in a file or a pipe.
log() {
  if [ -t 2 ]; then printf '\033[1m==> %s\033[0m\n' "$*" >&2; else printf '==> %s\n' "$*" >&2; fi
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root to run: $*"; return 1; fi
}

apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  log "installing $*"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# A TCP port nobody listens on.
free_port() {
  local port
  while :; do
    port=$(( (RANDOM % 20000) + 30000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}

pg_bin() {
  local bin
  bin=$(command -v "$1" 2>/dev/null) && { echo "$bin"; return; }
  ls -d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1
}

postgres_answers() { [ -n "$(pg_bin psql)" ] && "$(pg_bin psql)" -q "$1" -c 'select 1' >/dev/null 2>&1; }

# Exports DATABASE_URL pointing at a PostgreSQL where we may create databases.
ensure_postgres() {
  [ -n "$(pg_bin initdb)" ] && [ -n "$(pg_bin psql)" ] || apt_install postgresql postgresql-client
  local candidate
  for candidate in "${DATABASE_URL:-}" postgres://postgres@127.0.0.1:5432/postgres; do
    if [ -n "$candidate" ] && postgres_answers "$candidate"; then
      export DATABASE_URL=$candidate; log "PostgreSQL: using $candidate"; return
    fi
  done
  # Nothing answers: a throwaway cluster, stopped when the script exits.
  local dir port run=()
  dir=$(mktemp -d /tmp/estrade-pg.XXXXXX)
  port=$(free_port)
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; run=(runuser -u postgres --); fi
  "${run[@]}" "$(pg_bin initdb)" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
  "${run[@]}" "$(pg_bin pg_ctl)" -D "$dir/data" -l "$dir/log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
  PG_STOP=("${run[@]}" "$(pg_bin pg_ctl)" -D "$dir/data" -m fast -w stop)
  CLEANUP+=("$dir")
  export DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres
  log "PostgreSQL: started a throwaway cluster on port $port"
}

redis_answers() {
  local hostport=${1#redis://}; hostport=${hostport%%/*}
  # In a subshell: a failed `exec` redirection would end the calling shell.
  (
    exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}" || exit 1
    printf 'PING\r\n' >&3
    read -r -t 2 reply <&3 || exit 1
    [[ "$reply" == +PONG* ]]
  ) 2>/dev/null
}

# Exports REDIS_URL pointing at a Redis that answers. The tests also need the
# redis-server binary itself (one stops a private Redis on purpose).
ensure_redis() {
  command -v redis-server >/dev/null || apt_install redis-server
  local candidate
  for candidate in "${REDIS_URL:-}" redis://127.0.0.1:6379; do
    if [ -n "$candidate" ] && redis_answers "$candidate"; then
      export REDIS_URL=$candidate; log "Redis: using $candidate"; return
    fi
  done
  local port dir
  port=$(free_port); dir=$(mktemp -d /tmp/estrade-redis.XXXXXX)
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
  REDIS_STOP=(kill "$(cat_when_ready "$dir/redis.pid")")
  CLEANUP+=("$dir")
  export REDIS_URL=redis://127.0.0.1:$port
  local tries=0
  until redis_answers "$REDIS_URL"; do
    tries=$((tries + 1)); [ $tries -lt 100 ] || { log "redis-server did not start"; return 1; }
    sleep 0.1
  done
  log "Redis: started a throwaway server on port $port"
}

cat_when_ready() {
  local tries=0
  until [ -s "$1" ]; do tries=$((tries + 1)); [ $tries -lt 100 ] || return 1; sleep 0.1; done
  cat "$1"
}

CLEANUP=()

stop_services() {
  if [ -n "${PG_STOP+x}" ]; then "${PG_STOP[@]}" >/dev/null 2>&1 || true; fi
  if [ -n "${REDIS_STOP+x}" ]; then "${REDIS_STOP[@]}" >/dev/null 2>&1 || true; fi
  if [ ${#CLEANUP[@]} -gt 0 ]; then rm -rf "${CLEANUP[@]}"; fi
}

# Installs LiveKit's official server SDKs (pinned) into tests/sdk/, where the
# fidelity test runs them against the stand-in. Skipped when the lock files
# have not changed since the last install.
ensure_sdks() {
  local sdk=tests/sdk stamp
  command -v node >/dev/null || apt_install nodejs npm
  stamp=$(sha256sum "$sdk/package-lock.json" | cut -c1-16)
  if [ "$(cat "$sdk/node_modules/.estrade-stamp" 2>/dev/null)" != "$stamp" ]; then
    log "installing the Node LiveKit SDK (npm ci)"
    (cd "$sdk" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$stamp" > "$sdk/node_modules/.estrade-stamp"
  fi
  command -v python3 >/dev/null || apt_install python3
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  stamp=$(sha256sum "$sdk/requirements.txt" | cut -c1-16)
  if [ "$(cat "$sdk/.deps/python/.estrade-stamp" 2>/dev/null)" != "$stamp" ]; then
    log "installing the Python LiveKit SDK (pip --target)"
    rm -rf "$sdk/.deps/python"
    # --target writes only under tests/sdk; the environment marker check
    # (PEP 668) is about system packages, which this never touches.
    PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --disable-pip-version-check \
      --no-warn-script-location --target "$sdk/.deps/python" -r "$sdk/requirements.txt" 2>&1 \
      | grep -v "Running pip as the 'root' user" >&2 || true
    [ -d "$sdk/.deps/python/livekit/api" ] || { log "pip could not install tests/sdk/requirements.txt"; return 1; }
    echo "$stamp" > "$sdk/.deps/python/.estrade-stamp"
  fi
}

# What the 443-only proof needs (tests/tests/turn_443.rs): iproute2 for
# network namespaces, nftables for the campus firewall, coturn's server and
# client tools, openssl for a certificate, python3 for the TCP relay client
# (coturn's cannot aim a TCP relay at a chosen port). Root only: as another
# user the test is reported skipped.
ensure_network_tools() {
  [ "$(id -u)" = 0 ] || return 0
  local missing=()
  command -v ip >/dev/null || missing+=(iproute2)
  command -v nft >/dev/null || missing+=(nftables)
  command -v turnserver >/dev/null && command -v turnutils_uclient >/dev/null || missing+=(coturn)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v ss >/dev/null || missing+=(iproute2)
  command -v python3 >/dev/null || missing+=(python3)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} for the 443-only proof"
    apt_install "${missing[@]}"
  fi
}

# The LiveKit server the tests and `scripts/dev` run: v1.13.5, the version
# compose/ deploys. Exports LIVEKIT_SERVER_BIN. Uses `livekit-server` from
# PATH at that version, else the cached build in the tool folder
# ($ESTRADE_TOOLS, default ~/.cache/estrade), else builds it from the Go
# module proxy (`go install`, the only way to get it here; a few minutes,
# once) into that folder.
LIVEKIT_VERSION=v1.13.5
ensure_livekit() {
  local tools=${ESTRADE_TOOLS:-$HOME/.cache/estrade} bin
  bin=$(command -v livekit-server 2>/dev/null || true)
  if [ -n "$bin" ] && "$bin" --version 2>/dev/null | grep -q "version ${LIVEKIT_VERSION#v}$"; then
    export LIVEKIT_SERVER_BIN=$bin; log "LiveKit: $bin (${LIVEKIT_VERSION})"; return
  fi
  bin=$tools/livekit-$LIVEKIT_VERSION/livekit-server
  if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "version ${LIVEKIT_VERSION#v}$"; then
    export LIVEKIT_SERVER_BIN=$bin; log "LiveKit: $bin (${LIVEKIT_VERSION}, built earlier)"; return
  fi
  if ! command -v go >/dev/null; then
    log "LiveKit ${LIVEKIT_VERSION} is built with Go >= 1.26, and there is no 'go' on PATH: install Go, or put livekit-server ${LIVEKIT_VERSION} on PATH"
    return 1
  fi
  local have
  have=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
  if [ "$(printf '%s\n1.26\n' "$have" | sort -V | head -n 1)" != 1.26 ]; then
    log "LiveKit ${LIVEKIT_VERSION} needs Go >= 1.26; this machine has go${have}"
    return 1
  fi
  log "building LiveKit ${LIVEKIT_VERSION} from the Go module proxy into $tools (once; a few minutes)"
  local build
  build=$(mktemp -d "${TMPDIR:-/tmp}/livekit-build.XXXXXX")
  GOBIN=$build GOFLAGS=-buildvcs=false go install "github.com/livekit/livekit-server/cmd/server@${LIVEKIT_VERSION}"
  mkdir -p "$(dirname "$bin")"
  mv "$build/server" "$bin"
  rm -rf "$build"
  export LIVEKIT_SERVER_BIN=$bin
  log "LiveKit: $bin (${LIVEKIT_VERSION}, built now)"
}

# The web client's packages, pinned by client/package-lock.json (npm ci),
# then its build into client/dist, which `estrade serve` serves. The
# install is skipped when the lock file has not changed since the last one.
ensure_client() {
  command -v npm >/dev/null || apt_install nodejs npm
  local stamp
  stamp=$(sha256sum client/package-lock.json | cut -c1-16)
  if [ "$(cat client/node_modules/.estrade-stamp 2>/dev/null)" != "$stamp" ]; then
    log "installing the web client's packages (npm ci)"
    (cd client && npm ci --no-audit --no-fund --loglevel=error)
    echo "$stamp" > client/node_modules/.estrade-stamp
  fi
  log "building the web client (npm run build)"
  (cd client && npm run --silent build >/dev/null)
}

# What the browser tests need: Debian's Chromium (never a downloaded
# browser) and espeak-ng, which speaks the learner's fake microphone.
ensure_browser() {
  local missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v espeak-ng >/dev/null || missing+=(espeak-ng)
  # certutil: the 443-only field test makes Chromium trust its own CA.
  command -v certutil >/dev/null || missing+=(libnss3-tools)
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
}

# Installs Schemathesis (pinned, from PyPI) into a virtualenv of its own and
# sets SCHEMATHESIS_VENV (scripts/lib/api-conformance). Done outside any
# network namespace: PyPI is not reachable from inside one.
SCHEMATHESIS_VERSION=4.32.5
ensure_schemathesis() {
  SCHEMATHESIS_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/estrade/schemathesis-$SCHEMATHESIS_VERSION"
  [ -x "$SCHEMATHESIS_VENV/bin/schemathesis" ] && return
  python3 -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
  log "installing schemathesis $SCHEMATHESIS_VERSION (PyPI) into $SCHEMATHESIS_VENV"
  rm -rf "$SCHEMATHESIS_VENV"
  python3 -m venv "$SCHEMATHESIS_VENV"
  "$SCHEMATHESIS_VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
}
