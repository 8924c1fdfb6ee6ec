#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the test suite (`make test` calls this).
# Installs Debian's package when no server binaries are present, creates a cluster in a temp
# folder (fsync off: it holds test data only) and starts it unless it already runs.
# Prints the server URL (without a database name) on stdout; logs go to stderr.
set -euo pipefail

PORT=${DRIVERHOME_PG_PORT:-54329}
DIR=${DRIVERHOME_PG_DIR:-${TMPDIR:-/tmp}/driverhome-pg-$PORT}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

if [ -z "$(pg_bin)" ]; then
  echo "PostgreSQL is not installed: installing Debian's postgresql package" >&2
  SUDO=(); [ "$(id -u)" = 0 ] || SUDO=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get install -y -q postgresql >&2 || {
    "${SUDO[@]}" apt-get update -q >&2 && "${SUDO[@]}" apt-get install -y -q postgresql >&2; }
fi
BIN=$(pg_bin)

# PostgreSQL refuses to run as root: run it as the package's `postgres` user then.
AS=(); OWNER=$(id -un)
if [ "$(id -u)" = 0 ]; then AS=(runuser -u postgres --); OWNER=postgres; fi

if ! "${AS[@]}" "$BIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
  if [ ! -f "$DIR/PG_VERSION" ]; then
    rm -rf "$DIR" && mkdir -p "$DIR" && chown "$OWNER" "$DIR" && chmod 700 "$DIR"
    "${AS[@]}" "$BIN/initdb" -D "$DIR" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >&2
  fi
  "${AS[@]}" "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 60 start \
    -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >&2
fi
echo "postgresql://postgres@127.0.0.1:$PORT"
