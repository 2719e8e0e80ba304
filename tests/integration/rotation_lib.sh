#!/usr/bin/env bash
# Shared helpers for tests/integration/test_rotation*.sh (sourced after common.sh).
# Every output of the broker and the drivers is appended to $ALL, which the leak
# check searches for every password the rotations generated ($PWLIST).
# shellcheck disable=SC2034
RC="$BUILD/tools/rotate_cli"
DBT="$BUILD/tools/db_tool"
ALL="$TMP/all-output.txt"
PWLIST="$TMP/generated-passwords.txt"
: >"$ALL"
: >"$PWLIST"

urlenc() { python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
# pg_url USER PASSWORD [PORT]: a loopback URL for the test cluster.
pg_url() { printf 'postgresql://%s:%s@127.0.0.1:%s/postgres?sslmode=disable&connect_timeout=5' "$(urlenc "$1")" "$(urlenc "$2")" "${3:-$PGPORT}"; }

# cbq ARGS...: credbroker with output kept in $ALL (never use for `conn url`).
cbq() { local out rc; out=$("$CB" "$@" 2>&1); rc=$?; printf '%s\n' "$out" >>"$ALL"; printf '%s\n' "$out"; return $rc; }
# rot ARGS...: rotate_cli --policies $POL ARGS, output kept in $ALL and printed.
# After each call every stored password is added to the leak list (snapshot).
rot() { local out rc; out=$("$RC" --policies "$POL" "$@" 2>&1); rc=$?; printf '%s\n' "$out" >>"$ALL"; snapshot; printf '%s\n' "$out"; return $rc; }
# snapshot: remembers the password of every stored connection (URI form).
snapshot() {
  local n u
  for n in $("$CB" conn list --json 2>/dev/null | python3 -c 'import json,sys; print(" ".join(c["name"] for c in json.load(sys.stdin)))'); do
    u=$(stored_url "$n") || continue
    case $u in *://*:*@*) remember "$(url_part "$u" password)";; esac
  done
}
# conn_add NAME URL
conn_add() { printf '%s' "$2" | "$CB" conn add "$1" >>"$ALL" 2>&1; }
# stored_url NAME: the stored URL (plaintext; test use only, never written to $ALL).
stored_url() { "$CB" conn url "$1" 2>/dev/null; }
# url_part URL user|password
url_part() { python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.unquote(p.username if sys.argv[2]=="user" else p.password))' "$1" "$2"; }
# login_ok URL: exit 0 when URL logs in (sanitized errors go to $ALL).
login_ok() { DB_URL="$1" "$DBT" postgres test-login >>"$ALL" 2>&1; }
# stored_ok NAME: the stored URL of connection NAME logs in; records its password.
stored_ok() {
  local u; u=$(stored_url "$1") || return 1
  remember "$(url_part "$u" password)"
  login_ok "$u"
}
# remember PASSWORD: adds a generated password to the leak list.
# An empty value (a URL that could not be read just then, e.g. a busy store) is never a
# pattern: as one it would match every line and turn the leak check into noise.
remember() { [ -n "$1" ] && [ "$1" != None ] || return 0; grep -qxF -- "$1" "$PWLIST" || printf '%s\n' "$1" >>"$PWLIST"; }
# wait_pause FILE POINT: waits (max 10 s) until a broker writing to FILE stopped at the
# test-only pause POINT (CREDBROKER_TEST_PAUSE_AT).
wait_pause() {
  local i; for i in $(seq 200); do grep -q "test pause at $2" "$1" 2>/dev/null && return 0; sleep 0.05; done; return 1
}
# journal_rows: number of rotations in progress in the store.
journal_rows() { store_sql 'SELECT count(*) FROM rotation_journal' 2>/dev/null; }
