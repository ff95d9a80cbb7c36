# Sourced by .ci/run: a throw-away PostgreSQL server for the slow tier's end-to-end test.
#
# Installs the Debian package when it is absent (CI runs as root in a fresh clone), creates a
# cluster in a temporary folder owned by the postgres user, starts it on a free port (TCP
# connections need a password, so the test's percent-encoded password is really checked; the
# admin connects through the Unix socket), exports HEALTHSCORE_TEST_PG_URL for the test and
# stops and removes the cluster when the calling shell exits.

start_test_postgres() {
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "installing PostgreSQL (Debian package) for the slow tier"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  fi
  local run_as=()
  if [ "$(id -u)" = 0 ]; then
    run_as=(runuser -u postgres --)
  fi
  HEALTHSCORE_PG_DIR=$(mktemp -d /tmp/healthscore-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres "$HEALTHSCORE_PG_DIR"
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "${run_as[@]}" "$bindir/initdb" -D "$HEALTHSCORE_PG_DIR/data" -U postgres \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  "${run_as[@]}" "$bindir/pg_ctl" -D "$HEALTHSCORE_PG_DIR/data" -l "$HEALTHSCORE_PG_DIR/log" -w \
    -o "-p $port -k $HEALTHSCORE_PG_DIR -c listen_addresses=127.0.0.1" start >/dev/null
  HEALTHSCORE_PG_BIN=$bindir
  HEALTHSCORE_PG_RUN_AS="${run_as[*]}"
  export HEALTHSCORE_TEST_PG_URL="postgresql+psycopg2://postgres@/postgres?host=$HEALTHSCORE_PG_DIR&port=$port"
  export HEALTHSCORE_TEST_PG_HOST_PORT="127.0.0.1:$port"
  export HEALTHSCORE_REQUIRE_PG=1  # the test fails instead of skipping when it cannot connect
  trap stop_test_postgres EXIT
  echo "PostgreSQL for the slow tier on port $port"
}

stop_test_postgres() {
  if [ -n "${HEALTHSCORE_PG_DIR:-}" ]; then
    $HEALTHSCORE_PG_RUN_AS "$HEALTHSCORE_PG_BIN/pg_ctl" -D "$HEALTHSCORE_PG_DIR/data" -m fast \
      stop >/dev/null 2>&1 || true
    rm -rf "$HEALTHSCORE_PG_DIR"
  fi
}
