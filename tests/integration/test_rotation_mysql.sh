#!/usr/bin/env bash
# Rotation against a real MariaDB through `credbroker rotate`: single-user with an admin
# connection, self-rotation (SET PASSWORD), alternating users (users list + admin, and a
# second stored connection), a user with accounts for several hosts (the one the
# connection logs in as is rotated, and the log says which), a user name over the
# server's limit (a policy error before anything changes), GET_LOCK between two brokers,
# emergency rotation (KILL CONNECTION of the user's sessions), and the leak check: no
# password in any output, the store, the audit log, or MariaDB's general query log
# (general_log=ON), which does record plaintext for IDENTIFIED BY '...' (checked here).
# shellcheck source=tests/lib/common.sh disable=SC1091
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/mariadb.sh disable=SC1091
source "$CB_ROOT/tests/lib/mariadb.sh"
# shellcheck source=tests/integration/rotation_lib.sh disable=SC1091
source "$CB_ROOT/tests/integration/rotation_lib.sh"
for b in "$DBT" "$CB"; do [ -x "$b" ] || skip_all "build db_tool and credbroker first"; done
command -v mariadb-install-db >/dev/null || skip_all "mariadb-server not installed (make deps)"
command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
my_start || skip_all "cannot start mariadbd"
new_store store
remember "$MY_ADMIN_PW"

# MariaDB flavours of the shared helpers
my_url() { printf 'mysql://%s:%s@127.0.0.1:%s/app?ssl-mode=DISABLED&connect-timeout=5' "$(urlenc "$1")" "$(urlenc "$2")" "${3:-$MYPORT}"; }
login_ok() { DB_URL="$1" "$DBT" mysql test-login >>"$ALL" 2>&1; }
# crb ARGS...: credbroker --policies $POL ARGS, output kept in $ALL and printed.
crb() { local out rc; out=$("$CB" --policies "$POL" "$@" 2>&1); rc=$?; printf '%s\n' "$out" >>"$ALL"; snapshot; printf '%s\n' "$out"; return $rc; }

pw() { openssl rand -hex 10; }
P_APP=$(pw); P_SELF=$(pw); P_OA=$(pw); P_OB=$(pw); P_BA=$(pw); P_BB=$(pw); P_M1=$(pw); P_M2=$(pw); P_EM=$(pw)
for p in "$P_APP" "$P_SELF" "$P_OA" "$P_OB" "$P_BA" "$P_BB" "$P_M1" "$P_M2" "$P_EM"; do remember "$p"; done
my_sql "CREATE DATABASE app;
CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY '$P_APP'; CREATE USER 'selfie'@'127.0.0.1' IDENTIFIED BY '$P_SELF';
CREATE USER 'orders_a'@'127.0.0.1' IDENTIFIED BY '$P_OA'; CREATE USER 'orders_b'@'127.0.0.1' IDENTIFIED BY '$P_OB';
CREATE USER 'billing_a'@'127.0.0.1' IDENTIFIED BY '$P_BA'; CREATE USER 'billing_b'@'127.0.0.1' IDENTIFIED BY '$P_BB';
CREATE USER 'multi'@'127.0.0.1' IDENTIFIED BY '$P_M1'; CREATE USER 'multi'@'%' IDENTIFIED BY '$P_M2';
CREATE USER 'multi'@'10.%' IDENTIFIED BY '$P_M2'; CREATE USER 'emerg'@'127.0.0.1' IDENTIFIED BY '$P_EM';
GRANT SELECT ON app.* TO 'app'@'127.0.0.1', 'selfie'@'127.0.0.1', 'orders_a'@'127.0.0.1', 'orders_b'@'127.0.0.1',
  'billing_a'@'127.0.0.1', 'billing_b'@'127.0.0.1', 'multi'@'127.0.0.1', 'emerg'@'127.0.0.1';" || { fail "fixture"; done_testing; exit 1; }
# from here on the server logs every statement it receives (the passwords above are not in it)
my_sql "SET GLOBAL general_log_file = '$MYDIR/general.log'; SET GLOBAL general_log = ON"
conn_add myadmin "$MY_ADMIN_URL"
conn_add app "$(my_url app "$P_APP")"
conn_add selfie "$(my_url selfie "$P_SELF")"
conn_add orders "$(my_url orders_a "$P_OA")"
conn_add billing "$(my_url billing_a "$P_BA")"
conn_add billing_b "$(my_url billing_b "$P_BB")"
conn_add multi "$(my_url multi "$P_M1")"
conn_add emerg "$(my_url emerg "$P_EM")"
conn_add lite "$TMP/lite.db"
sqlite3 "$TMP/lite.db" "CREATE TABLE t(a)"
LONG=$(printf 'u%.0s' $(seq 129))
conn_add longuser "$(my_url "$LONG" "$P_APP")"

POL="$TMP/pol"; mkdir -p "$POL"
cat >"$POL/10-rot.json" <<J
{ "credentials": {
    "app-db":    { "connection": "app", "admin_connection": "myadmin", "strategy": "single-user",
                   "password": { "length": 40, "classes": ["lower", "digit"], "exclude": "0o1l" } },
    "self-db":   { "connection": "selfie", "strategy": "single-user" },
    "orders-db": { "connection": "orders", "admin_connection": "myadmin", "strategy": "alternating-users",
                   "users": ["orders_a", "orders_b"] },
    "billing-db": { "connection": "billing", "strategy": "alternating-users", "alternate_connection": "billing_b" },
    "multi-db":  { "connection": "multi", "admin_connection": "myadmin" },
    "long-db":   { "connection": "longuser", "admin_connection": "myadmin" },
    "lite-db":   { "connection": "lite" },
    "emerg-db":  { "connection": "emerg", "admin_connection": "myadmin" }
} }
J

# --- single-user with the admin connection ------------------------------------------------
out=$(crb rotate app-db); rc=$?
is "$rc" 0 "credbroker rotate app-db (mysql://, admin connection) exits 0"
like "$out" "rotated app-db \(single-user, user app\)" "... and says so"
check "the stored URL logs in after the rotation" stored_ok app
NEWP=$(url_part "$(stored_url app)" password)
like "$NEWP" '^[a-np-z2-9]{40}$' "the new password follows the policy"
! login_ok "$(my_url app "$P_APP")"; ok $? "the old password is rejected"
is "$(journal_rows)" 0 "the journal is empty afterwards"
is "$(my_sql "SELECT plugin, authentication_string LIKE '*%' FROM mysql.user WHERE user='app'")" "mysql_native_password	1" "the server holds a mysql_native_password hash"

# --- this server has no TLS: PREFERRED (the default) falls back, REQUIRED refuses ---------------
out=$(DB_URL="mysql://root:$MY_ADMIN_PW@127.0.0.1:$MYPORT/mysql" "$DBT" mysql query-ro "SHOW SESSION STATUS LIKE 'Ssl_version'" 2>&1)
like "$out" '\["Ssl_version",""\]' "no ssl-mode (PREFERRED) against a server without TLS: plaintext session"
out=$(DB_URL="mysql://root:$MY_ADMIN_PW@127.0.0.1:$MYPORT/mysql?ssl-mode=REQUIRED" "$DBT" mysql test-login 2>&1); rc=$?
ok "$([ $rc -ne 0 ]; echo $?)" "ssl-mode=REQUIRED against a server without TLS is refused"
like "$out" "requires TLS|SSL|TLS" "... with a clear message"

# --- self-rotation (no admin): SET PASSWORD ----------------------------------------------------
out=$(crb rotate self-db); is "$?" 0 "self-rotation exits 0"
check "self-db: the stored URL logs in" stored_ok selfie
! login_ok "$(my_url selfie "$P_SELF")"; ok $? "self-db: the old password is rejected"
out=$(crb --json rotate self-db); is "$?" 0 "a second self-rotation (from the rotated password) exits 0"
like "$out" '"outcome":"ok"' "... outcome ok"
check "self-db: the stored URL still logs in" stored_ok selfie

# --- alternating users --------------------------------------------------------------------------
out=$(crb rotate orders-db); is "$?" 0 "alternating users (users list + admin) exits 0"
is "$(url_part "$(stored_url orders)" user)" orders_b "the connection moved to orders_b"
check "orders: the stored URL logs in" stored_ok orders
check "orders_a still logs in with its password" login_ok "$(my_url orders_a "$P_OA")"
out=$(crb rotate orders-db); is "$?" 0 "a second alternating rotation exits 0"
is "$(url_part "$(stored_url orders)" user)" orders_a "the connection moved back to orders_a"
check "orders: the stored URL logs in" stored_ok orders
! login_ok "$(my_url orders_a "$P_OA")"; ok $? "orders_a's original password no longer works"
out=$(crb rotate billing-db); is "$?" 0 "alternating users with a second stored connection (self) exits 0"
is "$(url_part "$(stored_url billing)" user)" billing_b "billing now uses billing_b"
check "billing: the stored URL logs in" stored_ok billing
check "billing_b connection (billing_a) still logs in" stored_ok billing_b

# --- one user, several hosts ------------------------------------------------------------------------
H0=$(my_sql "SELECT host, authentication_string FROM mysql.user WHERE user='multi' AND host <> '127.0.0.1' ORDER BY host")
out=$("$CB" -v --policies "$POL" rotate multi-db 2>&1); rc=$?; printf '%s\n' "$out" >>"$ALL"; snapshot
is "$rc" 0 "rotating a user that has accounts for 3 hosts exits 0"
like "$out" "password of 'multi'@'127.0.0.1' changed \(by the admin connection; 3 accounts named multi\)" "... and says which account changed"
check "multi: the stored URL logs in" stored_ok multi
is "$(my_sql "SELECT host, authentication_string FROM mysql.user WHERE user='multi' AND host <> '127.0.0.1' ORDER BY host")" "$H0" "the '%' and '10.%' accounts are untouched"

# --- policy errors --------------------------------------------------------------------------------------
out=$(crb rotate long-db); rc=$?
is "$rc" 2 "a user name longer than MariaDB's 128 characters: exit 2 (policy)"
like "$out" "policy: credential long-db: user name u+\.\.\. is 129 characters, longer than MariaDB's limit of 128" "... a clear policy error"
is "$(journal_rows)" 0 "... nothing journaled (not a failed rotation)"
like "$(cat "$TMP/audit-long" 2>/dev/null; "$CB" audit list --limit 0 --json 2>/dev/null)" '"target":"long-db","outcome":"denied"' "... audited as denied"
out=$(crb rotate lite-db); rc=$?
is "$rc" 2 "rotating a SQLite connection: exit 2"
like "$out" "SQLite, which has no logins or passwords: rotation does not apply" "... says rotation does not apply"
mkdir -p "$TMP/polssl"; cp "$POL/10-rot.json" "$TMP/polssl/"
printf '{ "requirements": { "min_sslmode": "require" } }\n' >"$TMP/polssl/00-req.json"
out=$("$CB" --policies "$TMP/polssl" rotate app-db 2>&1); rc=$?; printf '%s\n' "$out" >>"$ALL"
is "$rc" 2 "min_sslmode=require and ssl-mode=DISABLED: exit 2"
like "$out" "ssl-mode=DISABLED, below requirements.min_sslmode=require" "... names ssl-mode"

# --- GET_LOCK: two stores, one database -------------------------------------------------------------------
STORE1=$CREDBROKER_DB
# the second store is made before the first broker pauses, so its 3 s are the lock's alone
# (init and two conn adds take longer than that on a loaded machine's PostgreSQL store)
export CREDBROKER_DB="$TMP/store2.db"; "$CB" init -q
conn_add myadmin "$MY_ADMIN_URL"
printf '%s' "$(CREDBROKER_DB=$STORE1 "$CB" conn url app 2>/dev/null)" | "$CB" conn add app >>"$ALL" 2>&1
CREDBROKER_DB=$STORE1 CREDBROKER_TEST_PAUSE_AT=after-set CREDBROKER_TEST_PAUSE_S=3 "$CB" --policies "$POL" rotate app-db >"$TMP/b.out" 2>&1 &
APID=$!
for _ in $(seq 100); do grep -q "test pause at after-set" "$TMP/b.out" && break; sleep 0.05; done
out=$(crb rotate app-db); rc=$?
is "$rc" 5 "a second broker (other store) exits 5 while the first holds GET_LOCK"
like "$out" "another broker holds the database lock" "... and says why"
export CREDBROKER_DB=$STORE1
wait "$APID"; is "$?" 0 "the first broker finishes"
cat "$TMP/b.out" >>"$ALL"
check "store 1 ends with a working credential" stored_ok app

# --- emergency rotation: KILL CONNECTION of the user's sessions ---------------------------------------------
EU=$(stored_url emerg)
for i in 1 2; do
  mariadb --no-defaults -h127.0.0.1 -P"$MYPORT" -uemerg -p"$(url_part "$EU" password)" -e "SELECT SLEEP(60)" >/dev/null 2>&1 &
  on_exit "kill $! 2>/dev/null"
done
for _ in $(seq 50); do [ "$(my_sql "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE user='emerg'")" -ge 2 ] && break; sleep 0.1; done
EP="$TMP/polemerg"; mkdir -p "$EP"
printf '{ "credentials": { "emerg-db": { "connection": "emerg", "admin_connection": "myadmin" } } }\n' >"$EP/e.json"
out=$("$CB" --policies "$EP" --json emergency-rotate emerg-db --incident INC-7 --reason "leaked" 2>&1); rc=$?
printf '%s\n' "$out" >>"$ALL"; snapshot
is "$rc" 0 "emergency-rotate exits 0"
like "$out" '"sessions_ended_total":2' "... ended the 2 open sessions (KILL CONNECTION)"
is "$(my_sql "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE user='emerg'")" 0 "no session of emerg is left"
check "emerg: the stored URL logs in" stored_ok emerg

# --- leak check, including MariaDB's general query log --------------------------------------------------------
for c in app selfie orders billing billing_b multi emerg; do remember "$(url_part "$(stored_url "$c")" password)"; done
"$CB" audit list --limit 0 --json >"$TMP/audit.json" 2>&1
my_sql "SET GLOBAL general_log = OFF"
diag "leak check over $(grep -c . "$PWLIST") passwords; general log: $(wc -l <"$MYDIR/general.log") lines"
hit=0
for f in "$ALL" "$TMP/audit.json" "$MYDIR/general.log" "$MYDIR/error.log" $(store_files "$CREDBROKER_DB" "$TMP/store2.db"); do
  if grep -aqF -f "$PWLIST" "$f"; then hit=1; diag "password found in $f"; fi
done
is "$hit" 0 "no password in any output, the audit log, the store files, or MariaDB's general and error logs"
like "$(grep -c "IDENTIFIED BY PASSWORD '\*[0-9A-F]\{40\}'" "$MYDIR/general.log")" '^[1-9]' "the general log did record the ALTER USER statements (hash only)"
like "$(grep -c "SET PASSWORD = '\*[0-9A-F]\{40\}'" "$MYDIR/general.log")" '^[1-9]' "... and the self-rotations' SET PASSWORD (hash only)"
# the fact that makes client-side hashing necessary
CANARY="canary-$(openssl rand -hex 8)"
my_sql "SET GLOBAL general_log = ON; ALTER USER 'app'@'127.0.0.1' IDENTIFIED BY '$CANARY'; SET GLOBAL general_log = OFF"
ok "$(grep -qF "$CANARY" "$MYDIR/general.log"; echo $?)" "MariaDB logs IDENTIFIED BY '<plaintext>' verbatim (why the broker sends a hash)"
done_testing
