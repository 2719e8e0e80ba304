#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL: a login `broker` with no superuser and
# no CREATEDB, owner of database `brokerdb`. Exports CREDBROKER_TEST_PG_URL (no password
# in it) and PGPASSWORD. Used by unit tests that need a real server (test_store_pg).
# Usage: tests/lib/with_pg.sh COMMAND [ARGS]; exit status is the command's.
# shellcheck source=tests/lib/common.sh
source "$(dirname "$0")/common.sh"
# shellcheck source=tests/lib/pg.sh
source "$CB_ROOT/tests/lib/pg.sh"
pg_start >&2 || { echo "1..0 # SKIP cannot start PostgreSQL"; exit 0; }
PGPASSWORD=$(openssl rand -hex 12)
pg_sql "CREATE ROLE broker LOGIN PASSWORD '$PGPASSWORD'" >/dev/null
pg_sql "CREATE DATABASE brokerdb OWNER broker" >/dev/null
export PGPASSWORD
export CREDBROKER_TEST_PG_URL="postgresql://broker@127.0.0.1:$PGPORT/brokerdb?sslmode=disable&connect_timeout=5"
"$@"
