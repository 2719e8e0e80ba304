#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests, run as user postgres on loopback and a free
# port, stopped at exit whatever happens. Source after common.sh, then call pg_start.
# Sets: PGPORT, PGSOCK (socket dir, trust auth for admin work), PG_ADMIN_PW,
# PG_ADMIN_URL (postgresql://postgres:...@127.0.0.1:PORT/postgres), pg_sql (function).
# shellcheck disable=SC2034
pg_start() {
  local bindir
  bindir=$(pg_config --bindir 2>/dev/null)
  [ -x "$bindir/initdb" ] || bindir=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d | sort -V | tail -1)
  [ -x "$bindir/initdb" ] || { echo "# no initdb found" >&2; return 1; }
  PGPORT=$(free_port)
  PGSOCK=$(mktemp -d -t pgtest.XXXXXX)
  chmod 755 "$PGSOCK"
  PG_ADMIN_PW=$(openssl rand -hex 12)
  local runas=()
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$PGSOCK"; runas=(runuser -u postgres --); fi
  printf '%s\n' "$PG_ADMIN_PW" > "$PGSOCK/pw"
  [ "$(id -u)" -eq 0 ] && chown postgres "$PGSOCK/pw"
  chmod 600 "$PGSOCK/pw"
  "${runas[@]}" "$bindir/initdb" -D "$PGSOCK/data" -U postgres --pwfile="$PGSOCK/pw" \
     --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync >"$PGSOCK/initdb.log" 2>&1 \
     || { cat "$PGSOCK/initdb.log" >&2; return 1; }
  on_exit "'${runas[*]:-env}' '$bindir/pg_ctl' -D '$PGSOCK/data' -m immediate -w stop; rm -rf '$PGSOCK'"
  "${runas[@]}" "$bindir/pg_ctl" -D "$PGSOCK/data" -l "$PGSOCK/server.log" -w -t 30 \
     -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGSOCK -c fsync=off -c max_connections=200" start >/dev/null \
     || { cat "$PGSOCK/server.log" >&2; return 1; }
  PG_ADMIN_URL="postgresql://postgres:$PG_ADMIN_PW@127.0.0.1:$PGPORT/postgres?sslmode=disable&connect_timeout=5"
  export PGPORT PGSOCK PG_ADMIN_PW PG_ADMIN_URL
}
# pg_sql "SQL" [db]: runs SQL as superuser over the socket (trust), prints unaligned rows.
pg_sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$PGSOCK" -p "$PGPORT" -U postgres -d "${2:-postgres}" -c "$1"; }
