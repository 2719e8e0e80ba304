#!/usr/bin/env bash
# The store on PostgreSQL for the test suites (CREDBROKER_TEST_STORE=postgresql).
#
# One throwaway PostgreSQL server holds the stores of every suite of a run, one schema per
# store path: a test still says CREDBROKER_DB=$TMP/x.db (or --db PATH), and the shims in
# a shadow build directory (pgstore_start DIR makes DIR/build: `credbroker` and the
# store-opening tools are shims, everything else links to the real build) turn that path
# into CREDBROKER_DB=<the store server's URL> and CREDBROKER_DB_SCHEMA=s_<hash of the
# path>, so the same assertions run on PostgreSQL whatever starts the binary (a test, a
# script, a crontab line, an MCP client given -e CREDBROKER_DB=...). The server is not
# one of the target servers of tests/lib/pg.sh: suites that restart or inspect their
# target clusters never touch it.
#
# Its password is in DIR/pgpass (0600, named by PGPASSFILE in the shims), never in a URL.
# It runs with log_statement=all, so a secret scan (store_dump) sees every statement a
# broker sent, not only the rows that stayed.
#
# tests/run.sh starts one for a whole run (CREDBROKER_TEST_PGSTORE=DIR); a suite run
# alone in PostgreSQL mode starts its own (tests/lib/common.sh).
# shellcheck disable=SC2034

# pgstore_schema PATH: the schema that stands for the store file PATH (absolute, normalized
# without touching the file system: the file never exists in PostgreSQL mode).
pgstore_schema() {
  local p=$1 h
  case $p in /*) ;; *) p="$PWD/$p";; esac
  p=$(/usr/bin/realpath -m -- "$p")
  h=$(printf '%s' "$p" | /usr/bin/sha256sum)
  printf 's_%s\n' "${h:0:16}"
}

# pgstore_start DIR: starts the store server under DIR (created, removed by pgstore_stop)
# and writes DIR/env (PGSTORE_* settings, read by the shims and by common.sh) and DIR/build.
pgstore_start() {
  local dir=$1 bindir port pw runas=() real
  real=${2:-${BUILD:-build}}
  case $real in /*) ;; *) real="$PWD/$real";; esac
  bindir=$(pg_config --bindir 2>/dev/null)
  [ -x "$bindir/initdb" ] || bindir=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -1)
  [ -x "$bindir/initdb" ] || { echo "# pgstore: no initdb found" >&2; return 1; }
  mkdir -p "$dir/pg" || return 1
  chmod 755 "$dir" "$dir/pg"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir/pg"; runas=(runuser -u postgres --); fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  pw=$(openssl rand -hex 16)
  "${runas[@]}" "$bindir/initdb" -D "$dir/pg/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
     -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/pg/initdb.log" 2>&1 || { cat "$dir/pg/initdb.log" >&2; return 1; }
  # log_statement=all: store_dump scans what the brokers sent; fsync off: a test server
  "${runas[@]}" "$bindir/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -t 60 \
     -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/pg -c fsync=off -c max_connections=400 -c log_statement=all" \
     start >/dev/null || { cat "$dir/pg/server.log" >&2; return 1; }
  # The brokers' login owns the database (it may create its schema) and is no superuser.
  psql -X -q -v ON_ERROR_STOP=1 -h "$dir/pg" -p "$port" -U postgres -d postgres \
     -c "CREATE ROLE cbstore LOGIN PASSWORD '$pw'" -c "CREATE DATABASE cbstore OWNER cbstore" >/dev/null || return 1
  # SQLite's spellings that the suites' store_sql statements use, for PostgreSQL; in a
  # schema of their own, on store_sql's search_path only (never the brokers').
  psql -X -q -v ON_ERROR_STOP=1 -h "$dir/pg" -p "$port" -U postgres -d cbstore >/dev/null <<'SQL' || return 1
CREATE SCHEMA cbtest_compat;
SET search_path = cbtest_compat;
CREATE FUNCTION strftime(f text, t text) RETURNS bigint LANGUAGE sql STABLE
  AS $$ SELECT CASE WHEN f = '%s' AND t = 'now' THEN floor(extract(epoch FROM now()))::bigint END $$;  -- truncated like SQLite's (a cast rounds: half a second in the future)
CREATE FUNCTION hex(b bytea) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT upper(encode(b, 'hex')) $$;
CREATE FUNCTION hex(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT upper(encode(convert_to(t, 'UTF8'), 'hex')) $$;
CREATE FUNCTION instr(b bytea, t text) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT position(convert_to(t, 'UTF8') IN b) $$;
CREATE FUNCTION instr(s text, t text) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT strpos(s, t) $$;
CREATE FUNCTION gc_step(acc text, v text) RETURNS text LANGUAGE sql IMMUTABLE
  AS $$ SELECT CASE WHEN v IS NULL THEN acc WHEN acc IS NULL THEN v ELSE acc || ',' || v END $$;
CREATE AGGREGATE group_concat(text) (SFUNC = gc_step, STYPE = text);
SQL
  (umask 077; printf '127.0.0.1:%s:cbstore:cbstore:%s\n' "$port" "$pw" >"$dir/pgpass")
  cat >"$dir/env" <<EOF
PGSTORE_DIR='$dir'
PGSTORE_SOCK='$dir/pg'
PGSTORE_PORT='$port'
PGSTORE_BINDIR='$bindir'
PGSTORE_LOG='$dir/pg/server.log'
PGSTORE_PASSFILE='$dir/pgpass'
PGSTORE_URL='postgresql://cbstore@127.0.0.1:$port/cbstore?sslmode=disable&connect_timeout=10'
PGSTORE_REAL_BUILD='$real'
EOF
  pgstore_shadow_build "$dir" "$real"
}

# pgstore_shadow_build DIR REAL: DIR/build mirrors REAL; the binaries that open a store
# are shims through tests/lib/cbstore-exec. A tool's position argument says which of its
# arguments is a store path (store_tool fill DB N, lease_pw DB); 0: none besides --db.
pgstore_shadow_build() {
  local dir=$1 real=$2 exec_ e n
  exec_="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/cbstore-exec"
  mkdir -p "$dir/build/tools"
  for e in "$real"/* "$real"/.[!.]*; do
    [ -e "$e" ] || continue
    n=${e##*/}
    case $n in credbroker|tools) continue;; esac
    ln -s "$e" "$dir/build/$n"
  done
  _pgstore_shim "$dir" "$exec_" "$real/credbroker" 0 >"$dir/build/credbroker"
  for e in "$real"/tools/*; do
    n=${e##*/}
    case $n in
      mcp_cli|rotate_cli) _pgstore_shim "$dir" "$exec_" "$e" 0 >"$dir/build/tools/$n";;
      store_tool) _pgstore_shim "$dir" "$exec_" "$e" 2 >"$dir/build/tools/$n";;
      lease_pw) _pgstore_shim "$dir" "$exec_" "$e" 1 >"$dir/build/tools/$n";;
      *) ln -s "$e" "$dir/build/tools/$n";;
    esac
  done
  chmod 755 "$dir/build/credbroker" "$dir/build/tools"/mcp_cli "$dir/build/tools"/rotate_cli \
        "$dir/build/tools"/store_tool "$dir/build/tools"/lease_pw 2>/dev/null
  return 0
}
_pgstore_shim() { printf '#!/bin/bash\nexec %q %q %q %q "$@"\n' "$2" "$1/env" "$3" "$4"; }

# pgstore_stop DIR: stops the server and removes DIR.
pgstore_stop() {
  local dir=$1 runas=()
  [ -f "$dir/env" ] || { rm -rf "$dir"; return 0; }
  # shellcheck disable=SC1091
  ( . "$dir/env"
    [ "$(id -u)" -eq 0 ] && runas=(runuser -u postgres --)
    "${runas[@]}" "$PGSTORE_BINDIR/pg_ctl" -D "$PGSTORE_DIR/pg/data" -m immediate -w stop >/dev/null 2>&1 )
  rm -rf "$dir"
}

# pgstore_alive DIR: the server of DIR answers.
pgstore_alive() {
  [ -f "$1/env" ] || return 1
  # shellcheck disable=SC1091
  ( . "$1/env"; psql -X -q -A -t -h "$PGSTORE_SOCK" -p "$PGSTORE_PORT" -U postgres -d cbstore -c 'SELECT 1' >/dev/null 2>&1 )
}
