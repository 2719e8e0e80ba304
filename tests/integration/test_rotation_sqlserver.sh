#!/usr/bin/env bash
# Rotation against the SQL Server TDS fake: ALTER LOGIN by an admin login, a login that
# rotates itself (OLD_PASSWORD), alternating users, sp_getapplock exclusion between two
# brokers, and a kill -9 after the password change (resume logs in with the pending one).
# The fake is checked against FreeTDS tsql in test_sqlserver.sh.
# shellcheck source=tests/lib/common.sh disable=SC1091
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/integration/rotation_lib.sh disable=SC1091
source "$CB_ROOT/tests/integration/rotation_lib.sh"
FAKE="$BUILD/fakes/fake_tds"
for b in "$RC" "$DBT" "$CB" "$FAKE"; do [ -x "$b" ] || skip_all "build rotate_cli, db_tool, credbroker and fake_tds first"; done
command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
unset TDSVER
PORT=$(free_port)
SA=$(openssl rand -hex 8); PA=$(openssl rand -hex 8); PS=$(openssl rand -hex 8); PX=$(openssl rand -hex 8); PY=$(openssl rand -hex 8)
printf 'sa:%s:admin\napp:%s\nself:%s\nalt_a:%s\nalt_b:%s\n' "$SA" "$PA" "$PS" "$PX" "$PY" >"$TMP/logins"
chmod 600 "$TMP/logins"
"$FAKE" --port "$PORT" --logins "$TMP/logins" --state-file "$TMP/state" 2>"$TMP/fake.log" &
on_exit "kill $!"
wait_port "$PORT" 10 || { fail "fake_tds starts"; done_testing; exit 1; }
ms_url() { printf 'sqlserver://127.0.0.1:%s;databaseName=master;user=%s;password=%s;encrypt=false' "$PORT" "$1" "$2"; }
ms_login() { DB_URL="$1" "$DBT" sqlserver test-login >>"$ALL" 2>&1; }
ms_stored_ok() { local u; u=$(stored_url "$1") || return 1; remember "$(ms_pw "$u")"; ms_login "$u"; }
ms_pw() { python3 -c 'import sys; print(dict(kv.split("=",1) for kv in sys.argv[1].split(";")[1:] if "=" in kv)["password"])' "$1"; }
ms_user() { python3 -c 'import sys; print(dict(kv.split("=",1) for kv in sys.argv[1].split(";")[1:] if "=" in kv)["user"])' "$1"; }

new_store store
conn_add sa "$(ms_url sa "$SA")"
conn_add app "$(ms_url app "$PA")"
conn_add self "$(ms_url self "$PS")"
conn_add alt "$(ms_url alt_a "$PX")"
POL="$TMP/pol"; mkdir -p "$POL"
printf '{ "credentials": {
  "app-db": { "connection": "app", "admin_connection": "sa", "password": { "length": 24, "classes": ["lower","upper","digit"] } },
  "self-db": { "connection": "self" },
  "alt-db": { "connection": "alt", "admin_connection": "sa", "strategy": "alternating-users", "users": ["alt_a","alt_b"] } } }\n' >"$POL/p.json"

out=$(rot rotate app-db); is "$?" 0 "SQL Server: rotate app-db (ALTER LOGIN by sa) exits 0"
check "the stored URL logs in" ms_stored_ok app
like "$(ms_pw "$(stored_url app)")" '^[A-Za-z0-9]{24}$' "the new password follows the policy"
! ms_login "$(ms_url app "$PA")"; ok $? "the old password is rejected"
out=$(rot rotate self-db); is "$?" 0 "SQL Server: a login rotates itself (OLD_PASSWORD) exits 0"
check "the stored URL logs in" ms_stored_ok self
! ms_login "$(ms_url self "$PS")"; ok $? "the old password is rejected"
like "$(cat "$TMP/fake.log")" "password of login 'self' changed" "the fake saw the self-service change"
out=$(rot rotate alt-db); is "$?" 0 "SQL Server: alternating rotation exits 0"
is "$(ms_user "$(stored_url alt)")" alt_b "the connection moved to alt_b"
check "the stored URL logs in" ms_stored_ok alt
check "alt_a still logs in with its password" ms_login "$(ms_url alt_a "$PX")"

# kill -9 after the password change of a self-rotating login: resume must log in with the pending one
CREDBROKER_TEST_PAUSE_AT=after-set CREDBROKER_TEST_PAUSE_S=30 "$RC" --policies "$POL" rotate self-db >"$TMP/k.out" 2>&1 &
pid=$!
for _ in $(seq 200); do grep -q "test pause at after-set" "$TMP/k.out" && break; sleep 0.05; done
kill -9 "$pid"; wait "$pid" 2>/dev/null; cat "$TMP/k.out" >>"$ALL"
! ms_stored_ok self; ok $? "after the kill the stored (old) URL no longer logs in (set happened)"
is "$(journal_rows)" 1 "the journal holds the rotation"
out=$(rot rotate --resume); is "$?" 0 "rotate --resume exits 0"
like "$out" "resumed from step set" "... resumed from set"
check "the stored URL logs in" ms_stored_ok self

# two brokers: sp_getapplock
CREDBROKER_TEST_PAUSE_AT=after-create CREDBROKER_TEST_PAUSE_S=3 "$RC" --policies "$POL" rotate app-db >"$TMP/a.out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "test pause at after-create" "$TMP/a.out" && break; sleep 0.05; done
out=$(CREDBROKER_DB="$TMP/other.db" bash -c '"$0" init -q && printf "%s" "$1" | "$0" conn add sa && printf "%s" "$2" | "$0" conn add app && "$3" --policies "$4" rotate app-db' \
  "$CB" "$(ms_url sa "$SA")" "$(stored_url app)" "$RC" "$POL" 2>&1); rc=$?
printf '%s\n' "$out" >>"$ALL"
is "$rc" 5 "a second broker (other store) exits 5 while sp_getapplock is held"
wait "$pid"; is "$?" 0 "the first broker finishes"
cat "$TMP/a.out" >>"$ALL"
check "the stored URL logs in" ms_stored_ok app
hit=0; grep -aqF -f "$PWLIST" "$ALL" "$TMP/fake.log" && hit=1
# where it was found (file names and line counts only: never the line itself)
[ "$hit" = 1 ] && diag "found in: $(for f in "$ALL" "$TMP/fake.log"; do n=$(grep -acF -f "$PWLIST" "$f"); [ "$n" -gt 0 ] && printf '%s (%s lines, first at line %s) ' "$(basename "$f")" "$n" "$(grep -anF -f "$PWLIST" "$f" | head -1 | cut -d: -f1)"; done)"
is "$hit" 0 "no generated password in any output or the server log"
is "$(grep -cE 'Sanitizer|runtime error' "$ALL")" 0 "no sanitizer report in any broker output"
done_testing
