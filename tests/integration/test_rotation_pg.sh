#!/usr/bin/env bash
# Rotation against a real PostgreSQL: single-user (admin and self), alternating users
# (users list and a second stored connection), the password policy, two brokers at
# once (same store and two stores), failure paths (policy refusals, database down,
# wrong admin password), the scheduler's catch-up, emergency rotation (sessions ended,
# API keys revoked, incident record), and a leak check over every output, the audit
# log, the store file and the server log (log_statement=all).
# shellcheck source=tests/lib/common.sh disable=SC1091
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/pg.sh disable=SC1091
source "$CB_ROOT/tests/lib/pg.sh"
# shellcheck source=tests/integration/rotation_lib.sh disable=SC1091
source "$CB_ROOT/tests/integration/rotation_lib.sh"
for b in "$RC" "$DBT" "$CB"; do [ -x "$b" ] || skip_all "build rotate_cli, db_tool and credbroker first"; done
command -v pg_config >/dev/null || skip_all "PostgreSQL not installed"
command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
pg_start || skip_all "cannot start PostgreSQL"
new_store store
remember "$PG_ADMIN_PW"

pw() { openssl rand -hex 10; }
P_APP=$(pw); P_SELF=$(pw); P_OA=$(pw); P_OB=$(pw); P_BA=$(pw); P_BB=$(pw); P_GHOST=$(pw)
pg_sql "CREATE ROLE app LOGIN PASSWORD '$P_APP'; CREATE ROLE selfie LOGIN PASSWORD '$P_SELF';
        CREATE ROLE orders_a LOGIN PASSWORD '$P_OA'; CREATE ROLE orders_b LOGIN PASSWORD '$P_OB';
        CREATE ROLE billing_a LOGIN PASSWORD '$P_BA'; CREATE ROLE billing_b LOGIN PASSWORD '$P_BB';
        CREATE ROLE ghost LOGIN PASSWORD '$P_GHOST';" >/dev/null
# from here on the server logs every statement (the initial passwords above are not in it)
pg_sql "ALTER SYSTEM SET log_statement = 'all'" >/dev/null && pg_sql "SELECT pg_reload_conf()" >/dev/null
conn_add pgadmin "$PG_ADMIN_URL"
conn_add app "$(pg_url app "$P_APP")"
conn_add selfie "$(pg_url selfie "$P_SELF")"
conn_add orders "$(pg_url orders_a "$P_OA")"
conn_add billing "$(pg_url billing_a "$P_BA")"
conn_add billing_b "$(pg_url billing_b "$P_BB")"
conn_add badadmin "$(pg_url postgres wrong-admin-password)"
conn_add down "$(pg_url app "$P_APP" "$(free_port)")"
conn_add ghost-target "$(pg_url ghost "$P_GHOST")"

POL="$TMP/pol"; mkdir -p "$POL"
cat >"$POL/10-rot.json" <<'J'
{ "credentials": {
    "app-db":   { "connection": "app", "admin_connection": "pgadmin", "strategy": "single-user",
                  "password": { "length": 40, "classes": ["lower", "digit"], "exclude": "0o1l" } },
    "self-db":  { "connection": "selfie", "strategy": "single-user" },
    "orders-db": { "connection": "orders", "admin_connection": "pgadmin", "strategy": "alternating-users",
                   "users": ["orders_a", "orders_b"] },
    "billing-db": { "connection": "billing", "strategy": "alternating-users", "alternate_connection": "billing_b" },
    "bad-admin-db": { "connection": "ghost-target", "admin_connection": "badadmin" },
    "down-db":  { "connection": "down" },
    "missing-db": { "connection": "no-such-connection" }
} }
J

# --- single-user, admin connection, password policy ------------------------------
out=$(rot rotate app-db); rc=$?
is "$rc" 0 "rotate app-db (single-user, admin) exits 0"
like "$out" "rotated app-db \(single-user, user app\)" "... and says so"
check "the stored URL logs in after the rotation" stored_ok app
NEWP=$(url_part "$(stored_url app)" password)
isnt "$NEWP" "$P_APP" "the stored password changed"
like "$NEWP" '^[a-np-z2-9]{40}$' "the new password follows the policy (40, lower+digit, no 0 o 1 l)"
! login_ok "$(pg_url app "$P_APP")"; ok $? "the old password is rejected"
is "$(journal_rows)" 0 "the journal is empty after a finished rotation"
is "$(store_sql "SELECT count(*) FROM secrets WHERE ns='pending'")" 0 "no pending password is left in the store"
is "$(pg_sql "SELECT substr(rolpassword,1,14) FROM pg_authid WHERE rolname='app'")" "SCRAM-SHA-256\$" "the server holds a SCRAM hash (hashed client-side)"

# --- single-user, the login rotates itself ---------------------------------------
out=$(rot rotate self-db); is "$?" 0 "rotate self-db (the login changes its own password) exits 0"
check "self-db: the stored URL logs in" stored_ok selfie
! login_ok "$(pg_url selfie "$P_SELF")"; ok $? "self-db: the old password is rejected"
out=$(rot --json rotate self-db); is "$?" 0 "a second self rotation (from the rotated password) exits 0"
like "$out" '"outcome":"ok"' "... JSON report with outcome ok"
check "self-db: the stored URL still logs in" stored_ok selfie

# --- alternating users (users list + admin) ---------------------------------------
out=$(rot rotate orders-db); is "$?" 0 "rotate orders-db (alternating) exits 0"
U=$(stored_url orders); is "$(url_part "$U" user)" orders_b "the connection moved to the other login (orders_b)"
check "orders: the stored URL logs in" stored_ok orders
check "orders: the previous login (orders_a) still works with its password" login_ok "$(pg_url orders_a "$P_OA")"
B1=$(url_part "$U" password)
out=$(rot rotate orders-db); is "$?" 0 "a second alternating rotation exits 0"
is "$(url_part "$(stored_url orders)" user)" orders_a "the connection moved back to orders_a"
check "orders: the stored URL logs in" stored_ok orders
check "orders: orders_b keeps the password of the previous rotation" login_ok "$(pg_url orders_b "$B1")"
! login_ok "$(pg_url orders_a "$P_OA")"; ok $? "orders_a's original password no longer works"

# --- alternating users with a second stored connection, no admin ------------------
out=$(rot rotate billing-db); is "$?" 0 "rotate billing-db (alternate_connection, self) exits 0"
is "$(url_part "$(stored_url billing)" user)" billing_b "billing now uses billing_b"
check "billing: the stored URL logs in" stored_ok billing
is "$(url_part "$(stored_url billing_b)" user)" billing_a "the alternate connection now holds billing_a"
check "billing_b connection (billing_a, old password) still logs in" stored_ok billing_b
out=$(rot rotate billing-db); is "$?" 0 "billing-db rotates back"
check "billing: the stored URL logs in after the second rotation" stored_ok billing
check "billing_b connection logs in after the second rotation" stored_ok billing_b

# --- failure paths ------------------------------------------------------------------
audit_count() { "$CB" audit list --limit 0 --json 2>/dev/null | python3 -c 'import json,sys; print(len([a for a in json.load(sys.stdin) if a["action"].startswith("rotate")]))'; }
A0=$(audit_count)
out=$(rot rotate nope-db); rc=$?
is "$rc" 2 "a credential not in the policy: exit 2"
like "$out" "not in the policy" "... with a clear message"
out=$(rot rotate missing-db); rc=$?
is "$rc" 2 "a missing connection: exit 2"
like "$out" "connection 'no-such-connection' is not stored" "... naming the connection"
out=$(rot rotate bad-admin-db); rc=$?
is "$rc" 1 "a wrong admin password: exit 1"
like "$out" "admin connection badadmin: connection failed: .*password authentication failed" "... one clear line"
is "$(journal_rows)" 0 "... nothing journaled"
check "... the target still logs in with its stored URL" stored_ok ghost-target
out=$(rot rotate down-db); rc=$?
is "$rc" 1 "database down: exit 1"
like "$out" "connection down: connection failed" "... one clear line"
is "$(journal_rows)" 0 "... nothing journaled"
mkdir -p "$TMP/polssl"; cp "$POL/10-rot.json" "$TMP/polssl/"
printf '{ "requirements": { "min_sslmode": "require" } }\n' >"$TMP/polssl/00-req.json"
out=$("$RC" --policies "$TMP/polssl" rotate app-db 2>&1); rc=$?; printf '%s\n' "$out" >>"$ALL"
is "$rc" 2 "min_sslmode=require and a URL with sslmode=disable: exit 2"
like "$out" "sslmode=disable, below requirements.min_sslmode=require" "... the reason"
check "... the credential is unchanged and logs in" stored_ok app
A1=$(audit_count)
is "$((A1 - A0))" 5 "every failure left one audit entry"
AUD=$("$CB" audit list --limit 0 --json 2>&1); printf '%s\n' "$AUD" >>"$ALL"
like "$AUD" '"action":"rotate","target":"bad-admin-db","outcome":"error"' "audit: the wrong admin password is recorded as an error"
like "$AUD" '"target":"nope-db","outcome":"denied"' "audit: the policy refusal is recorded as denied"

# --- two brokers at once ------------------------------------------------------------
# Same store: the first pauses inside the rotation (holding the database lock).
CREDBROKER_TEST_PAUSE_AT=after-create CREDBROKER_TEST_PAUSE_S=3 "$RC" --policies "$POL" rotate app-db >"$TMP/a.out" 2>&1 &
APID=$!
for _ in $(seq 100); do grep -q "test pause at after-create" "$TMP/a.out" && break; sleep 0.05; done
out=$(rot rotate app-db); rc=$?
is "$rc" 5 "same store: the second broker exits 5 (rotation in progress)"
like "$out" "rotation of app-db is already in progress" "... and says so"
wait "$APID"; is "$?" 0 "the first broker finishes its rotation"
cat "$TMP/a.out" >>"$ALL"
check "both end with a working stored credential" stored_ok app
# Two stores over the same database (alternating: each store keeps a login that works).
STORE1=$CREDBROKER_DB
export CREDBROKER_DB="$TMP/store2.db"; "$CB" init -q
conn_add pgadmin "$PG_ADMIN_URL"
printf '%s' "$(stored_url orders --db "$STORE1" 2>/dev/null || CREDBROKER_DB=$STORE1 "$CB" conn url orders)" | "$CB" conn add orders >>"$ALL" 2>&1
CREDBROKER_DB=$STORE1 CREDBROKER_TEST_PAUSE_AT=after-set CREDBROKER_TEST_PAUSE_S=3 "$RC" --policies "$POL" rotate orders-db >"$TMP/b.out" 2>&1 &
APID=$!
for _ in $(seq 100); do grep -q "test pause at after-set" "$TMP/b.out" && break; sleep 0.05; done
out=$(rot rotate orders-db); rc=$?
is "$rc" 5 "two stores: the second broker exits 5 (database lock held)"
like "$out" "another broker holds the database lock" "... and says why"
wait "$APID"; is "$?" 0 "the first broker finishes"
cat "$TMP/b.out" >>"$ALL"
check "store 2 ends with a working credential" stored_ok orders
export CREDBROKER_DB=$STORE1
check "store 1 ends with a working credential" stored_ok orders
# The race of simultaneous starts, made deterministic: the first broker is held (test-only
# pause) between reading the stored credential and journaling, the second rotates
# meanwhile; the first must then report it (5), not fail logging in with the old password.
CREDBROKER_TEST_PAUSE_AT=after-read-credential CREDBROKER_TEST_PAUSE_S=60 CREDBROKER_TEST_PAUSE_UNTIL="$TMP/go.c0" \
  "$RC" --policies "$POL" rotate self-db >"$TMP/c0.out" 2>&1 &
APID=$!
wait_pause "$TMP/c0.out" after-read-credential; ok $? "self-db: the first broker holds the credential it read (test pause)"
out=$(rot rotate self-db); is "$?" 0 "... the second broker rotates meanwhile"
touch "$TMP/go.c0"
wait "$APID"; R1=$?
cat "$TMP/c0.out" >>"$ALL"
is "$R1" 5 "... the first then exits 5 (rotated by another broker just now), not 1"
check "... and the stored credential logs in" stored_ok selfie
# Truly simultaneous starts: never two rotations, never a lost credential.
"$RC" --policies "$POL" rotate self-db >"$TMP/c1.out" 2>&1 & P1=$!
"$RC" --policies "$POL" rotate self-db >"$TMP/c2.out" 2>&1 & P2=$!
wait "$P1"; R1=$?; wait "$P2"; R2=$?
cat "$TMP/c1.out" "$TMP/c2.out" >>"$ALL"
ok "$([ "$R1" -eq 0 ] || [ "$R2" -eq 0 ]; echo $?)" "simultaneous starts: at least one rotates (exits $R1 $R2)"
ok "$( { [ "$R1" -eq 0 ] || [ "$R1" -eq 5 ]; } && { [ "$R2" -eq 0 ] || [ "$R2" -eq 5 ]; }; echo $?)" "... the other rotates after it or reports in progress"
check "... and the stored credential logs in" stored_ok selfie

# --- scheduler: catch up once -------------------------------------------------------
SP="$TMP/polsched"; mkdir -p "$SP"
printf '{ "credentials": { "sched-db": { "connection": "app", "admin_connection": "pgadmin", "schedule": "0 3 * * *" } } }\n' >"$SP/s.json"
out=$(CREDBROKER_NOW=2030-01-01T00:00:00Z "$RC" --policies "$SP" --json rotate --due 2>&1); rc=$?; printf '%s\n' "$out" >>"$ALL"
is "$rc" 0 "rotate --due on first sight: exit 0"
like "$out" '"rotations":\[\]' "... nothing is due yet (the schedule starts now)"
out=$(CREDBROKER_NOW=2030-01-01T00:00:00Z "$RC" --policies "$SP" --json schedule list 2>&1); printf '%s\n' "$out" >>"$ALL"
like "$out" '"next_run":"2030-01-01T03:00:00Z"' "schedule list: next run 03:00"
out=$(CREDBROKER_NOW=2030-01-05T12:00:00Z "$RC" --policies "$SP" --json rotate --due 2>&1); rc=$?; printf '%s\n' "$out" >>"$ALL"
is "$rc" 0 "four days later rotate --due exits 0"
is "$(python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])["rotations"]))' "$out")" 1 "... and rotates once, not four times"
check "... the stored URL logs in" stored_ok app
out=$(CREDBROKER_NOW=2030-01-05T12:00:00Z "$RC" --policies "$SP" schedule list 2>&1); printf '%s\n' "$out" >>"$ALL"
like "$out" "sched-db +0 3 \* \* \* +2030-01-05T12:00:00Z +2030-01-05T12:00:00Z +2030-01-06T03:00:00Z +ok" "schedule list: last run, last success, next run from the last success, result"
out=$(CREDBROKER_NOW=2030-01-05T12:30:00Z "$RC" --policies "$SP" --json rotate --due 2>&1); printf '%s\n' "$out" >>"$ALL"
like "$out" '"rotations":\[\]' "nothing due again until the next slot"
out=$(CREDBROKER_NOW=2030-01-06T03:00:30Z "$RC" --policies "$SP" tick 2>&1); rc=$?; printf '%s\n' "$out" >>"$ALL"
is "$rc" 0 "scheduler_tick (serve's entry point) at the next slot exits 0"
like "$out" '"scheduled":true' "... and rotates"
check "... the stored URL logs in" stored_ok app

# --- emergency rotation ---------------------------------------------------------------
EP="$TMP/polemerg"; mkdir -p "$EP"
printf '{ "credentials": { "app-db": { "connection": "app", "admin_connection": "pgadmin" },
   "orders-db": { "connection": "orders", "admin_connection": "pgadmin", "strategy": "alternating-users", "users": ["orders_a","orders_b"] } } }\n' >"$EP/e.json"
OA_NOW=$(stored_url orders)
for u in "$(stored_url app)" "$OA_NOW"; do
  PGCONNECT_TIMEOUT=5 psql -X -q "$u" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
  on_exit "kill $! 2>/dev/null"
done
for _ in $(seq 50); do [ "$(pg_sql "SELECT count(*) FROM pg_stat_activity WHERE usename IN ('app','orders_a','orders_b') AND query LIKE '%pg_sleep%'")" -ge 2 ] && break; sleep 0.1; done
now=$(date +%s)
store_sql "INSERT INTO api_keys(name, policy, hash, prefix, created_at) VALUES ('k1','local',$(blob_lit 00),'cbk_1',$now),('k2','analyst',$(blob_lit 01),'cbk_2',$now)"
out=$("$RC" --policies "$EP" --json emergency-rotate --all --incident INC-42 --reason "laptop stolen" --revoke-api-keys 2>&1); rc=$?
printf '%s\n' "$out" >>"$ALL"
is "$rc" 0 "emergency-rotate --all --revoke-api-keys exits 0"
J() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$out" "$1"; }
is "$(J 'sorted(d["rotated"])')" "['app-db', 'orders-db']" "... both credentials rotated"
ok "$([ "$(J 'd["sessions_ended_total"]')" -ge 2 ]; echo $?)" "... the held sessions were ended ($(J 'd["sessions_ended_total"]'))"
is "$(J 'd["api_keys_revoked"]')" 2 "... 2 API keys revoked"
is "$(store_sql 'SELECT count(*) FROM api_keys WHERE revoked_at IS NULL')" 0 "every API key row has revoked_at"
is "$(pg_sql "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()")" 0 "no session of the affected users is left"
check "app: the stored URL logs in" stored_ok app
check "orders: the stored URL logs in" stored_ok orders
! login_ok "$OA_NOW"; ok $? "alternating: the login in use before the incident no longer works (both logins rotated)"
AUD=$("$CB" audit list --limit 0 --json 2>&1); printf '%s\n' "$AUD" >>"$ALL"
like "$AUD" '"action":"incident","target":"INC-42","outcome":"ok"' "the audit log holds the incident record"
like "$AUD" '"reason":"laptop stolen"' "... with the reason"
like "$AUD" '"action":"rotate.emergency"' "... and each emergency rotation"
printf '{ "credentials": { "missing-db": { "connection": "no-such-connection" } } }\n' >"$EP/f.json"
out=$("$RC" --policies "$EP" emergency-rotate --all --incident INC-43 --reason "drill" 2>&1); rc=$?
printf '%s\n' "$out" >>"$ALL"
is "$rc" 1 "emergency-rotate exits 1 when one credential fails"
like "$out" "FAILED rotate missing-db" "... naming what was not done"
like "$out" "NOT everything was done" "... and saying so"
AUD=$("$CB" audit list --limit 0 --json 2>&1); printf '%s\n' "$AUD" >>"$ALL"
like "$AUD" '"target":"INC-43","outcome":"partial"' "the partial incident is recorded"
expect_exit 2 "emergency-rotate without --incident is a usage error" "$RC" --policies "$EP" emergency-rotate --all --reason x

# --- leak check -------------------------------------------------------------------------
for c in app selfie orders billing billing_b; do remember "$(url_part "$(stored_url "$c")" password)"; done
"$CB" audit list --limit 0 --json >"$TMP/audit.json" 2>&1
NPW=$(grep -c . "$PWLIST")
diag "leak check over $NPW passwords (generated and initial)"
hit=0
for f in "$ALL" "$TMP/audit.json" "$PGSOCK/server.log" $(store_files "$CREDBROKER_DB" "$TMP/store2.db"); do
  if grep -aqF -f "$PWLIST" "$f"; then hit=1; diag "password found in $f"; fi
done
is "$hit" 0 "no password in any output, the audit log, the store files or the PostgreSQL log"
ok "$(grep -q "ALTER ROLE" "$PGSOCK/server.log"; echo $?)" "the server log did record the ALTER ROLE statements (log_statement=all)"
is "$(grep -cE 'Sanitizer|runtime error' "$ALL")" 0 "no sanitizer report in any broker output"
done_testing
