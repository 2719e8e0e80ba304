#!/usr/bin/env bash
# TAP helpers for integration tests. Source it; every helper prints `ok N - desc`
# or `not ok N - desc`; call `done_testing` at the end.
# shellcheck disable=SC2034
set -uo pipefail
CB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$CB_ROOT/$BUILD";; esac
CB="$BUILD/credbroker"
SHARED="$CB_ROOT/../shared"
# The store's backend for this run: sqlite (a file, the default) or postgresql
# (CREDBROKER_TEST_STORE=postgresql; see tests/lib/pgstore.sh, set up below).
STORE_MODE=${CREDBROKER_TEST_STORE:-sqlite}
_tap_n=0
_tap_fail=0
_cleanups=()

_run_cleanups() {
  local i
  for ((i=${#_cleanups[@]}-1; i>=0; i--)); do eval "${_cleanups[$i]}" >/dev/null 2>&1 || true; done
}
trap _run_cleanups EXIT
trap 'exit 130' INT TERM
on_exit() { _cleanups+=("$*"); }

# A private temporary directory, removed at exit (traversable by the postgres user).
TMP=$(mktemp -d -t cbtest.XXXXXX)
chmod 755 "$TMP"
on_exit "rm -rf '$TMP'"

# PostgreSQL store mode: reuse the run's store server (tests/run.sh) or start one for
# this suite; then BUILD is the shadow build whose credbroker and store tools are shims.
if [ "$STORE_MODE" = postgresql ]; then
  # shellcheck source=tests/lib/pgstore.sh
  source "$CB_ROOT/tests/lib/pgstore.sh"
  if [ -n "${CREDBROKER_TEST_PGSTORE:-}" ] && pgstore_alive "$CREDBROKER_TEST_PGSTORE"; then
    _pgstore_dir=$CREDBROKER_TEST_PGSTORE
  else
    _pgstore_dir=$(mktemp -d -t cbpgstore.XXXXXX)
    on_exit "pgstore_stop '$_pgstore_dir'"
    pgstore_start "$_pgstore_dir" "$BUILD" >&2 || { echo "1..0 # SKIP no PostgreSQL for the store"; exit 0; }
  fi
  # shellcheck disable=SC1091
  . "$_pgstore_dir/env"
  BUILD="$_pgstore_dir/build"
  CB="$BUILD/credbroker"
elif [ "$STORE_MODE" != sqlite ]; then
  echo "CREDBROKER_TEST_STORE=$STORE_MODE: sqlite or postgresql" >&2; exit 2
fi

diag() { printf '# %s\n' "$*" | sed '2,$s/^/# /'; }
pass() { _tap_n=$((_tap_n+1)); echo "ok $_tap_n - $*"; }
fail() { _tap_n=$((_tap_n+1)); _tap_fail=$((_tap_fail+1)); echo "not ok $_tap_n - $*"; }
skip() { _tap_n=$((_tap_n+1)); echo "ok $_tap_n # SKIP $*"; }
skip_all() { echo "1..0 # SKIP $*"; echo "ok 1 # SKIP $*"; exit 0; }
ok() { # ok CONDITION-EXIT-STATUS desc
  local st=$1; shift
  if [ "$st" -eq 0 ]; then pass "$*"; else fail "$*"; fi
}
check() { # check "desc" cmd... : passes when cmd exits 0
  local d=$1; shift
  if "$@" >"$TMP/.out" 2>&1; then pass "$d"; else fail "$d"; diag "$(tail -15 "$TMP/.out")"; fi
}
expect_exit() { # expect_exit CODE "desc" cmd...
  local want=$1 d=$2; shift 2
  "$@" >"$TMP/.out" 2>&1; local got=$?
  if [ "$got" -eq "$want" ]; then pass "$d"; else fail "$d (exit $got, want $want)"; diag "$(tail -15 "$TMP/.out")"; fi
}
is() { # is GOT WANT desc
  if [ "$1" == "$2" ]; then pass "$3"; else fail "$3"; diag "got:  '$1'"; diag "want: '$2'"; fi
}
isnt() { if [ "$1" != "$2" ]; then pass "$3"; else fail "$3"; diag "both: '$1'"; fi; }
like() { # like GOT REGEX desc
  if [[ "$1" =~ $2 ]]; then pass "$3"; else fail "$3"; diag "got: '$1'"; diag "want match: $2"; fi
}
unlike() { if [[ "$1" =~ $2 ]]; then fail "$3"; diag "got: '$1'"; diag "must not match: $2"; else pass "$3"; fi; }
done_testing() { echo "1..$_tap_n"; [ "$_tap_fail" -eq 0 ]; }

# A free TCP port on loopback.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Waits until a TCP port on 127.0.0.1 accepts connections (max $2 seconds, default 15).
wait_port() {
  local port=$1 max=${2:-15} i
  for ((i=0; i<max*10; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# A fresh store with a random master key, for tests: sets CREDBROKER_DB and CREDBROKER_MASTER_KEY.
new_store() {
  export CREDBROKER_DB="$TMP/${1:-store}.db"
  CREDBROKER_MASTER_KEY=$(openssl rand -hex 32)
  export CREDBROKER_MASTER_KEY
  "$CB" init -q
}

# --- the store, on whichever backend this run uses ---------------------------------------
# pg_store: true in PostgreSQL store mode.
pg_store() { [ "$STORE_MODE" = postgresql ]; }
# store_schema [PATH]: the PostgreSQL schema standing for store PATH (default $CREDBROKER_DB).
store_schema() { pgstore_schema "${1:-$CREDBROKER_DB}"; }
# store_sql "SQL" [PATH]: runs SQL on the store (default $CREDBROKER_DB), prints rows
# '|'-separated without a header, like sqlite3. PostgreSQL: as superuser, in the store's
# schema, with SQLite's strftime('%s','now'), hex(), instr() and group_concat() available
# (tests/lib/pgstore.sh), and unlogged (a test's own statements are not the brokers').
store_sql() {
  local db=${2:-$CREDBROKER_DB}
  if pg_store; then
    PGOPTIONS="-c search_path=$(store_schema "$db"),cbtest_compat -c log_statement=none" \
      psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$PGSTORE_SOCK" -p "$PGSTORE_PORT" -U postgres -d cbstore -c "$1"
  else
    # waits for a broker's write lock like the brokers do, instead of failing at once
    sqlite3 -cmd ".timeout 5000" "$db" "$1"
  fi
}
# blob_lit HEX: a BLOB/bytea literal for store_sql (x'..' in SQLite, '\x..'::bytea in PostgreSQL).
blob_lit() { if pg_store; then printf "'%s%s'::bytea" '\x' "$1"; else printf "x'%s'" "$1"; fi; }
# store_flip NAME OFFSET XOR: flips bits of byte OFFSET (negative: from the end) of the
# sealed URL of connection NAME, in place, on either backend (a tampered row).
store_flip() {
  local h
  h=$(store_sql "select hex(url_enc) from connections where name='$1'") || return 1
  h=$(python3 -c 'import sys; b=bytearray.fromhex(sys.argv[1]); b[int(sys.argv[2])]^=int(sys.argv[3]); print(b.hex())' "$h" "$2" "$3") || return 1
  store_sql "update connections set url_enc=$(blob_lit "$h") where name='$1'"
}
# store_backup FILE / store_restore FILE: a copy of the whole store ($CREDBROKER_DB), and
# the store replaced by that copy (an operator restoring an old backup). SQLite: the
# file (as the test scripts always copied it); PostgreSQL: pg_dump of the schema, dropped and
# restored.
store_backup() {
  if pg_store; then
    PGOPTIONS="-c log_statement=none" pg_dump -h "$PGSTORE_SOCK" -p "$PGSTORE_PORT" -U postgres -Fc \
      -n "$(store_schema)" -f "$1" cbstore
  else
    cp "$CREDBROKER_DB" "$1"
  fi
}
store_restore() {
  if pg_store; then
    store_sql "DROP SCHEMA $(store_schema) CASCADE" >/dev/null &&
      PGOPTIONS="-c log_statement=none" pg_restore -h "$PGSTORE_SOCK" -p "$PGSTORE_PORT" -U postgres -d cbstore "$1"
  else
    cp "$1" "$CREDBROKER_DB" && rm -f "$CREDBROKER_DB-wal" "$CREDBROKER_DB-shm"
  fi
}
# store_dump [PATH]: every byte a secret scan must search, on stdout (pipe it to strings).
# SQLite: the file and its WAL. PostgreSQL: the schema's table, TOAST and index files
# after a checkpoint (dead row versions included, like SQLite's free pages), its rows with
# bytea in escape form (printable bytes as they are), and the store server's log, where
# log_statement=all put every statement and parameter any broker sent.
store_dump() {
  local db=${1:-$CREDBROKER_DB} sch f
  if pg_store; then
    sch=$(store_schema "$db")
    store_sql "CHECKPOINT" >/dev/null
    for f in $(store_sql "SELECT pg_relation_filepath(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                            WHERE n.nspname = '$sch' AND c.relkind IN ('r','i')
                          UNION SELECT pg_relation_filepath(c.reltoastrelid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                            WHERE n.nspname = '$sch' AND c.reltoastrelid <> 0" "$db"); do
      cat "$PGSTORE_SOCK/data/$f" 2>/dev/null
    done
    PGOPTIONS="-c bytea_output=escape -c log_statement=none" \
      pg_dump -h "$PGSTORE_SOCK" -p "$PGSTORE_PORT" -U postgres -n "$sch" --data-only cbstore 2>/dev/null
    cat "$PGSTORE_LOG"
  else
    cat "$db" 2>/dev/null
    cat "$db-wal" 2>/dev/null
    return 0
  fi
}
# store_files PATH...: files a leak check searches for the stores PATH...: the paths
# themselves (SQLite), or for each a file holding its store_dump (PostgreSQL).
store_files() {
  local p d
  for p in "$@"; do
    if pg_store; then d="$TMP/.dump.$(store_schema "$p")"; store_dump "$p" >"$d"; echo "$d"; else echo "$p"; fi
  done
}
# sqlite_store_only N "reason": in PostgreSQL store mode prints N skipped assertions with
# the reason and fails, so `if sqlite_store_only N "why"; then <N assertions>; fi` runs
# what is about the SQLite file itself (modes, WAL, VACUUM, file-level tampering) only
# where there is a file, and says so where there is none.
sqlite_store_only() {
  local n=$1 i; shift
  pg_store || return 0
  for ((i=0; i<n; i++)); do skip "PostgreSQL store: $*"; done
  return 1
}
